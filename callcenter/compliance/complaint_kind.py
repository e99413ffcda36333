"""An oral complaint not settled in its period continues as a written one.

POJK 18/POJK.07/2018 art. 34 (kept by POJK 22/2023): a complaint made orally (phone, walk-in;
P1, P4) that cannot be settled within its oral period is handled as a written complaint. Here
that means, for each such ticket, once:

* ``Ticket.kind`` becomes ``written`` and ``converted_at`` records when (migration 0005); the
  channel stays what it was (where the complaint came in);
* ``due_at`` becomes the written deadline :func:`regulation.oral_overdue_becomes_written`
  decides (``None`` while documents the agent asked for are outstanding: the written clock
  starts when they are complete);
* the customer is told **in writing** that the complaint continues as a written one and by
  when it will be settled — an SMS to the ticket's phone (outbox, ``social.queue_reply``), or,
  without a phone, an email to its address (outbox, ``email_outbound.queue_email``);
* an audit row (actor ``system:sweep``) records the change, with no personal data.

The conversion is claimed with a conditional ``UPDATE … WHERE kind = 'oral'``: two sweeps
running at once convert (and notify) once. Nothing here commits or enqueues: the sweep commits,
then enqueues the send jobs (``workers.sweeps.convert_overdue_oral``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.channels import email_outbound, email_threading, social
from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.models import Ticket
from callcenter.statuses import OPEN_TICKET_STATUSES
from callcenter.voice.answers import long_date

ACTOR = "system:sweep"
ACTION = "convert_to_written"

# The written notice (POJK: the customer is told in writing). Plain text for SMS and email.
_NOTICE = {
    "id": ("{lender}: pengaduan Anda dengan nomor tiket {ticket} belum dapat kami selesaikan "
           "dalam {oral_days} hari kerja. Sesuai ketentuan OJK, pengaduan Anda kini kami "
           "tangani sebagai pengaduan tertulis {deadline}. Anda tidak perlu mengadu ulang; "
           "sebutkan nomor tiket {ticket} bila menghubungi kami."),
    "en": ("{lender}: we could not settle your complaint with ticket number {ticket} within "
           "{oral_days} working days. As OJK rules provide, we now handle it as a written "
           "complaint {deadline}. You need not complain again; quote ticket number {ticket} "
           "when you contact us."),
}
_DEADLINE = {
    "id": "dan akan menyelesaikannya paling lambat {due_date}",
    "en": "and will settle it by {due_date}",
}
_DEADLINE_AFTER_DOCUMENTS = {
    "id": ("dan akan menyelesaikannya paling lambat {written_days} hari kerja setelah dokumen "
           "pendukung yang kami minta lengkap"),
    "en": ("and will settle it within {written_days} working days of receiving the supporting "
           "documents we asked for"),
}
_SUBJECT = {
    "id": "Pengaduan Anda dilanjutkan sebagai pengaduan tertulis",
    "en": "Your complaint continues as a written complaint",
}


@dataclass(frozen=True)
class Converted:
    """One conversion: the outbox row to send once committed (at most one of the two)."""

    ticket_id: int
    number: str
    written_due_at: datetime | None
    message_id: int | None = None
    email_id: int | None = None


def candidates(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Ids of unsettled oral tickets whose stored deadline has passed, oldest first.

    Only these are read: the index on (status, due_at) keeps this cheap on a large table.
    """
    return list(session.scalars(
        select(Ticket.id).where(Ticket.kind == "oral",
                                Ticket.status.in_(OPEN_TICKET_STATUSES),
                                Ticket.due_at < now)
        .order_by(Ticket.due_at, Ticket.id).limit(limit)))


def notice_text(settings: Settings, ticket: Ticket, written_due_at: datetime | None) -> str:
    """The customer's written notice, in the ticket's language, with the new deadline."""
    lang = ticket.language if ticket.language in _NOTICE else "id"
    rules = regulation.rules_for(settings)
    if written_due_at is None:
        deadline = _DEADLINE_AFTER_DOCUMENTS[lang].format(written_days=rules.written_days)
    else:
        day = written_due_at.astimezone(ZoneInfo(settings.timezone)).date()
        deadline = _DEADLINE[lang].format(due_date=long_date(day, lang))
    return _NOTICE[lang].format(lender=settings.lender_name, ticket=ticket.number or "",
                                oral_days=rules.oral_days, deadline=deadline)


def convert(session: Session, settings: Settings, ticket: Ticket, now: datetime,
            actor: str = ACTOR) -> Converted | None:
    """Turn ``ticket`` written if its oral period ended unsettled; ``None`` when it is not due
    (or another sweep converted it first). Flushes, never commits.

    An oral ticket whose stored ``due_at`` is earlier than its oral deadline under today's
    settings (a company day off declared after it was opened) gets that deadline stored, so
    it stops being a candidate until then.
    """
    decision = regulation.oral_overdue_becomes_written(ticket, now, settings)
    if not decision.convert:
        if regulation.ticket_kind(ticket) == "oral" and decision.oral_due_at is not None and (
                ticket.due_at is None or ticket.due_at < decision.oral_due_at):
            ticket.due_at = decision.oral_due_at
            session.flush()
        return None
    claimed = session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.kind == "oral")
        .values(kind="written", converted_at=now, due_at=decision.written_due_at)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(ticket)
        return None
    session.refresh(ticket)
    text = notice_text(settings, ticket, decision.written_due_at)
    message_id = email_id = None
    try:
        message = social.queue_reply(session, ticket, channel="sms", text=text, now=now,
                                     asks_customer=False)
        message_id = message.id
    except ValueError:  # no phone on the ticket: write by email, if it has an address
        email_id = _queue_email_notice(session, settings, ticket, text)
    sent = (f"sms #{message_id}" if message_id else
            f"email #{email_id}" if email_id else "none: no phone or email on the ticket")
    oral_due = decision.oral_due_at.isoformat() if decision.oral_due_at else "-"
    written_due = (decision.written_due_at.isoformat() if decision.written_due_at
                   else "when the documents are complete")
    audit.record(session, actor, ACTION, f"ticket:{ticket.number}",
                 f"oral period ended {oral_due}; written due {written_due}; notice: {sent}")
    session.flush()
    return Converted(ticket.id, ticket.number or "", decision.written_due_at,
                     message_id=message_id, email_id=email_id)


def _queue_email_notice(session: Session, settings: Settings, ticket: Ticket,
                        text: str) -> int | None:
    address = email_outbound.reply_address(session, ticket)
    if not address:
        return None
    lang = ticket.language if ticket.language in _SUBJECT else "id"
    answered = email_outbound.last_customer_email(session, ticket)
    in_reply_to, references = email_outbound.thread_headers(answered)
    email = email_outbound.queue_email(
        session, settings, ticket=ticket, to=address,
        subject=email_threading.tag_subject(_SUBJECT[lang], ticket.number or ""),
        body=f"{text}\n\n-- \n{settings.lender_name} Customer Service\n",
        in_reply_to=in_reply_to, references=references)
    return email.id
