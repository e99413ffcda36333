"""Callbacks owed to customers (P2.1, P2.2): policy and the outbox row.

The row is written (and committed) before any job exists; a job only ever *claims* a due row
with a conditional UPDATE (``scheduled → dialing``), so two workers never dial one callback and
a lost job is recreated from the row by the reconciler. Calls go only to the customer's own
registered number, Monday–Saturday outside national holidays, inside ``CALLING_HOURS`` in the
customer's time zone (FACTS.md "Calling customers").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from callcenter.callbacks.calling_hours import next_calling_time
from callcenter.config import Settings
from callcenter.db import adopt_row
from callcenter.models import Callback, Contact, Customer, Ticket, utcnow
from callcenter.statuses import (
    PENDING_CALLBACK_STATUSES,
    CallbackStatus,
    CallStatus,
    TicketStatus,
)

PENDING = PENDING_CALLBACK_STATUSES
REASONS = ("dropped_call", "more_explanation", "no_response")
RETRY_STATUSES = (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED)
API_BACKOFF_S = (5, 15, 60, 300, 900)
STUCK_DIALING = timedelta(minutes=15)
# Answers after which Twilio may or may not have placed the call: a 5xx ("a timeout in the
# API"; retrying "it is possible for a customer to receive multiple ... calls",
# twilio.com/docs/api/errors/20500) and a request that got no answer at all.
AMBIGUOUS_STATUS = 500


def customer_zone(settings: Settings, customer: Any) -> str:
    """The customer's own zone (WIB/WITA/WIT), else the centre's. ``customer``: a
    :class:`Customer`, a row with its ``timezone``, or None."""
    return (customer.timezone if customer and customer.timezone else None) or settings.timezone


def opening_at_or_after(settings: Settings, customer: Any,
                        when: datetime) -> datetime:
    return next_calling_time(when, customer_zone(settings, customer), settings.calling_hours)


def pending_callback(session: Session, ticket_id: int) -> Callback | None:
    return session.scalars(
        select(Callback).where(Callback.ticket_id == ticket_id, Callback.status.in_(PENDING))
    ).first()


def request_callback(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    *,
    reason: str,
    earliest: datetime | None = None,
) -> tuple[Callback | None, bool]:
    """Owe the ticket's customer a call; returns (callback, created).

    One pending callback per ticket: a second request returns the first. A ticket with no
    verified customer gets none (never a third party).
    """
    if reason not in REASONS:
        raise ValueError(f"unknown callback reason {reason!r}")
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    if customer is None:
        return None, False
    existing = pending_callback(session, ticket.id)
    if existing is not None:
        return existing, False
    due = opening_at_or_after(settings, customer, earliest or utcnow())
    callback = Callback(ticket_id=ticket.id, reason=reason, phone=customer.phone, due_at=due,
                        status=CallbackStatus.SCHEDULED)
    session.add(callback)
    session.flush()
    return callback, True


_CALLBACK_TABLE = Callback.__table__
# Built once, on the table: building the statement and the ORM's bulk-update path (with its
# in-session synchronisation) cost ~0.5 ms of CPU per call; the sync is done below instead.
_CANCEL_PENDING = (
    update(_CALLBACK_TABLE)
    .where(_CALLBACK_TABLE.c.ticket_id == bindparam("b_ticket_id"),
           _CALLBACK_TABLE.c.status == CallbackStatus.SCHEDULED)
    .values(status=CallbackStatus.CANCELLED, last_error=bindparam("why"),
            updated_at=bindparam("now"))
    .returning(_CALLBACK_TABLE.c.id)
)


def cancel_pending(session: Session, ticket_id: int, why: str) -> int:
    """A customer who called in, or a resolved ticket, needs no callback any more.

    As an ORM update would: pending changes are flushed first (unless autoflush is off), and
    the cancelled callbacks this session holds get the new values as committed ones.
    """
    if session.autoflush:
        session.flush()
    now = utcnow()
    values = {"status": CallbackStatus.CANCELLED, "last_error": why[:300], "updated_at": now}
    ids = session.scalars(_CANCEL_PENDING,
                          {"b_ticket_id": ticket_id, "why": values["last_error"], "now": now}).all()
    for callback_id in ids:
        held = session.identity_map.get(session.identity_key(Callback, callback_id))
        if held is not None:
            for name, value in values.items():
                set_committed_value(held, name, value)
    return len(ids)


CLAIM_EARLY = timedelta(seconds=1)  # RQ's scheduler works in whole seconds


# The rules' look-ups on the tables (Core, built once): the ORM's entity loading and its
# execution path cost more CPU than the statements on a callback job's path.
_CUSTOMERS, _TICKETS, _CONTACTS = Customer.__table__.c, Ticket.__table__.c, Contact.__table__.c
_THEIR_TICKETS = Ticket.__table__.alias("their_tickets")


def _calls_since(customer_id: Any) -> Any:
    """Outbound callback calls to the customer ``customer_id`` since ``:start``."""
    return (select(func.count())
            .select_from(Contact.__table__
                         .join(Callback.__table__,
                               _CONTACTS.callback_id == Callback.__table__.c.id)
                         .join(_THEIR_TICKETS,
                               Callback.__table__.c.ticket_id == _THEIR_TICKETS.c.id))
            .where(_THEIR_TICKETS.c.customer_id == customer_id,
                   _CONTACTS.started_at >= bindparam("start"),
                   _CONTACTS.direction == "outbound"))


_CALLS_SINCE = _calls_since(bindparam("customer_id"))
# The ticket's customer (id, phone, zone) and their calls since ``:start``, the centre's
# midnight, in one statement: two round trips were a fifth of a callback job's database time.
_TICKET_CUSTOMER = (
    select(_CUSTOMERS.id, _CUSTOMERS.phone, _CUSTOMERS.timezone,
           _calls_since(_CUSTOMERS.id).correlate(Customer.__table__).scalar_subquery()
           .label("calls_since"))
    .select_from(Customer.__table__.join(Ticket.__table__, _TICKETS.customer_id == _CUSTOMERS.id))
    .where(_TICKETS.id == bindparam("ticket_id"))
)


# Built once at import: constructing a statement costs more CPU than running it from
# SQLAlchemy's compiled cache, and a callback job runs these on every call it places.
_CALLBACK_ROW = Callback.__table__.c
# On the table (Core) and the row adopted as the ORM object (callcenter.db.adopt_row): the
# ORM's bulk UPDATE … RETURNING machinery cost three times the statement's own CPU.
_CLAIM = (
    update(Callback.__table__)
    .where(_CALLBACK_ROW.id == bindparam("callback_id"),
           _CALLBACK_ROW.status == CallbackStatus.SCHEDULED,
           _CALLBACK_ROW.due_at <= bindparam("due_by"))
    .values(status=CallbackStatus.DIALING, attempts=_CALLBACK_ROW.attempts + 1,
            dialing_since=bindparam("claimed_at"), call_sid=None,
            updated_at=bindparam("claimed_at"))
)
_PLACED_SINCE = select(_CALLBACK_ROW.dialing_since).where(
    _CALLBACK_ROW.id == bindparam("callback_id"))
# On PostgreSQL ``before``, the row as the statement's snapshot holds it, brings the earlier
# ``dialing_since`` back beside the claimed row (UPDATE … FROM reads other relations with
# the snapshot, RETURNING gives the new row): one round trip. SQLite evaluates such a FROM on
# the updated row, so there a SELECT reads it first.
# It also brings what the calling rules read (:func:`decide`): the ticket's customer, by
# LEFT JOINs (a ticket without one still comes back, and fails the rules), with their calls
# since the centre's midnight: a second round trip saved.
_BEFORE = (
    select(_CALLBACK_ROW.id, _CALLBACK_ROW.dialing_since,
           _CUSTOMERS.id.label("customer_id"), _CUSTOMERS.phone.label("customer_phone"),
           _CUSTOMERS.timezone.label("customer_timezone"),
           _calls_since(_CUSTOMERS.id).correlate(Customer.__table__).scalar_subquery()
           .label("customer_calls_since"))
    .select_from(Callback.__table__
                 .outerjoin(Ticket.__table__, _TICKETS.id == _CALLBACK_ROW.ticket_id)
                 .outerjoin(Customer.__table__, _CUSTOMERS.id == _TICKETS.customer_id))
    .where(_CALLBACK_ROW.id == bindparam("callback_id"))
    .subquery("before"))
_CLAIMS = {
    "postgresql": _CLAIM.where(_CALLBACK_ROW.id == _BEFORE.c.id).returning(
        *Callback.__table__.c, _BEFORE.c.dialing_since.label("placed_since"),
        *(column for column in _BEFORE.c if column.name.startswith("customer_"))),
    "sqlite": _CLAIM.returning(*Callback.__table__.c),
}
_NOT_READ: Any = object()  # decide() reads the customer itself


class Claimed(NamedTuple):
    """A claimed callback, the time since which an earlier attempt's call may exist at
    Twilio (None: no such attempt), and its customer as the rules read them (id, phone,
    timezone, calls since the centre's midnight; None: the ticket has none), when the claim
    read them."""

    callback: Callback
    placed_since: datetime | None
    customer: Any = _NOT_READ


def claim_due(session: Session, callback_id: int, now: datetime | None = None, *,
              settings: Settings | None = None) -> Claimed | None:
    """``scheduled → dialing`` for a due callback, atomically; None if someone else has it.

    The time since which an earlier attempt's call may exist (its answer from Twilio was
    ambiguous: a 5xx or none) comes back with it: the job then asks Twilio before it dials.
    One UPDATE … RETURNING: the row comes back without a second round trip; on PostgreSQL,
    given ``settings``, with what :func:`decide` reads too. A job may start up to a second
    before the due time (RQ rounds scheduled times to the second); that is still "due", or
    the callback would be skipped.
    """
    now = now or utcnow()
    params = {"callback_id": callback_id, "due_by": now + CLAIM_EARLY, "claimed_at": now,
              "start": _local_midnight(now, settings.timezone if settings else "UTC")}
    dialect = session.get_bind().dialect.name
    since = None if dialect == "postgresql" else session.scalar(_PLACED_SINCE, params)
    row = session.execute(_CLAIMS[dialect], params).first()
    if row is None:
        return None
    values = dict(row._mapping)
    since = values.pop("placed_since", since)
    customer = _NOT_READ
    if "customer_id" in values:
        facts = {name.removeprefix("customer_"): values.pop(name)
                 for name in list(values) if name.startswith("customer_")}
        if settings is not None:
            customer = SimpleNamespace(**facts) if facts["id"] is not None else None
    held = session.identity_map.get(session.identity_key(Callback, callback_id))
    if held is not None:  # a copy loaded earlier in this session: it takes the new values
        for name, value in values.items():
            set_committed_value(held, name, value)
    return Claimed(adopt_row(session, Callback, values), since, customer)


def claim(session: Session, callback_id: int, now: datetime | None = None) -> Callback | None:
    """As :func:`claim_due`, the claimed row only."""
    claimed = claim_due(session, callback_id, now)
    return claimed.callback if claimed is not None else None


@dataclass(frozen=True)
class Decision:
    """What to do with a claimed callback right now."""

    action: str  # dial, reschedule, fail
    when: datetime | None = None
    reason: str | None = None


def decide(session: Session, settings: Settings, callback: Callback,
           now: datetime | None = None, customer: Any = _NOT_READ) -> Decision:
    """Re-check the calling rules at dial time (the due time was computed earlier).

    ``customer``: as :attr:`Claimed.customer` brought it with the claim, else read here.
    """
    now = now or utcnow()
    # A row of the customer's id, phone and zone (all the rules read) and the calls placed
    # to them since the centre's midnight: their day, unless they live in another zone.
    if customer is _NOT_READ:
        customer = session.execute(_TICKET_CUSTOMER, {
            "ticket_id": callback.ticket_id, "start": _local_midnight(now, settings.timezone)},
        ).first()
    if customer is None or customer.phone != callback.phone:
        return Decision("fail", reason="number is no longer the customer's registered phone")
    opening = opening_at_or_after(settings, customer, now)
    if opening > now:
        return Decision("reschedule", when=opening, reason="outside calling hours")
    zone = customer_zone(settings, customer)
    placed_today = customer.calls_since if zone == settings.timezone else (
        calls_today(session, settings, customer, now))
    if placed_today >= settings.callback_daily_cap:
        tomorrow = _local_midnight_after(now, zone)
        return Decision("reschedule", when=opening_at_or_after(settings, customer, tomorrow),
                        reason="daily call cap reached")
    return Decision("dial")


def _local_midnight(now: datetime, zone_name: str) -> datetime:
    """The start of ``now``'s calendar day in ``zone_name``."""
    zone = ZoneInfo(zone_name)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)


def calls_today(session: Session, settings: Settings, customer: Any,
                now: datetime) -> int:
    """Callback calls already placed to this customer on their local calendar day."""
    start = _local_midnight(now, customer_zone(settings, customer))
    return session.scalar(_CALLS_SINCE, {"customer_id": customer.id, "start": start}) or 0


_DUE_ROW = select(Callback.__table__.c.status, Callback.__table__.c.due_at).where(
    Callback.__table__.c.id == bindparam("callback_id"))


def is_due(session: Session, callback_id: int, now: datetime | None = None) -> bool:
    """A cheap look before a job waits for its turn to dial: is the callback due and still
    ``scheduled``? A plain column read, and the transaction ended at once, so none stays open
    (and nothing is claimed) while the job waits: a job killed meanwhile strands nothing."""
    now = now or utcnow()
    row = session.execute(_DUE_ROW, {"callback_id": callback_id}).first()
    session.rollback()
    return row is not None and row.status == CallbackStatus.SCHEDULED and (
        row.due_at <= now + CLAIM_EARLY)


def unclaim(callback: Callback, when: datetime, why: str, *,
            maybe_placed_since: datetime | None = None) -> None:
    """Give a claimed callback back without counting an attempt (not dialled).

    ``maybe_placed_since``: Twilio's answer was ambiguous, a call may exist since then. It
    stays in ``dialing_since`` of the ``scheduled`` row, so the next job asks Twilio for that
    call before it dials again (``workers.callbacks``) and adopts it if it exists.
    """
    callback.status = CallbackStatus.SCHEDULED
    callback.attempts = max(callback.attempts - 1, 0)
    callback.due_at = when
    callback.dialing_since = maybe_placed_since
    callback.last_error = why[:300]


def api_error(callback: Callback, status: int, code: int | None, message: str,
              now: datetime | None = None) -> datetime | None:
    """Twilio refused the request: 429/5xx retry with backoff, other 4xx fail for good.

    A 5xx (or no answer at all, ``status`` 0 here) may come after the call was placed
    (:data:`AMBIGUOUS_STATUS`): the retry then first asks Twilio whether the call exists. A 429
    placed nothing. Returns the retry time, or None when the callback failed.
    """
    now = now or utcnow()
    detail = f"twilio {status} {code or ''} {message}".strip() if status else message
    if status in (0, 429) or status >= AMBIGUOUS_STATUS:
        delay = API_BACKOFF_S[min(callback.api_errors, len(API_BACKOFF_S) - 1)]
        callback.api_errors += 1
        when = now + timedelta(seconds=delay)
        ambiguous = status == 0 or status >= AMBIGUOUS_STATUS
        since = (callback.dialing_since or now) if ambiguous else None
        unclaim(callback, when, detail, maybe_placed_since=since)
        return when
    callback.status = CallbackStatus.FAILED
    callback.last_error = detail[:300]
    return None


# Core statements on the tables (no ORM bulk machinery: nothing in the session is synchronised
# by them; ``placed`` sets the callback's committed values itself).
_CALLBACKS = Callback.__table__.c
_STORE_SID = (
    update(Callback.__table__)
    .where(_CALLBACKS.id == bindparam("callback_id"),
           _CALLBACKS.status == CallbackStatus.DIALING,
           or_(_CALLBACKS.call_sid.is_(None), _CALLBACKS.call_sid == bindparam("sid")))
    .values(call_sid=bindparam("sid"), api_errors=0)
)


def _attempt_contact(insert):  # type: ignore[no-untyped-def]
    return insert(Contact.__table__).values(
        channel="voice", direction="outbound", kind="callback",
        external_id=bindparam("sid"), status=CallStatus.QUEUED,
        to_number=bindparam("to_phone"), ticket_id=bindparam("ticket"),
        callback_id=bindparam("callback"), started_at=bindparam("at"),
        verified=False, menu_path=[], answers=[], ivr_state={}, sender_verified=True,
        asks_customer=False,
    ).on_conflict_do_nothing(index_elements=["channel", "external_id"])


_ATTEMPT_CONTACT = {"postgresql": _attempt_contact(postgresql_insert),
                    "sqlite": _attempt_contact(sqlite_insert)}
# PostgreSQL runs both in one statement (data-modifying WITH clauses run once, to completion,
# whether or not the query reads them): one round trip per placed call instead of two.
_PLACED_PG = select(
    select(func.count()).select_from(_STORE_SID.returning(_CALLBACKS.id).cte("stored"))
    .scalar_subquery().label("stored"),
).add_cte(_ATTEMPT_CONTACT["postgresql"].returning(Contact.__table__.c.id).cte("attempt"))


def placed(session: Session, callback: Callback, call_sid: str) -> bool:
    """Twilio accepted the call: store its SID first, so a crash after this never redials.

    One conditional UPDATE: the call's own status callback names the callback and may have
    come first (a slow answer from Twilio), adopting the SID or even settling the attempt;
    then the row is left as it says. The attempt's contact is inserted with ON CONFLICT DO
    NOTHING (that status callback may have written it too); one statement is cheaper than a
    savepoint round trip on every placed call. False when the row was no longer waiting.
    """
    # No key may name a column of ``callbacks``: Core would add it to the UPDATE's SET.
    params = {"callback_id": callback.id, "sid": call_sid, "to_phone": callback.phone,
              "ticket": callback.ticket_id, "callback": callback.id, "at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stored = session.execute(_PLACED_PG, params).scalar_one() == 1
    else:
        stored = session.execute(_STORE_SID, params).rowcount == 1  # type: ignore[attr-defined]
        session.execute(_ATTEMPT_CONTACT[dialect], params)
    if stored:
        set_committed_value(callback, "call_sid", call_sid)
        set_committed_value(callback, "api_errors", 0)
    return stored


def still_unanswered(session: Session, callback: Callback) -> bool:
    """Re-read the claimed row under a row lock: True while no status callback has named
    this attempt's call (then Twilio's error answer is all we know, and the row is ours to
    give back); False when one has (the call exists: it was placed, whatever the answer)."""
    session.refresh(callback, with_for_update=True)
    return callback.status == CallbackStatus.DIALING and callback.call_sid is None


def outbound_contact(session: Session, callback: Callback, call_sid: str) -> Contact:
    """Every attempt is an outbound contact on the ticket (X2); one per CallSid."""
    contact = session.scalars(
        select(Contact).where(Contact.channel == "voice", Contact.external_id == call_sid)
    ).first()
    if contact is not None:
        return contact
    contact = Contact(channel="voice", direction="outbound", kind="callback",
                      external_id=call_sid, status=CallStatus.QUEUED, to_number=callback.phone,
                      ticket_id=callback.ticket_id, callback_id=callback.id)
    try:
        with session.begin_nested():
            session.add(contact)
    except IntegrityError:
        # The worker and the first status callback raced to record the same call leg.
        existing = session.scalars(
            select(Contact).where(Contact.channel == "voice", Contact.external_id == call_sid)
        ).first()
        assert existing is not None
        return existing
    return contact


def settle(session: Session, settings: Settings, callback: Callback, call_sid: str,
           call_status: str, answered_by: str | None,
           now: datetime | None = None) -> datetime | None:
    """The call ended: completed when a person answered, else the next attempt (or failed).

    Only the callback's current call settles it; a late or duplicated event of an earlier
    attempt changes nothing. Returns the next attempt's due time, if any.
    """
    now = now or utcnow()
    if callback.status != CallbackStatus.DIALING:
        return None
    if callback.call_sid is None:
        callback.call_sid = call_sid  # the worker died before storing it: adopt it now
    if callback.call_sid != call_sid:
        return None
    # Twilio accepted this attempt's call: an earlier API error's back-off streak is over,
    # even when this event came before the job stored the SID (placed() resets it too).
    callback.api_errors = 0
    machine = bool(answered_by) and not answered_by.startswith("human") and (
        answered_by != "unknown")
    if call_status == CallStatus.COMPLETED and not machine:
        callback.status = CallbackStatus.COMPLETED
        callback.last_error = None
        return None
    outcome = "answering machine" if call_status == CallStatus.COMPLETED else call_status
    if callback.attempts >= settings.callback_max_attempts:
        callback.status = CallbackStatus.FAILED
        callback.last_error = f"not reached after {callback.attempts} attempts ({outcome})"
        return None
    ladder = settings.callback_retry_minutes
    delay = timedelta(minutes=ladder[min(callback.attempts - 1, len(ladder) - 1)])
    ticket = session.get(Ticket, callback.ticket_id)
    customer = session.get(Customer, ticket.customer_id) if ticket and ticket.customer_id else None
    when = opening_at_or_after(settings, customer, now + delay)
    callback.status = CallbackStatus.SCHEDULED
    callback.due_at = when
    callback.dialing_since = None
    callback.call_sid = None
    callback.last_error = outcome
    return when


def due_callbacks(session: Session, until: datetime) -> list[Callback]:
    return list(session.scalars(
        select(Callback).where(Callback.status == CallbackStatus.SCHEDULED,
                               Callback.due_at <= until)
        .order_by(Callback.due_at)))


def stuck_dialing(session: Session, now: datetime | None = None) -> list[Callback]:
    """Dialing for too long with no final status: the worker or the status callback was lost."""
    cutoff = (now or utcnow()) - STUCK_DIALING
    return list(session.scalars(
        select(Callback).where(Callback.status == CallbackStatus.DIALING,
                               Callback.dialing_since < cutoff)))


def _local_midnight_after(now: datetime, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    day = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=zone)


WRITTEN_CHANNELS = ("sms", "whatsapp", "email")


def tickets_without_response(session: Session, settings: Settings,
                             now: datetime | None = None, limit: int = 500) -> list[Ticket]:
    """P2.2b: waiting on the customer, our written message last, silence past the limit.

    A ticket already given a callback since that message is left alone.
    """
    cutoff = (now or utcnow()) - timedelta(hours=settings.no_response_hours)
    latest = (
        select(Contact.ticket_id.label("ticket_id"), func.max(Contact.started_at).label("last"))
        .where(Contact.ticket_id.is_not(None))
        .group_by(Contact.ticket_id)
        .subquery()
    )
    last_contact = and_(Contact.ticket_id == Ticket.id, Contact.started_at == latest.c.last)
    return list(session.scalars(
        select(Ticket)
        .join(latest, latest.c.ticket_id == Ticket.id)
        .join(Contact, last_contact)
        .where(
            Ticket.status == TicketStatus.PENDING_CUSTOMER,
            Ticket.customer_id.is_not(None),
            Contact.direction == "outbound",
            Contact.asks_customer.is_(True),  # an acknowledgement asks nothing
            Contact.channel.in_(WRITTEN_CHANNELS),
            latest.c.last < cutoff,
            ~exists(select(Callback.id).where(Callback.ticket_id == Ticket.id,
                                              Callback.created_at >= latest.c.last)),
        )
        .order_by(latest.c.last)
        .limit(limit)
    ).unique())


def schedule_no_response(session: Session, settings: Settings,
                         now: datetime | None = None) -> list[Callback]:
    """Owe a ``no_response`` callback on each silent ticket; returns the new rows."""
    created: list[Callback] = []
    for ticket in tickets_without_response(session, settings, now):
        callback, is_new = request_callback(session, settings, ticket, reason="no_response",
                                            earliest=now)
        if callback is not None and is_new:
            created.append(callback)
    return created
