"""The call's IVR state as the step webhook reads and writes it: one SELECT, one UPDATE.

Every IVR step loads the call's contact, changes a few of its columns and writes them back.
Through the ORM that was about half of a step's CPU: loading all 35 columns of the
contact (three of them JSON) and a unit-of-work flush for one UPDATE. A :class:`CallState`
holds only the columns a step reads or writes, from one Core SELECT that also reads the call's
ticket (adopted as the ORM object on first use, with no SELECT of its own), remembers which of them
the step changed, and :func:`save` writes exactly those with one Core UPDATE. The first
answer's step runs before its row exists, and :func:`insert` writes the row with its result.
It offers the same attributes as :class:`Contact` for what the IVR touches, so
:class:`callcenter.voice.ivr.Ivr` works on either.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from callcenter.db import adopt_row, insert_unless_exists
from callcenter.models import Contact, Customer, Ticket
from callcenter.phones import try_e164
from callcenter.statuses import CallStatus
from callcenter.voice import answers

_TABLE: Table = Contact.__table__  # type: ignore[assignment]
_TICKETS: Table = Ticket.__table__  # type: ignore[assignment]
# What a step reads; ``id`` names the row.
READ = ("id", "ticket_id", "from_number", "verified", "menu_path", "answers", "ivr_state",
        "last_response")
# What a step may write (queueing the caller sets the last two).
WRITABLE = frozenset((*READ[1:], "queue_state", "queued_at"))

# What the IVR reads of the call's ticket (the other columns load if ever touched).
TICKET_READ = ("id", "number", "customer_id", "status", "category", "language", "reason",
               "summary")
# What an answer speaks of the verified caller (callcenter.voice.answers.FACTS).
_CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
_CUSTOMER_ID = _TABLE.c.ivr_state["customer_id"].as_integer()

# Built once: building a select() costs about as much as running it from the compiled cache.
# The call's ticket (``t_<name>``) and verified customer (``c_<name>``) come in the same
# statement, by LEFT JOINs: every step after the first answer reads or changes the ticket,
# an answer speaks the customer's data, and each had a round trip of its own.
_BY_SID = (
    select(*(_TABLE.c[name] for name in READ),
           *(_TICKETS.c[name].label(f"t_{name}") for name in TICKET_READ),
           *(_CUSTOMERS.c[name].label(f"c_{name}") for name in answers.FACTS))
    .select_from(_TABLE
                 .outerjoin(_TICKETS, _TICKETS.c.id == _TABLE.c.ticket_id)
                 .outerjoin(_CUSTOMERS, _CUSTOMERS.c.id == _CUSTOMER_ID))
    .where(_TABLE.c.channel == "voice", _TABLE.c.external_id == bindparam("call_sid")))
_INSERTS: dict[str, Any] = {}  # a fresh call's INSERT, per dialect
_UPDATE = update(_TABLE).where(_TABLE.c.id == bindparam("_id"))


class CallState:
    """The columns of a call's contact that an IVR step uses; assignments are recorded so
    :func:`save` writes only what changed. ``ticket`` loads the ticket on first use, like the
    contact's relationship, and setting it sets ``ticket_id``."""

    id: int | None  # None until a fresh call is inserted
    ticket_id: int | None
    from_number: str | None
    verified: bool
    menu_path: list[str]
    answers: list[dict[str, Any]]
    ivr_state: dict[str, Any]
    last_response: str | None
    queue_state: str | None
    queued_at: Any
    _session: Session
    _ticket: Ticket | None
    _changed: set[str]
    _new: dict[str, Any]  # a fresh call's identifying columns, for its INSERT
    _ticket_row: dict[str, Any] | None  # the ticket's columns as :func:`find` read them
    customer: Any  # the verified caller's facts as :func:`find` read them, or None

    def __init__(self, session: Session, row: Any) -> None:
        set_ = object.__setattr__
        set_(self, "_session", session)
        set_(self, "_ticket", None)
        set_(self, "_changed", set())
        for name in READ:
            set_(self, name, getattr(row, name))
        ticket_row = customer = None
        if getattr(row, "t_id", None) is not None:
            ticket_row = {name: getattr(row, f"t_{name}") for name in TICKET_READ}
        if getattr(row, "c_id", None) is not None:
            customer = SimpleNamespace(**{name: getattr(row, f"c_{name}")
                                          for name in answers.FACTS})
        set_(self, "_ticket_row", ticket_row)
        set_(self, "customer", customer)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in WRITABLE and name != "ticket":
            # A column this state does not hold would never be written: fail loudly instead.
            raise AttributeError(f"a step cannot set {name!r} on the call's state")
        object.__setattr__(self, name, value)
        if name in WRITABLE:
            self._changed.add(name)

    @property
    def ticket(self) -> Ticket | None:
        if self._ticket is None and self.ticket_id is not None:
            row = self._ticket_row
            ticket = (adopt_row(self._session, Ticket, row)
                      if row is not None and row["id"] == self.ticket_id
                      else self._session.get(Ticket, self.ticket_id))
            object.__setattr__(self, "_ticket", ticket)
        return self._ticket

    @ticket.setter
    def ticket(self, ticket: Ticket | None) -> None:
        object.__setattr__(self, "_ticket", ticket)
        self.ticket_id = ticket.id if ticket is not None else None


def find(session: Session, call_sid: str) -> CallState | None:
    """The call's state, or None for a CallSid we never took in."""
    row = session.execute(_BY_SID, {"call_sid": call_sid}).first()
    return CallState(session, row) if row is not None else None


def fresh(session: Session, call_sid: str, from_number: str | None,
          to_number: str | None) -> CallState:
    """A call not written yet: the first answer's step runs on it, then :func:`insert` writes
    the row with that step's state in one statement (no INSERT, then an UPDATE)."""
    call = CallState(session, SimpleNamespace(
        id=None, ticket_id=None, from_number=try_e164(from_number) or from_number,
        verified=False, menu_path=[], answers=[], ivr_state={}, last_response=None))
    object.__setattr__(call, "_new", {
        "channel": "voice", "direction": "inbound", "external_id": call_sid,
        "status": CallStatus.IN_PROGRESS, "from_number": call.from_number,
        "to_number": to_number})
    return call


def insert(session: Session, call: CallState) -> bool:
    """Write a :func:`fresh` call with what its step set: one INSERT … ON CONFLICT DO NOTHING
    RETURNING id (Core fills in the other columns' defaults). False, and nothing written,
    when the call's row exists: a Twilio retry of the first answer, a concurrent one, or a
    call the status callback or the queue opened first; the caller then reads that row."""
    dialect = session.get_bind().dialect.name
    statement = _INSERTS.get(dialect)
    if statement is None:  # built once per database kind, like the SELECT
        statement = insert_unless_exists(session, _TABLE, "channel", "external_id").returning(
            _TABLE.c.id)
        _INSERTS[dialect] = statement
    values = {**call._new, **{name: getattr(call, name) for name in call._changed}}
    row = session.execute(statement, values).first()
    if row is None:
        return False
    object.__setattr__(call, "id", row.id)
    call._changed.clear()
    return True


def save(session: Session, call: CallState) -> None:
    """One UPDATE of the columns the step changed (none: no statement), in the session's
    transaction; the caller commits. SQLAlchemy sets the columns named by the parameters, and
    compiles each such set once."""
    if not call._changed:
        return
    params = {name: getattr(call, name) for name in call._changed}
    params["_id"] = call.id
    session.execute(_UPDATE, params)
    call._changed.clear()
