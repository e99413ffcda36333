"""Opening, finding and settling tickets (P1.5, P1.6, X1).

Numbers come from the row's database-assigned id (a sequence on PostgreSQL, the rowid on
SQLite) behind a unique constraint, so two calls opening tickets at once never share one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from callcenter.callbacks import policy
from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.db import SequenceBlocks, adopt_row
from callcenter.models import Callback, Ticket, utcnow
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
    values: dict[str, Any] = {
        "channel": channel, "kind": kind, "customer_id": customer_id, "category": category,
        "language": language, "opened_at": opened, "due_at": due, "status": TicketStatus.OPEN}
    if session.autoflush:
        session.flush()  # as an ORM insert would: what is pending goes first
    if session.get_bind().dialect.name == "postgresql":
        # The id first, from the table's sequence (a block of them per process): then one
        # INSERT writes the ticket with its number (not an INSERT, then an UPDATE).
        values["id"] = _TICKET_IDS.take(session)
        values["number"] = number_for(values["id"])
        session.execute(_INSERT_TICKET, values)
    else:  # SQLite: the id is the rowid, known once the row is written
        values["id"] = session.execute(_INSERT_TICKET.returning(_TICKETS.c.id), values).scalar()
        values["number"] = number_for(values["id"])
        session.execute(_NUMBER_TICKET, {"ticket_id": values["id"], "number": values["number"]})
    # One Core statement and the row adopted as the ORM object (callcenter.db.adopt_row) with
    # the values written, the columns left empty as None (``updated_at`` loads if read): the
    # ORM's unit of work for one INSERT cost ~1 ms of CPU on every call that opens a ticket.
    return adopt_row(session, Ticket, {**_UNSET, **values})


_TICKETS = Ticket.__table__
_TICKET_IDS = SequenceBlocks("tickets")
_INSERT_TICKET = insert(_TICKETS)
_NUMBER_TICKET = (update(_TICKETS).where(_TICKETS.c.id == bindparam("ticket_id"))
                  .values(number=bindparam("number")))
# The columns a new ticket leaves empty (none has a default).
_UNSET = dict.fromkeys(("reason", "summary", "resolved_at", "owner_id", "customer_email",
                        "converted_at"))
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


_CALLBACKS = Callback.__table__
# The IVR's closing settles a ticket of answered questions in this one statement: open, no
# callback ever arranged on it (so none to cancel) and no document outstanding (P4.3).
_RESOLVE_SETTLED = (
    update(_TICKETS)
    .where(_TICKETS.c.id == bindparam("ticket_id"),
           _TICKETS.c.status == TicketStatus.OPEN,
           ~exists().where(_CALLBACKS.c.ticket_id == _TICKETS.c.id),
           documents.none_outstanding(_TICKETS.c.id))
    .values(status=TicketStatus.RESOLVED, summary=bindparam("summary"),
            resolved_at=bindparam("now"), updated_at=bindparam("now"))
    .returning(_TICKETS.c.id)
)


def resolve_if_settled(session: Session, ticket: Ticket, summary: str,
                       now: datetime | None = None) -> bool:
    """Resolve ``ticket`` with ``summary`` (P1.8) if it is open, never had a callback and
    waits for no document; False, and nothing changed, otherwise.

    :func:`resolve` checks the same in Python over the ticket's callbacks and documents (two
    SELECTs, an UPDATE of the callbacks and one of the ticket); this is one guarded UPDATE, and
    the session's object takes the new values as committed ones. Changes pending on the
    ticket are written first, so the guard sees what the caller set.
    """
    if ticket in session.dirty:
        session.flush()
    now = now or utcnow()
    resolved = session.execute(_RESOLVE_SETTLED, {"ticket_id": ticket.id, "summary": summary,
                                                  "now": now}).first()
    if resolved is None:
        return False
    for name, value in (("status", TicketStatus.RESOLVED), ("summary", summary),
                        ("resolved_at", now), ("updated_at", now)):
        set_committed_value(ticket, name, value)
    return True
