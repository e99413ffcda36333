"""One ticket as the console's ticket page shows it, without Flask.

:func:`load_ticket` + :func:`timeline`: the ticket with everything that happened on it, every
contact (X2: calls and their legs, emails, messages, visits, callback attempts), the callbacks
owed, documents received and replies still in the outbox, merged by time. The ticket's
relations are loaded in a fixed handful of queries (no N+1). Nothing here writes.

Each entry's ``label`` is a :class:`~callcenter.i18n.Msg`: English as a string, translated
into the reader's language where the console shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from callcenter.channels import email_inbound
from callcenter.channels.sanitize import safe_html
from callcenter.i18n import Msg, from_record
from callcenter.labels import label as code_label
from callcenter.models import (
    Callback,
    Contact,
    Document,
    Note,
    OutboundEmail,
    OutboundMessage,
    Ticket,
    User,
)
from callcenter.statuses import OutboxStatus
from callcenter.tickets.numbers import is_well_formed


def load_ticket(session: Session, number: str) -> Ticket | None:
    """The ticket with its customer, contacts (and their agents), callbacks and required
    documents and notes, in six queries whatever their number; None when the number is not
    well-formed (check digit) or unknown."""
    if not isinstance(number, str) or not is_well_formed(number):
        return None
    return session.scalars(
        select(Ticket).where(Ticket.number == number).options(
            joinedload(Ticket.customer),
            selectinload(Ticket.contacts).joinedload(Contact.agent),
            selectinload(Ticket.callbacks),
            selectinload(Ticket.required_documents),
            selectinload(Ticket.notes),
        )).first()


@dataclass(frozen=True)
class DocumentInfo:
    """A received document without its bytes (they can be megabytes)."""

    id: int
    filename: str
    content_type: str
    size: int
    source: str
    received_at: datetime


@dataclass(frozen=True)
class OutboxInfo:
    """A reply written to the outbox and not sent yet (pending) or given up (failed)."""

    kind: str  # email, sms, whatsapp
    id: int
    status: str
    to: str
    subject: str | None
    body: str
    attempts: int
    last_error: str | None
    created_at: datetime


@dataclass
class TimelineEntry:
    """One thing that happened on the ticket, for the timeline (X2)."""

    at: datetime
    kind: str  # call, email, message, visit, callback, document, outbox, media, note
    label: Msg
    channel: str | None = None
    direction: str | None = None
    status: str | None = None
    contact: Contact | None = None
    callback: Callback | None = None
    document: DocumentInfo | None = None
    outbox: OutboxInfo | None = None
    safe_html: str | None = None  # email HTML, only ever through sanitize.safe_html
    told: list[str] = field(default_factory=list)  # what the IVR or the desk said
    note: Note | None = None


def received_documents(session: Session, ticket: Ticket) -> list[DocumentInfo]:
    rows = session.execute(
        select(Document.id, Document.filename, Document.content_type, Document.size,
               Document.source, Document.received_at)
        .where(Document.ticket_id == ticket.id).order_by(Document.received_at, Document.id))
    return [DocumentInfo(*row) for row in rows]


def unsent_replies(session: Session, ticket: Ticket) -> list[OutboxInfo]:
    """Outbox rows not sent yet: a sent one is already a contact on the ticket."""
    found = [OutboxInfo("email", e.id, e.status, e.to_address, e.subject, e.body, e.attempts,
                        e.last_error, e.created_at)
             for e in session.scalars(select(OutboundEmail).where(
                 OutboundEmail.ticket_id == ticket.id, OutboundEmail.status != OutboxStatus.SENT))]
    found += [OutboxInfo(m.channel, m.id, m.status, m.to_number, None, m.body, m.attempts,
                         m.last_error, m.created_at)
              for m in session.scalars(select(OutboundMessage).where(
                  OutboundMessage.ticket_id == ticket.id,
                  OutboundMessage.status != OutboxStatus.SENT))]
    return found


def _contact_entry(contact: Contact) -> TimelineEntry:
    inbound = contact.direction == "inbound"
    entry = TimelineEntry(at=contact.started_at, kind="call", label=Msg("Contact"),
                          channel=contact.channel,
                          direction=contact.direction, status=contact.status, contact=contact)
    if contact.channel == "voice":
        if contact.kind == "agent_leg":
            entry.label = (Msg("Agent's call leg: %(agent)s", agent=contact.agent.name)
                           if contact.agent else Msg("Agent's call leg"))
        elif contact.kind == "callback" or contact.callback_id is not None:
            entry.label = Msg("Callback attempt")
        else:
            entry.label = (Msg("Call from the customer") if inbound
                           else Msg("Call to the customer"))
        entry.told = [str(item.get("said") or item.get("summary") or "")
                      for item in (contact.answers or []) if isinstance(item, dict)]
    elif contact.channel == "walk_in":
        entry.kind, entry.label = "visit", Msg("Walk-in visit")
        entry.told = [str(item.get("said") or "") for item in (contact.answers or [])
                      if isinstance(item, dict)]
    elif contact.channel == "email":
        entry.kind = "email"
        if inbound:
            reason = email_inbound.unverified_reason(contact)
            entry.label = (Msg("Email from the customer") if reason is None
                           else Msg("Unverified email (%(reason)s): it changed nothing on the "
                                    "ticket", reason=reason))
        else:
            entry.label = Msg("Email to the customer")
        entry.safe_html = safe_html(contact.body_html) if contact.body_html else None
    else:
        name = code_label("channel", contact.channel) or contact.channel
        entry.kind = "message"
        entry.label = (Msg("%(channel)s from the customer", channel=name) if inbound
                       else Msg("%(channel)s to the customer", channel=name))
    return entry


def timeline(session: Session, ticket: Ticket) -> list[TimelineEntry]:
    """Every contact, callback, note, received document and unsent reply, oldest first
    (X2).

    Callbacks are placed when they were requested; each dialled attempt is its own contact
    ("Callback attempt"). Reads ``ticket.contacts``/``callbacks`` as loaded by
    :func:`load_ticket`, plus two small queries (documents, outbox).
    """
    entries = [_contact_entry(c) for c in ticket.contacts]
    for contact in ticket.contacts:  # media the worker did not keep, and why
        for item in (contact.ivr_state or {}).get("media_not_fetched", []):
            entries.append(TimelineEntry(
                at=contact.started_at, kind="media", channel=contact.channel,
                direction=contact.direction,
                label=Msg("Attachment not kept: %(reason)s",
                          reason=from_record(item.get("why") or item.get("reason") or "?"))))
    for callback in ticket.callbacks:
        entries.append(TimelineEntry(
            at=callback.created_at, kind="callback", status=callback.status, callback=callback,
            label=Msg("Callback owed: %(reason)s",
                      reason=code_label("callback reason", callback.reason) or callback.reason)))
    for note in ticket.notes:
        entries.append(TimelineEntry(at=note.created_at, kind="note", note=note,
                                     label=Msg("Note by %(author)s", author=note.author)))
    for document in received_documents(session, ticket):
        entries.append(TimelineEntry(at=document.received_at, kind="document",
                                     label=Msg("Document received"), document=document))
    for reply in unsent_replies(session, ticket):
        name = code_label("channel", reply.kind) or reply.kind
        entries.append(TimelineEntry(
            at=reply.created_at, kind="outbox", channel=reply.kind, direction="outbound",
            status=reply.status, outbox=reply,
            label=Msg("%(channel)s to the customer, not sent yet", channel=name)
            if reply.status == OutboxStatus.PENDING
            else Msg("%(channel)s to the customer could not be sent", channel=name)))
    entries.sort(key=lambda e: e.at)  # stable: same-time entries keep their kind's order
    return entries


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}
