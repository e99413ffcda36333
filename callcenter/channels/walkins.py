"""The walk-in desk (P4): verify the visitor, answer from their data, record the visit.

P4.1 verification needs name, phone and Order ID to belong to one customer; the agent is never
told which part did not match. Three failures by one agent for one phone within 15 minutes
mean the agent must escalate (a supervisor, who is another user, can still verify). Failures
are counted from the audit trail, so they survive restarts and need no extra table.

Nothing here commits; the web layer commits, then enqueues the SMS jobs.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.channels.messages import queue_message
from callcenter.config import Settings
from callcenter.content import Content, plain
from callcenter.i18n import Msg
from callcenter.models import AuditEntry, Contact, Customer, OutboundMessage, Ticket, User, utcnow
from callcenter.phones import mask_phone, try_e164
from callcenter.statuses import VisitStatus
from callcenter.tickets import documents, lifecycle
from callcenter.voice import answers
from callcenter.voice.verification import match_customer

LANGUAGES = ("id", "en")
MAX_FAILURES = 3
FAILURE_WINDOW = timedelta(minutes=15)
FAILED_ACTION = "desk_verify_failed"
DIRECT_TOPICS = ("how_to_pay", "bill", "status")


class WalkinError(ValueError):
    """A refused desk operation; the message is safe to show to the agent."""


class NotVerified(WalkinError):
    """Name, phone and Order ID do not belong to one customer (which part is not said)."""

    def __init__(self) -> None:
        super().__init__(Msg("The details given do not match our records. Check them with the "
                             "customer and try again."))


class EscalateVerification(WalkinError):
    """Too many failed verifications: a supervisor must take over."""

    def __init__(self) -> None:
        super().__init__(Msg("%(count)s failed verifications for this phone number within "
                             "%(minutes)s minutes: escalate to a supervisor.",
                             count=MAX_FAILURES,
                             minutes=int(FAILURE_WINDOW.total_seconds() // 60)))


class VisitNotFound(WalkinError):
    pass


class VisitClosed(WalkinError):
    pass


@dataclass
class Visit:
    contact: Contact
    ticket: Ticket
    customer: Customer
    continued: bool  # X1: an unsettled ticket of the customer was continued
    message: OutboundMessage  # the SMS with the ticket number (P4.5), not yet enqueued


def same_name(given: str, registered: str) -> bool:
    """Full names compared ignoring case, accents' encoding and extra whitespace."""

    def norm(value: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", value or "").casefold().split())

    return bool(norm(given)) and norm(given) == norm(registered)


def phone_key(phone: str, secret: str) -> str:
    """The audit subject that groups failures by phone without storing the number."""
    canonical = try_e164(phone) or "".join(ch for ch in phone or "" if ch.isdigit())
    digest = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return f"desk-phone:{digest[:24]}"


def recent_failures(session: Session, actor: str, key: str, now: datetime | None = None) -> int:
    since = (now or utcnow()) - FAILURE_WINDOW
    return session.scalar(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.actor == actor[:120], AuditEntry.action == FAILED_ACTION,
            AuditEntry.subject == key, AuditEntry.at >= since)) or 0


def verify_visitor(session: Session, *, actor: str, name: str, phone: str, order_id: str,
                   secret: str, now: datetime | None = None) -> Customer:
    """P4.1: the customer owning name, phone and Order ID, or :class:`NotVerified`.

    A failure is written to the audit trail (the caller commits it even though it refuses);
    the third within the window, and any attempt after it, raises
    :class:`EscalateVerification` instead.
    """
    key = phone_key(phone, secret)
    if recent_failures(session, actor, key, now) >= MAX_FAILURES:
        raise EscalateVerification()
    customer = match_customer(session, phone, order_id)
    if customer is not None and same_name(name, customer.name):
        return customer
    audit.record(session, actor, FAILED_ACTION, key, f"phone {mask_phone(try_e164(phone))}")
    session.flush()
    if recent_failures(session, actor, key, now) >= MAX_FAILURES:
        raise EscalateVerification()
    raise NotVerified()


def register_visit(session: Session, content: Content, *, user: User, actor: str,
                   customer: Customer, problem: str, language: str = "id",
                   new_ticket: bool = False, tz: str = "Asia/Jakarta",
                   now: datetime | None = None, settings: Settings | None = None) -> Visit:
    """Record the visit on the customer's unsettled ticket (X1) or a new walk-in ticket (P4.4),
    queue the SMS with the ticket number (P4.5) and audit the visit and the data view."""
    if language not in LANGUAGES:
        raise WalkinError(f"language must be one of {', '.join(LANGUAGES)}")
    when = now or utcnow()
    existing = None if new_ticket else lifecycle.find_open_ticket(session, customer.id)
    if existing is not None:
        ticket, continued = existing, True
    else:
        ticket = lifecycle.open_ticket(session, channel="walk_in", customer_id=customer.id,
                                     language=language, tz=tz, now=when, settings=settings)
        continued = False
    contact = Contact(
        ticket_id=ticket.id, channel="walk_in", direction="inbound", kind="customer",
        status=VisitStatus.IN_PROGRESS, started_at=when, from_number=customer.phone,
        verified=True, user_id=user.id, body=problem, ivr_state={"language": language},
    )
    session.add(contact)
    session.flush()
    due = answers.long_date(ticket.due_at.astimezone(ZoneInfo(tz)).date(), language) if (
        ticket.due_at) else "-"
    message = queue_message(
        session, ticket_id=ticket.id, to_number=customer.phone,
        body=content.text(language, "desk_ticket_sms", ticket=ticket.number, due_date=due))
    # The desk page shows whether the number reached the customer (P4.5).
    contact.ivr_state = {**contact.ivr_state, "ticket_sms": message.id}
    audit.record(session, actor, "desk_visit", f"ticket:{ticket.number}",
                 f"visit:{contact.id} {'continued' if continued else 'opened'}")
    audit.record(session, actor, "view_customer", f"customer:{customer.id}",
                 f"desk visit:{contact.id} ticket:{ticket.number}")
    session.flush()
    return Visit(contact=contact, ticket=ticket, customer=customer, continued=continued,
                 message=message)


def customer_data(content: Content, lang: str, customer: Customer) -> dict[str, Any]:
    """P4.2: what the agent needs to answer directly from the customer's data."""
    status_text = content.lookup(lang, "statuses", customer.application_status)
    return {
        "name": customer.name,
        "order_id": customer.order_id,
        "product": customer.product,
        "application_status": customer.application_status,
        "application_status_text": status_text or customer.application_status,
        "amount_due": customer.amount_due,
        "amount_due_text": (f"Rp {answers.rupiah(customer.amount_due, lang)}"
                            if customer.amount_due is not None else None),
        "due_date": customer.due_date.isoformat() if customer.due_date else None,
        "due_date_text": answers.long_date(customer.due_date, lang) if customer.due_date else None,
        "va_bank": customer.va_bank,
        "va_number": customer.va_number,
    }


def prepared_answers(content: Content, lang: str, customer: Customer) -> dict[str, Any]:
    """The answers the agent can read out (P4.2), with their one-line summaries."""
    result: dict[str, Any] = {}
    for topic in DIRECT_TOPICS:
        given = answers.answer(content, lang, topic, customer)
        result[topic] = {"text": plain(given.speech), "summary": given.summary}
    return result


def slip_text(content: Content, lang: str, ticket: Ticket, tz: str,
              now: datetime | None = None) -> str:
    """The printable slip (P4.5): ticket number, date, due date and what to bring."""
    labels = content.raw(lang, "desk_slip")
    zone = ZoneInfo(tz)
    today = (now or utcnow()).astimezone(zone).date()
    lines = [
        labels["title"],
        labels["ticket"].format(ticket=ticket.number),
        labels["date"].format(date=answers.long_date(today, lang)),
    ]
    if ticket.due_at is not None:
        lines.append(labels["due"].format(
            due_date=answers.long_date(ticket.due_at.astimezone(zone).date(), lang)))
    missing = documents.missing_names(ticket)
    if missing:
        lines.append(labels["bring"])
        lines.extend(f"- {name}" for name in missing)
    else:
        lines.append(labels["bring_nothing"])
    lines.append(labels["footer"])
    return "\n".join(lines)


def find_visit(session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.channel != "walk_in" or contact.direction != "inbound":
        raise VisitNotFound(Msg("No walk-in visit %(visit)s.", visit=contact_id))
    return contact


def ticket_sms(session: Session, contact: Contact) -> OutboundMessage | None:
    """The SMS that gave the visitor their ticket number (P4.5), to show whether it went."""
    message_id = (contact.ivr_state or {}).get("ticket_sms")
    return session.get(OutboundMessage, message_id) if isinstance(message_id, int) else None


OPEN_VISITS_SINCE = timedelta(days=1)  # an unclosed visit of yesterday is no visitor today


def open_visits(session: Session, user_id: int | None = None, limit: int = 50,
                now: datetime | None = None) -> list[Contact]:
    """Visitors still at the desk (visits of the last day not closed), oldest first;
    ``user_id``: only the visits that person is serving. The time bound keeps this one
    short index range on ``contacts.started_at`` however many contacts there are."""
    since = (now or utcnow()) - OPEN_VISITS_SINCE
    query = (select(Contact).where(Contact.started_at >= since,
                                   Contact.channel == "walk_in",
                                   Contact.direction == "inbound",
                                   Contact.status == VisitStatus.IN_PROGRESS)
             .order_by(Contact.started_at, Contact.id).limit(limit))
    if user_id is not None:
        query = query.where(Contact.user_id == user_id)
    return list(session.scalars(query))


def customer_open_visits(session: Session, customer_id: int) -> list[Contact]:
    """The customer's visits not closed (a second problem at the desk is a second visit),
    through the customer's tickets."""
    return list(session.scalars(
        select(Contact).join(Ticket, Ticket.id == Contact.ticket_id)
        .where(Ticket.customer_id == customer_id, Contact.channel == "walk_in",
               Contact.direction == "inbound", Contact.status == VisitStatus.IN_PROGRESS)
        .order_by(Contact.started_at, Contact.id)))


def is_open(contact: Contact) -> bool:
    """The visitor is still at the desk (the visit is not closed)."""
    return contact.status == VisitStatus.IN_PROGRESS


def closing_lines(contact: Contact) -> list[dict[str, str]]:
    """What was said when the visit closed (P4.6–P4.8), in order: the script read out."""
    return [item for item in (contact.answers or []) if isinstance(item, dict)
            and item.get("topic") in ("summary", "ticket_number", "closing_greeting")]


def visit_language(contact: Contact) -> str:
    lang = (contact.ivr_state or {}).get("language", "id")
    return lang if lang in LANGUAGES else "id"


def close_visit(session: Session, content: Content, contact: Contact, *, anything_else: bool,
                summary: str | None, actor: str, now: datetime | None = None) -> list[str]:
    """P4.6–P4.8 on the visit: "anything else?" asked and answered; when nothing else, the
    summary and the closing greeting are said and the visit ends. Each line said is kept in the
    visit's ``answers`` (shown in the ticket JSON). Returns the lines for the agent to say."""
    if not is_open(contact):
        raise VisitClosed(Msg("Visit %(visit)s is already closed.", visit=contact.id))
    lang = visit_language(contact)
    ticket = contact.ticket
    assert ticket is not None
    ask = content.text(lang, "desk_anything_else")
    said = [{"topic": "anything_else", "said": ask, "reply": "yes" if anything_else else "no"}]
    lines = [ask]
    if not anything_else:
        text = (summary or "").strip()
        if not text:
            raise WalkinError(Msg("A summary is required to close the visit."))
        closing = [
            ("summary", content.text(lang, "desk_summary", summary=text)),
            ("ticket_number", content.text(lang, "desk_ticket_number", ticket=ticket.number)),
            ("closing_greeting", content.text(lang, "desk_closing_greeting")),
        ]
        said.extend({"topic": topic, "said": line} for topic, line in closing)
        lines.extend(line for _, line in closing)
        when = now or utcnow()
        contact.status = VisitStatus.COMPLETED
        contact.ended_at = when
        contact.duration_s = max(0, int((when - contact.started_at).total_seconds()))
    contact.answers = [*(contact.answers or []), *said]
    audit.record(session, actor, "desk_visit_close" if not anything_else else "desk_visit_more",
                 f"ticket:{ticket.number}", f"visit:{contact.id}")
    session.flush()
    return lines
