"""Opening, finding and settling tickets (P1.5, P1.6, X1).

Numbers come from the row's database-assigned id (a sequence on PostgreSQL, the rowid on
SQLite) behind a unique constraint, so two calls opening tickets at once never share one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from callcenter.callbacks import policy
from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.models import Ticket, utcnow
from callcenter.statuses import OPEN_TICKET_STATUSES, TicketStatus
from callcenter.tickets import documents
from callcenter.tickets.numbers import is_well_formed, number_for

# P1.2: what the caller chose classifies the ticket; a complaint outranks a question.
CATEGORY_RANK = {
    "unverified": 0,
    "inquiry": 1,
    "callback_request": 2,
    "agent_request": 3,
    "payment_detail": 4,
    "app_failure": 4,
}


def open_ticket(
    session: Session,
    *,
    channel: str,
    customer_id: int | None,
    category: str = "inquiry",
    language: str = "id",
    tz: str = "Asia/Jakarta",
    now: datetime | None = None,
    settings: Settings | None = None,
) -> Ticket:
    """A new ticket with its number, kind and regulatory due date, flushed (not committed).

    The kind (oral for phone and walk-in, else written) and the deadline come from
    :mod:`callcenter.compliance.regulation`. With ``settings`` the due date follows the configured
    rules
    (POJK 22/2023 or 18/2018, collective leave, company days off); without, the default rules
    (POJK 22/2023) in ``tz``.
    """
    opened = now or utcnow()
    kind = regulation.kind_of(channel)
    due = regulation.due_date(opened, kind, settings or Settings(timezone=tz))
    ticket = Ticket(
        channel=channel,
        kind=kind,
        customer_id=customer_id,
        category=category,
        language=language,
        opened_at=opened,
        due_at=due,
    )
    if session.get_bind().dialect.name == "postgresql":
        # The id first, from the table's sequence: then one INSERT writes the ticket with its
        # number (not an INSERT, then an UPDATE of the number).
        ticket.id = session.scalar(_NEXT_TICKET_ID)
        ticket.number = number_for(ticket.id)
        session.add(ticket)
        session.flush()
        return ticket
    session.add(ticket)
    session.flush()
    ticket.number = number_for(ticket.id)
    session.flush()
    return ticket


_NEXT_TICKET_ID = select(func.nextval(func.pg_get_serial_sequence("tickets", "id")))
_OPEN_TICKET_OF = (  # built once: every verified caller is looked up
    select(Ticket)
    .where(Ticket.customer_id == bindparam("customer_id"),
           Ticket.status.in_(OPEN_TICKET_STATUSES))
    .order_by(Ticket.opened_at.desc(), Ticket.id.desc())
    .limit(1)
)


def find_open_ticket(session: Session, customer_id: int) -> Ticket | None:
    """The customer's most recent unsettled ticket (a repeat contact continues it, X1)."""
    return session.scalars(_OPEN_TICKET_OF, {"customer_id": customer_id}).first()


_TICKETS = Ticket.__table__
_OPEN_TICKET_BRIEF = (  # the same look-up on the table (Core), for the IVR
    select(_TICKETS.c.id, _TICKETS.c.number, _TICKETS.c.status, _TICKETS.c.due_at)
    .where(_TICKETS.c.customer_id == bindparam("customer_id"),
           _TICKETS.c.status.in_(OPEN_TICKET_STATUSES))
    .order_by(_TICKETS.c.opened_at.desc(), _TICKETS.c.id.desc())
    .limit(1)
)


def open_ticket_brief(session: Session, customer_id: int) -> Any | None:
    """As :func:`find_open_ticket`, as a row of the ticket's id, number, status and due date:
    all a verified caller hears about it (the ORM's entity load cost as much CPU again)."""
    return session.execute(_OPEN_TICKET_BRIEF, {"customer_id": customer_id}).first()


def find_by_number(session: Session, number: str) -> Ticket | None:
    """Look a ticket up only when its check digit is right (CONTRACT: no lookup otherwise)."""
    if not is_well_formed(number):
        return None
    return session.scalars(select(Ticket).where(Ticket.number == number)).first()


def classify(ticket: Ticket, category: str) -> None:
    """Raise the ticket's category when the caller reveals a weightier problem (P1.2)."""
    if CATEGORY_RANK.get(category, 0) > CATEGORY_RANK.get(ticket.category, 0):
        ticket.category = category


def reopen(ticket: Ticket) -> None:
    """A repeat contact about a settled problem brings it back (X1)."""
    if ticket.status not in OPEN_TICKET_STATUSES:
        ticket.status = TicketStatus.OPEN
        ticket.resolved_at = None


def resolve(session: Session, ticket: Ticket, summary: str,
            now: datetime | None = None) -> None:
    """Settle the ticket with what the customer was told (P1.8); no callback is owed now.

    Refused (``documents.DocumentsOutstanding``) while supporting documents are missing (P4.3).
    """
    documents.assert_can_resolve(ticket)
    policy.cancel_pending(session, ticket.id, "ticket resolved")
    ticket.status = TicketStatus.RESOLVED
    ticket.summary = summary
    ticket.resolved_at = now or utcnow()
