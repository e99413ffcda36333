"""One customer as the console's customer page shows them, without Flask.

What the hotline answers from (the :class:`~callcenter.models.Customer` row: bill, due date,
product, application status, virtual account), every ticket on every channel, the last
contacts across all of them (X2: one history, whatever the channel), the callbacks still owed
(P2) and the documents asked for and received (P4.3). A fixed handful of queries whatever the
customer's history; nothing here writes (the page records the view).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import Callback, Contact, Customer, Document, RequiredDocument, Ticket
from callcenter.statuses import CallbackStatus, TicketStatus

CONTACTS_SHOWN = 100  # the newest; each ticket's page has the rest
PENDING_CALLBACKS = (CallbackStatus.SCHEDULED, CallbackStatus.DIALING)


@dataclass(frozen=True)
class ContactLine:
    """A contact on one of the customer's tickets: a call, a message, an email, a visit."""

    ticket_number: str | None
    channel: str
    direction: str
    kind: str
    status: str
    started_at: datetime
    duration_s: int | None
    subject: str | None
    body: str | None


@dataclass(frozen=True)
class DocumentLine:
    """A document asked for (``received_at`` None while missing) or received, with its
    ticket; never the file's bytes."""

    ticket_number: str | None
    name: str
    requested_at: datetime | None
    received_at: datetime | None
    source: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class CustomerFile:
    customer: Customer
    tickets: list[Ticket]
    contacts: list[ContactLine]
    callbacks: list[Callback]
    documents: list[DocumentLine]

    @property
    def open_tickets(self) -> list[Ticket]:
        return [t for t in self.tickets if t.status != TicketStatus.RESOLVED]


def load(session: Session, customer_id: int) -> CustomerFile | None:
    """The customer's file, or None when there is no such customer."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    tickets = list(session.scalars(select(Ticket).where(Ticket.customer_id == customer.id)
                                   .order_by(Ticket.opened_at.desc(), Ticket.id.desc())))
    numbers = {t.id: t.number for t in tickets}
    ids = list(numbers)
    if not ids:
        return CustomerFile(customer, [], [], [], [])
    contacts = [
        ContactLine(numbers.get(c.ticket_id or 0), c.channel, c.direction, c.kind, c.status,
                    c.started_at, c.duration_s, c.subject, c.body)
        for c in session.scalars(
            select(Contact).where(Contact.ticket_id.in_(ids), Contact.kind != "agent_leg")
            .order_by(Contact.started_at.desc(), Contact.id.desc()).limit(CONTACTS_SHOWN))]
    callbacks = list(session.scalars(
        select(Callback).where(Callback.ticket_id.in_(ids),
                               Callback.status.in_([s.value for s in PENDING_CALLBACKS]))
        .order_by(Callback.due_at)))
    return CustomerFile(customer, tickets, contacts, callbacks,
                        _documents(session, ids, numbers))


def _documents(session: Session, ticket_ids: list[int],
               numbers: dict[int, str | None]) -> list[DocumentLine]:
    """Missing ones first (the tickets wait for them), then every file received, newest
    first; files received without a request are listed too."""
    required = session.scalars(select(RequiredDocument)
                               .where(RequiredDocument.ticket_id.in_(ticket_ids))
                               .order_by(RequiredDocument.requested_at)).all()
    lines = [DocumentLine(numbers.get(r.ticket_id), r.name, r.requested_at, None)
             for r in required if r.received_at is None]
    files = session.execute(
        select(Document.id, Document.ticket_id, Document.filename, Document.source,
               Document.size, Document.received_at)
        .where(Document.ticket_id.in_(ticket_ids))
        .order_by(Document.received_at.desc())).all()
    names = {r.document_id: r for r in required if r.document_id is not None}
    for row in files:
        asked = names.get(row.id)
        lines.append(DocumentLine(
            numbers.get(row.ticket_id),
            f"{asked.name} ({row.filename})" if asked else row.filename,
            asked.requested_at if asked else None, row.received_at, row.source, row.size))
    return lines
