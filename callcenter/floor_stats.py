"""The supervisor's floor (breach flags included): today's figures.

Everything is computed with a handful of aggregate queries (``GROUP BY``, ``COUNT``, ``MIN``)
so the page answers quickly with 100,000 tickets; no Python loop walks the ticket or contact
tables. Only tickets near or past their deadline are loaded as rows, at most ``list_limit`` of
each (the soonest nearing, the most late breached); their counts come from the same ``GROUP BY``
scan as the tickets by category and status.

"Today" is the local calendar day in the centre's zone (``CALLCENTER_TZ``): from local
midnight to the next local midnight. Definitions:

* **calls per hour** — inbound customer calls: ``Contact`` rows with ``channel="voice"``,
  ``direction="inbound"``, ``kind="customer"``, by the local hour of ``started_at`` (agent legs
  and callback calls are not customer calls in; X2 logs every call, even one dropped in the
  greeting, P1.5).
* **queue** — callers waiting for an agent now (``queue_state="waiting"``) and the longest
  wait (now − the earliest ``queued_at`` of those waiting, in whole seconds). Agents
  *available* are free to be offered a call now (routing flag ``available`` set and no
  ``current_call_sid``, not wrapping up: :func:`callcenter.voice.agents.any_agent_free`);
  *on a call* have a
  ``current_call_sid`` (ringing or talking).
* **abandonment** — of the callers put in the agent queue today (``queued_at`` today), those who
  hung up before an agent took them (``queue_state="abandoned"``, set when the caller's leg
  ends while still waiting). The rate is abandoned / queued, in percent (1 decimal); callers
  still waiting count in the denominator only.
* **callbacks** (P2.1, P2.2) — *scheduled*: ``Callback`` rows created today (owed calls, whatever
  became of them); *placed*: outbound callback call attempts started today (``Contact`` with a
  ``callback_id``: one per attempt Twilio accepted, :func:`callcenter.callbacks.policy.placed`), so
  a
  callback tried three times is placed three times; *answered*: of those attempts, the ones a
  person answered — ``status="completed"`` and not an answering machine or fax, the same rule
  :func:`callcenter.callbacks.policy.settle` uses to mark a callback completed.
* **tickets by category / by status** — open tickets only (status open, pending_customer,
  pending_documents: :data:`callcenter.compliance.OPEN_TICKET_STATUSES`).
* **due** (breach prevention) — :func:`callcenter.compliance.regulation.nearing` (due
within
  ``COMPLAINT_NEARING_WORKING_DAYS`` working days and not late) and
  :func:`callcenter.compliance.regulation.breached` (past the stored ``due_at``, with how late in
  working
  days), over every unsettled ticket with a stored ``due_at`` (questions too, as those
  functions do; a written complaint still waiting for its documents has none). The counts use
  the same bounds in SQL (:func:`_due_window`), so they agree with what those functions would
  say of every ticket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.models import (
    Agent,
    Callback,
    Contact,
    OutboundEmail,
    OutboundMessage,
    Ticket,
    utcnow,
)
from callcenter.statuses import (
    OPEN_TICKET_STATUSES,
    PENDING_CALLBACK_STATUSES,
    CallbackStatus,
    CallStatus,
    OutboxStatus,
    QueueState,
)

LIST_LIMIT = 25  # nearing and breached tickets listed by name (all are counted)
# A call queued today started at most this long before local midnight (bounds the scan by the
# indexed ``contacts.started_at``; ``queued_at`` has no index of its own).
LONGEST_CALL = timedelta(hours=12)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: a stable machine ``label`` and its ``value``."""

    label: str
    value: int


@dataclass
class FloorStats:
    """Today's figures for the floor page (see the module docstring for each definition)."""

    now: datetime  # aware, UTC
    day: date  # local
    tz: str
    calls_per_hour: list[Bar]  # 24 bars, labels "00".."23" (local hour)
    waiting: int
    longest_wait_s: int
    agents_available: int
    agents_on_call: int
    queued_today: int
    abandoned_today: int
    callbacks_scheduled: int
    callbacks_placed: int
    callbacks_answered: int
    open_by_category: list[Bar]  # most first, then by label
    open_by_status: list[Bar]  # in OPEN_TICKET_STATUSES order
    nearing: list[regulation.ClockStatus] = field(default_factory=list)  # soonest first
    nearing_count: int = 0
    breached: list[regulation.ClockStatus] = field(default_factory=list)  # most late first
    breached_count: int = 0
    nearing_working_days: int = 1

    @property
    def calls_today(self) -> int:
        return sum(bar.value for bar in self.calls_per_hour)

    @property
    def abandonment_percent(self) -> Decimal | None:
        """Abandoned / queued today in percent, 1 decimal (half up); ``None`` if none queued."""
        if not self.queued_today:
            return None
        rate = Decimal(self.abandoned_today * 100) / Decimal(self.queued_today)
        return rate.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def open_tickets(self) -> int:
        return sum(bar.value for bar in self.open_by_status)

    @property
    def nearing_more(self) -> int:
        """Nearing tickets not listed (beyond ``list_limit``)."""
        return self.nearing_count - len(self.nearing)

    @property
    def breached_more(self) -> int:
        """Breached tickets not listed (beyond ``list_limit``)."""
        return self.breached_count - len(self.breached)


def day_bounds(now: datetime, tz: str) -> tuple[date, datetime, datetime]:
    """The local day of ``now`` and its bounds (local midnight to local midnight), aware."""
    zone = ZoneInfo(tz)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return day, start, end


def _hour_starts(day: date, tz: str) -> list[datetime]:
    """The UTC start of each local hour of ``day`` and the next midnight (25 instants)."""
    zone = ZoneInfo(tz)
    starts = [datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
              for hour in range(24)]
    starts.append(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
                  .astimezone(UTC))
    return starts


def _calls_per_hour(session: Session, day: date, tz: str) -> list[Bar]:
    """One ``GROUP BY`` over today's inbound customer calls, bucketed by local hour.

    The bucket is a ``CASE`` over the 24 local-hour boundaries (computed here in the centre's
    zone), so the same SQL works on SQLite and PostgreSQL and follows the zone exactly.
    """
    bounds = _hour_starts(day, tz)
    hour = case(*[(Contact.started_at < bounds[h + 1], h) for h in range(23)], else_=23)
    inner = (
        select(hour.label("hour"))
        .where(Contact.started_at >= bounds[0], Contact.started_at < bounds[24],
               Contact.channel == "voice", Contact.direction == "inbound",
               Contact.kind == "customer")
        .subquery()
    )
    counts = dict(session.execute(
        select(inner.c.hour, func.count()).group_by(inner.c.hour)).all())
    return [Bar(f"{h:02d}", int(counts.get(h, 0))) for h in range(24)]


def _due_window(settings: Settings, now: datetime, within: int) -> datetime:
    """The last instant a deadline can fall on and still be *nearing* at ``now``.

    :func:`regulation.nearing` keeps a ticket when ``working_days_between(now, due) <=
    within``, i.e. when its local due day comes before the ``within + 1``-th working day after
    today. So the window ends at the end of the day before that working day, and a deadline on a
    weekend or holiday right after the ``within``-th working day is kept too. Counting
    ``now <= due_at <= window`` in SQL therefore counts exactly the tickets ``nearing`` lists.
    """
    calendar = regulation.WorkCalendar.from_settings(settings)
    today = calendar.local_date(now)
    last_day = calendar.add_working_days(today, within + 1) - timedelta(days=1)
    return calendar.end_of_day(last_day)


@dataclass(frozen=True)
class _TicketCounts:
    by_category: list[Bar]
    by_status: list[Bar]
    nearing: int
    breached: int


def _ticket_counts(session: Session, now: datetime, window: datetime) -> _TicketCounts:
    """One scan of the open tickets: by category and status, and how many are nearing or
    breached (``due_at`` in the nearing window / before now)."""
    breached = case((Ticket.due_at < now, 1), else_=0)
    nearing = case((and_(Ticket.due_at >= now, Ticket.due_at <= window), 1), else_=0)
    rows = session.execute(
        select(Ticket.category, Ticket.status, func.count(), func.sum(nearing),
               func.sum(breached))
        .where(Ticket.status.in_(OPEN_TICKET_STATUSES))
        .group_by(Ticket.category, Ticket.status)
    ).all()
    by_category: dict[str, int] = {}
    by_status = dict.fromkeys(OPEN_TICKET_STATUSES, 0)
    nearing_count = breached_count = 0
    for category, status, count, near, late in rows:
        by_category[category] = by_category.get(category, 0) + count
        by_status[status] = by_status.get(status, 0) + count
        nearing_count += int(near or 0)
        breached_count += int(late or 0)
    categories = sorted(by_category.items(), key=lambda item: (-item[1], item[0]))
    return _TicketCounts([Bar(c, n) for c, n in categories],
                         [Bar(s, n) for s, n in by_status.items()],
                         nearing_count, breached_count)


def _due_lists(session: Session, settings: Settings, now: datetime, within: int,
               window: datetime, limit: int) -> tuple[list[regulation.ClockStatus],
                                                       list[regulation.ClockStatus]]:
    """The soonest nearing and the most late breached tickets, at most ``limit`` of each,
    judged by :func:`regulation.nearing` and :func:`regulation.breached`.

    Only unsettled tickets in the window or past due are loaded; the breached ones one status
    at a time, so each query walks the ``(status, due_at)`` index in order and stops at
    ``limit`` instead of sorting every late ticket.
    """
    calendar = regulation.WorkCalendar.from_settings(settings)
    soon = session.scalars(
        select(Ticket).where(Ticket.status.in_(OPEN_TICKET_STATUSES),
                             Ticket.due_at >= now, Ticket.due_at <= window)
        .order_by(Ticket.due_at, Ticket.id).limit(limit)
    ).all()
    late: list[Ticket] = []
    for status in OPEN_TICKET_STATUSES:
        late.extend(session.scalars(
            select(Ticket).where(Ticket.status == status, Ticket.due_at < now)
            .order_by(Ticket.due_at, Ticket.id).limit(limit)
        ).all())
    # The most late are the earliest due: keep ``limit`` of the three lists before working out
    # how late each is (a working-day count per ticket).
    late = sorted(late, key=lambda t: (t.due_at, t.id))[:limit]
    return (regulation.nearing(soon, now, within, calendar),
            regulation.breached(late, now, calendar))


def _queue_now(session: Session, now: datetime) -> tuple[int, int]:
    """Callers waiting for an agent now, and the longest wait in whole seconds."""
    waiting, first_queued = session.execute(
        select(func.count(), func.min(Contact.queued_at))
        .where(Contact.queue_state == QueueState.WAITING)
    ).one()
    longest = 0
    if first_queued is not None:
        longest = max(int((now - first_queued).total_seconds()), 0)
    return int(waiting), longest


def _agents_now(session: Session, now: datetime) -> tuple[int, int]:
    """Agents free to be offered a call now (not wrapping up their last one either), and
    agents on a call (ringing or talking)."""
    free = and_(Agent.available.is_(True), Agent.current_call_sid.is_(None),
                or_(Agent.wrap_up_until.is_(None), Agent.wrap_up_until <= now))
    available, on_call = session.execute(
        select(func.coalesce(func.sum(case((free, 1), else_=0)), 0),
               func.coalesce(func.sum(case((Agent.current_call_sid.is_not(None), 1),
                                           else_=0)), 0))
    ).one()
    return int(available), int(on_call)


def _queued_today(start: datetime, end: datetime) -> Any:
    """The callers put in the agent queue between ``start`` and ``end`` (local day)."""
    return and_(Contact.started_at >= start - LONGEST_CALL, Contact.started_at < end,
                Contact.queued_at >= start, Contact.queued_at < end)


def _queued_and_abandoned(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """Callers who waited in the queue today, and how many of them hung up waiting."""
    queued, abandoned = session.execute(
        select(func.count(),
               func.coalesce(func.sum(case((Contact.queue_state == QueueState.ABANDONED, 1),
                                           else_=0)), 0))
        .where(_queued_today(start, end))
    ).one()
    return int(queued), int(abandoned)


def floor_stats(session: Session, settings: Settings, now: datetime | None = None,
                list_limit: int = LIST_LIMIT) -> FloorStats:
    """Today's figures (see the module docstring); reads only, never commits."""
    now = (now or utcnow()).astimezone(UTC)
    tz = settings.timezone
    day, start, end = day_bounds(now, tz)
    waiting, longest = _queue_now(session, now)
    available, on_call = _agents_now(session, now)

    queued, abandoned = _queued_and_abandoned(session, start, end)

    scheduled = session.scalar(
        select(func.count()).select_from(Callback)
        .where(Callback.created_at >= start, Callback.created_at < end)) or 0
    human = or_(Contact.answered_by.is_(None), Contact.answered_by == "",
                Contact.answered_by.like("human%"), Contact.answered_by == "unknown")
    placed, answered = session.execute(
        select(func.count(),
               func.coalesce(func.sum(case((and_(Contact.status == CallStatus.COMPLETED,
                                                 human), 1), else_=0)), 0))
        .where(Contact.started_at >= start, Contact.started_at < end,
               Contact.callback_id.is_not(None), Contact.direction == "outbound")
    ).one()

    within = settings.complaint_nearing_working_days
    window = _due_window(settings, now, within)
    tickets = _ticket_counts(session, now, window)
    nearing, breached = _due_lists(session, settings, now, within, window, list_limit)

    return FloorStats(
        now=now, day=day, tz=tz,
        calls_per_hour=_calls_per_hour(session, day, tz),
        waiting=waiting, longest_wait_s=longest,
        agents_available=available, agents_on_call=on_call,
        queued_today=int(queued), abandoned_today=int(abandoned),
        callbacks_scheduled=int(scheduled), callbacks_placed=int(placed),
        callbacks_answered=int(answered),
        open_by_category=tickets.by_category, open_by_status=tickets.by_status,
        nearing=nearing, nearing_count=tickets.nearing,
        breached=breached, breached_count=tickets.breached,
        nearing_working_days=within,
    )


# -- what /metrics reads at every scrape ---------------------------------------------------------

SERVICE_LEVEL_TARGET_S = 20  # "answered by an agent within 20 seconds"


@dataclass(frozen=True)
class ServiceFigures:
    """The figures the people who keep the service running watch (``/metrics``), from the
    database at the moment they are asked for, so every web host reports the whole fleet.

    *offered*: inbound customer calls started today (the floor's calls per hour);
    *queued*, *abandoned*: as the floor's abandonment; *answered*: of the callers queued
    today, those an agent took (``answered_at``), *answered_in_target* within
    :data:`SERVICE_LEVEL_TARGET_S` of being queued; the *speed of answer* is the mean wait of
    the answered. Callbacks are counted by status: those still owed (``scheduled``,
    ``dialing``) whenever due, and every status among those due today (their outcome); the
    oldest due one is the earliest ``due_at`` still ``scheduled`` and already due. The outbox
    counts rows still ``pending`` by kind, with the age of the oldest.
    """

    offered_today: int
    queued_today: int
    answered_today: int
    abandoned_today: int
    answered_in_target_today: int
    speed_of_answer_s: float | None
    waiting: int
    longest_wait_s: int
    agents_available: int
    agents_on_call: int
    callbacks_pending: dict[str, int]
    callbacks_due_today: dict[str, int]
    oldest_due_callback_s: float
    outbox_pending: dict[str, int]
    outbox_oldest_pending_s: dict[str, float]

    @property
    def service_level(self) -> float | None:
        """Answered within the target / queued today; None before anyone queued today."""
        if not self.queued_today:
            return None
        return self.answered_in_target_today / self.queued_today


def service_figures(session: Session, settings: Settings,
                    now: datetime | None = None) -> ServiceFigures:
    """Read :class:`ServiceFigures` (a handful of aggregate queries on indexed columns and
    the day's answered calls); reads only, never commits."""
    now = (now or utcnow()).astimezone(UTC)
    _day, start, end = day_bounds(now, settings.timezone)
    offered = session.scalar(
        select(func.count()).select_from(Contact)
        .where(Contact.started_at >= start, Contact.started_at < end,
               Contact.channel == "voice", Contact.direction == "inbound",
               Contact.kind == "customer")) or 0
    queued, abandoned = _queued_and_abandoned(session, start, end)
    waits = [(answered - queued_at).total_seconds() for queued_at, answered in session.execute(
        select(Contact.queued_at, Contact.answered_at)
        .where(_queued_today(start, end), Contact.answered_at.is_not(None)))]
    waiting, longest = _queue_now(session, now)
    available, on_call = _agents_now(session, now)
    pending_callbacks = dict.fromkeys(PENDING_CALLBACK_STATUSES, 0)
    pending_callbacks.update({status: int(count) for status, count in session.execute(
        select(Callback.status, func.count())
        .where(Callback.status.in_(PENDING_CALLBACK_STATUSES)).group_by(Callback.status))})
    due_today = dict.fromkeys(CallbackStatus, 0)
    due_today.update({status: int(count) for status, count in session.execute(
        select(Callback.status, func.count())
        .where(Callback.due_at >= start, Callback.due_at < end).group_by(Callback.status))})
    oldest_due = session.scalar(
        select(func.min(Callback.due_at))
        .where(Callback.status == CallbackStatus.SCHEDULED, Callback.due_at <= now))
    pending: dict[str, int] = {}
    oldest_pending: dict[str, float] = {}
    for kind, model in (("sms", OutboundMessage), ("email", OutboundEmail)):
        count, first = session.execute(
            select(func.count(), func.min(model.created_at))
            .where(model.status == OutboxStatus.PENDING)).one()
        pending[kind] = int(count)
        oldest_pending[kind] = _age(now, first)
    return ServiceFigures(
        offered_today=int(offered), queued_today=int(queued), answered_today=len(waits),
        abandoned_today=int(abandoned),
        answered_in_target_today=sum(1 for wait in waits if wait <= SERVICE_LEVEL_TARGET_S),
        speed_of_answer_s=sum(waits) / len(waits) if waits else None,
        waiting=waiting, longest_wait_s=longest, agents_available=available,
        agents_on_call=on_call,
        callbacks_pending={str(k): v for k, v in pending_callbacks.items()},
        callbacks_due_today={str(k): v for k, v in due_today.items()},
        oldest_due_callback_s=_age(now, oldest_due), outbox_pending=pending,
        outbox_oldest_pending_s=oldest_pending)


def _age(now: datetime, since: datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0
