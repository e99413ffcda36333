"""One ticket as the console's ticket page shows it, without Flask.

:func:`load_ticket` + :func:`timeline`: the ticket with everything that happened on it, every
contact (X2: calls and their legs, emails, messages, visits, callback attempts), the callbacks
owed, documents received and replies still in the outbox, merged by time. The ticket's
relations are loaded in a fixed handful of queries (no N+1). Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from callcenter.channels import email_inbound
from callcenter.channels.sanitize import safe_html
from callcenter.models import (
    Callback,
    Contact,
    Document,
    OutboundEmail,
    OutboundMessage,
    Ticket,
    User,
)
from callcenter.statuses import OutboxStatus
from callcenter.tickets.numbers import is_well_formed

CALLBACK_REASONS = {
    "dropped_call": "the call dropped (P2.2c)",
    "more_explanation": "a fuller explanation by phone (P2.2a)",
    "no_response": "no answer in writing (P2.2b)",
}


def load_ticket(session: Session, number: str) -> Ticket | None:
    """The ticket with its customer, contacts (and their agents), callbacks and required
    documents, in five queries whatever their number; None when the number is not
    well-formed (check digit) or unknown."""
    if not isinstance(number, str) or not is_well_formed(number):
        return None
    return session.scalars(
        select(Ticket).where(Ticket.number == number).options(
            joinedload(Ticket.customer),
            selectinload(Ticket.contacts).joinedload(Contact.agent),
            selectinload(Ticket.callbacks),
            selectinload(Ticket.required_documents),
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
    kind: str  # call, email, message, visit, callback, document, outbox, media
    label: str
    channel: str | None = None
    direction: str | None = None
    status: str | None = None
    contact: Contact | None = None
    callback: Callback | None = None
    document: DocumentInfo | None = None
    outbox: OutboxInfo | None = None
    safe_html: str | None = None  # email HTML, only ever through sanitize.safe_html
    told: list[str] = field(default_factory=list)  # what the IVR or the desk said


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


_CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "Email"}


def _contact_entry(contact: Contact) -> TimelineEntry:
    inbound = contact.direction == "inbound"
    entry = TimelineEntry(at=contact.started_at, kind="call", label="", channel=contact.channel,
                          direction=contact.direction, status=contact.status, contact=contact)
    if contact.channel == "voice":
        if contact.kind == "agent_leg":
            entry.label = "Agent leg" + (f": {contact.agent.name}" if contact.agent else "")
        elif contact.kind == "callback" or contact.callback_id is not None:
            entry.label = "Callback attempt"
        else:
            entry.label = "Call from the customer" if inbound else "Call to the customer"
        entry.told = [str(item.get("said") or item.get("summary") or "")
                      for item in (contact.answers or []) if isinstance(item, dict)]
    elif contact.channel == "walk_in":
        entry.kind, entry.label = "visit", "Walk-in visit"
        entry.told = [str(item.get("said") or "") for item in (contact.answers or [])
                      if isinstance(item, dict)]
    elif contact.channel == "email":
        entry.kind = "email"
        if inbound:
            reason = email_inbound.unverified_reason(contact)
            entry.label = ("Email from the customer" if reason is None
                           else f"Unverified email ({reason}): it changed nothing on the ticket")
        else:
            entry.label = "Email to the customer"
        entry.safe_html = safe_html(contact.body_html) if contact.body_html else None
    else:
        name = _CHANNEL_NAMES.get(contact.channel, contact.channel)
        entry.kind = "message"
        entry.label = f"{name} from the customer" if inbound else f"{name} to the customer"
    return entry


def timeline(session: Session, ticket: Ticket) -> list[TimelineEntry]:
    """Every contact, callback, received document and unsent reply, oldest first (X2).

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
                label=f"Attachment not kept: {item.get('reason', 'unknown reason')}"))
    for callback in ticket.callbacks:
        entries.append(TimelineEntry(
            at=callback.created_at, kind="callback", status=callback.status, callback=callback,
            label="Callback owed: " + CALLBACK_REASONS.get(callback.reason, callback.reason)))
    for document in received_documents(session, ticket):
        entries.append(TimelineEntry(at=document.received_at, kind="document",
                                     label="Document received", document=document))
    for reply in unsent_replies(session, ticket):
        name = _CHANNEL_NAMES.get(reply.kind, reply.kind)
        entries.append(TimelineEntry(
            at=reply.created_at, kind="outbox", channel=reply.kind, direction="outbound",
            status=reply.status, outbox=reply,
            label=f"{name} to the customer, not sent yet" if reply.status == OutboxStatus.PENDING
            else f"{name} to the customer could not be sent"))
    entries.sort(key=lambda e: e.at)  # stable: same-time entries keep their kind's order
    return entries


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}
