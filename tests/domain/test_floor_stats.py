"""The supervisor's floor figures.

A known day is seeded — Friday 27 November 2026, 15:00 in Jakarta — with calls at various local
hours (one just after local midnight, which is still the day before in UTC), callers waiting and
abandoned, callbacks in each state, open and settled tickets, and deadlines on both sides of a
weekend. Every expected figure is computed here from the seed itself, in plain Python.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callcenter.compliance import regulation
from callcenter.compliance.regulation import WorkCalendar
from callcenter.floor_stats import floor_stats
from callcenter.models import Agent, Callback, Contact, Ticket
from callcenter.statuses import OPEN_TICKET_STATUSES
from callcenter.tickets.lifecycle import open_ticket
from tests.factories import make_customer

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=WIB)  # a Friday
TODAY_START = datetime(2026, 11, 27, tzinfo=WIB)
TOMORROW_START = TODAY_START + timedelta(days=1)


def wib(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=WIB)


def end_of(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 23, 59, 59, tzinfo=WIB)


@dataclass
class Call:
    """A voice contact of the seed (customer call, agent leg or callback attempt)."""

    started: datetime
    direction: str = "inbound"
    kind: str = "customer"
    channel: str = "voice"
    queue_state: str | None = None
    queued: datetime | None = None
    status: str = "completed"
    answered_by: str | None = None
    callback: str | None = None  # key of the callback it dialled


@dataclass
class TicketSeed:
    key: str
    category: str
    status: str
    due: datetime | None
    late_working_days: int | None = None  # when breached at NOW (counted by hand)
    left_working_days: int | None = None  # when nearing at NOW (counted by hand)


@dataclass
class CallbackSeed:
    key: str
    ticket: str
    status: str
    created: datetime


@dataclass
class Seeded:
    tickets: dict[str, Ticket] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    ticket_seeds: list[TicketSeed] = field(default_factory=list)
    callback_seeds: list[CallbackSeed] = field(default_factory=list)


TICKETS = [
    # Due around the weekend: NOW is Friday 15:00; nearing = due within 1 working day.
    TicketSeed("due_today", "app_failure", "open", end_of(27), left_working_days=0),
    TicketSeed("due_monday", "payment_detail", "pending_customer", end_of(30),
               left_working_days=1),  # Saturday and Sunday are not counted
    TicketSeed("due_tuesday", "payment_detail", "open", end_of(1, month=12)),  # 2 left
    TicketSeed("settled_due_monday", "app_failure", "resolved", end_of(30)),
    TicketSeed("late_a_week", "collector_behaviour", "pending_documents", end_of(20),
               late_working_days=5),  # 23, 24, 25, 26, 27 November
    TicketSeed("late_since_yesterday", "app_failure", "open", end_of(26), late_working_days=1),
    TicketSeed("late_this_morning", "inquiry", "open", wib(27, 10), late_working_days=0),
    TicketSeed("settled_late", "collector_behaviour", "resolved", end_of(25)),
    TicketSeed("clock_not_started", "data_misuse", "pending_documents", None),
    TicketSeed("for_callbacks_1", "callback_request", "open", end_of(4, month=12)),
    TicketSeed("for_callbacks_2", "callback_request", "open", end_of(4, month=12)),
    TicketSeed("for_callbacks_3", "agent_request", "closed", end_of(4, month=12)),
    TicketSeed("for_callbacks_4", "callback_request", "resolved", end_of(4, month=12)),
]

CALLBACKS = [
    CallbackSeed("waiting_to_dial", "for_callbacks_1", "scheduled", wib(27, 9)),
    CallbackSeed("reached", "for_callbacks_3", "completed", wib(27, 11)),
    CallbackSeed("dialing", "for_callbacks_2", "dialing", wib(27, 14)),
    CallbackSeed("yesterday", "for_callbacks_4", "failed", wib(26, 10)),
]

CALLS = [
    # Inbound customer calls today at various local hours.
    Call(wib(27, 0, 10)),  # 26 Nov 17:10 UTC: today in Jakarta
    Call(wib(27, 8, 5), queue_state="done", queued=wib(27, 8, 6)),
    Call(wib(27, 9, 0)),
    Call(wib(27, 9, 30), queue_state="abandoned", queued=wib(27, 9, 31)),
    Call(wib(27, 9, 59, 59)),
    Call(wib(27, 13, 15), queue_state="abandoned", queued=wib(27, 13, 16)),
    Call(wib(27, 13, 40), queue_state="bridged", queued=wib(27, 13, 41)),
    Call(wib(27, 14, 50), queue_state="waiting", queued=NOW - timedelta(seconds=300),
         status="in-progress"),
    Call(wib(27, 14, 57), queue_state="waiting", queued=NOW - timedelta(seconds=90),
         status="in-progress"),
    # Yesterday (not today): one queued and abandoned yesterday, one queued after midnight.
    Call(wib(26, 23, 40), queue_state="abandoned", queued=wib(26, 23, 41)),
    Call(wib(26, 23, 55), queue_state="abandoned", queued=wib(27, 0, 2)),
    # Not customer calls in: an agent leg, an SMS, callback attempts.
    Call(wib(27, 10), direction="outbound", kind="agent_leg", queue_state="done"),
    Call(wib(27, 10, 5), channel="sms"),
    Call(wib(27, 11), direction="outbound", kind="callback", answered_by="human",
         callback="reached"),
    Call(wib(27, 10, 30), direction="outbound", kind="callback", answered_by="machine_end_beep",
         callback="reached"),
    Call(wib(27, 9, 5), direction="outbound", kind="callback", status="no-answer",
         callback="waiting_to_dial"),
    Call(wib(27, 14, 1), direction="outbound", kind="callback", status="busy",
         callback="dialing"),
    Call(wib(27, 12, 0), direction="outbound", kind="callback", answered_by=None,
         callback="reached"),  # no AnsweredBy: a person, as callbacks.settle decides
    Call(wib(26, 10, 5), direction="outbound", kind="callback", answered_by="human",
         callback="yesterday"),
]

AGENTS = [  # name, available (routing), current_call_sid, presence
    ("Ayu", True, None, "available"),
    ("Bayu", True, "CA-bayu", "available"),
    ("Citra", False, None, "away"),
    ("Dewi", False, "CA-dewi", "busy"),
]


def seed_day(session: Session) -> Seeded:
    """The known day, committed. Usable from the console tests too."""
    seeded = Seeded(calls=list(CALLS), ticket_seeds=list(TICKETS),
                    callback_seeds=list(CALLBACKS))
    customer = make_customer(session, order_id="FLOOR-1", phone="+6281200000077")
    for spec in TICKETS:
        ticket = open_ticket(session, channel="email", customer_id=customer.id,
                             category=spec.category, now=wib(20, 9))
        ticket.status, ticket.due_at = spec.status, spec.due
        if spec.status not in OPEN_TICKET_STATUSES:
            ticket.resolved_at = wib(26, 9)
        seeded.tickets[spec.key] = ticket
    callbacks: dict[str, Callback] = {}
    for spec in CALLBACKS:
        callback = Callback(ticket_id=seeded.tickets[spec.ticket].id, reason="dropped_call",
                            status=spec.status, phone=customer.phone, due_at=spec.created,
                            created_at=spec.created)
        session.add(callback)
        callbacks[spec.key] = callback
    session.flush()
    for index, call in enumerate(CALLS):
        session.add(Contact(
            channel=call.channel, direction=call.direction, kind=call.kind,
            external_id=f"CA-seed-{index}", status=call.status, started_at=call.started,
            queue_state=call.queue_state, queued_at=call.queued, answered_by=call.answered_by,
            callback_id=callbacks[call.callback].id if call.callback else None))
    for name, available, sid, presence in AGENTS:
        session.add(Agent(name=name, client_identity=name.lower(), available=available,
                          current_call_sid=sid, presence=presence))
    session.commit()
    return seeded


def today(moment: datetime | None) -> bool:
    return moment is not None and TODAY_START <= moment < TOMORROW_START


def expected_calls_per_hour() -> dict[str, int]:
    counts = Counter(c.started.astimezone(WIB).hour for c in CALLS
                     if today(c.started) and c.channel == "voice" and c.direction == "inbound"
                     and c.kind == "customer")
    return {f"{hour:02d}": counts.get(hour, 0) for hour in range(24)}


def expected() -> dict[str, object]:
    """Every figure of the floor at NOW, from the seed lists (not from the database)."""
    waiting = [c for c in CALLS if c.queue_state == "waiting"]
    queued = [c for c in CALLS if today(c.queued)]
    abandoned = [c for c in queued if c.queue_state == "abandoned"]
    attempts = [c for c in CALLS if c.callback and today(c.started)]
    answered = [c for c in attempts if c.status == "completed"
                and (c.answered_by is None or c.answered_by.startswith("human"))]
    open_tickets = [t for t in TICKETS if t.status in OPEN_TICKET_STATUSES]
    return {
        "calls_per_hour": expected_calls_per_hour(),
        "waiting": len(waiting),
        "longest_wait_s": max(int((NOW - c.queued).total_seconds()) for c in waiting
                              if c.queued),
        "agents_available": sum(1 for _, available, sid, _ in AGENTS if available and not sid),
        "agents_on_call": sum(1 for _, _, sid, _ in AGENTS if sid),
        "queued": len(queued),
        "abandoned": len(abandoned),
        "scheduled": sum(1 for c in CALLBACKS if today(c.created)),
        "placed": len(attempts),
        "answered": len(answered),
        "by_category": dict(Counter(t.category for t in open_tickets)),
        "by_status": {s: sum(1 for t in open_tickets if t.status == s)
                      for s in OPEN_TICKET_STATUSES},
        "nearing": {t.key: t.left_working_days for t in TICKETS
                    if t.left_working_days is not None},
        "breached": {t.key: t.late_working_days for t in TICKETS
                     if t.late_working_days is not None},
    }


def test_the_seed_covers_the_cases_it_claims():
    figures = expected()
    assert figures["calls_per_hour"]["00"] == 1  # the call just after local midnight
    assert figures["queued"] == 7 and figures["abandoned"] == 3
    assert (figures["scheduled"], figures["placed"], figures["answered"]) == (3, 5, 2)
    assert figures["breached"] == {"late_a_week": 5, "late_since_yesterday": 1,
                                   "late_this_morning": 0}


def test_todays_figures_in_jakarta_time(session, settings):
    seeded = seed_day(session)
    want = expected()
    stats = floor_stats(session, settings, now=NOW)

    assert stats.day == NOW.date()
    assert {bar.label: bar.value for bar in stats.calls_per_hour} == want["calls_per_hour"]
    assert stats.calls_today == sum(want["calls_per_hour"].values()) == 9
    assert stats.waiting == want["waiting"] == 2
    assert stats.longest_wait_s == want["longest_wait_s"] == 300
    assert (stats.agents_available, stats.agents_on_call) == (
        want["agents_available"], want["agents_on_call"]) == (1, 2)
    assert (stats.queued_today, stats.abandoned_today) == (want["queued"], want["abandoned"])
    assert stats.abandonment_percent == Decimal("42.9")  # 3 of 7, rounded half up
    assert (stats.callbacks_scheduled, stats.callbacks_placed, stats.callbacks_answered) == (
        want["scheduled"], want["placed"], want["answered"])
    assert {bar.label: bar.value for bar in stats.open_by_category} == want["by_category"]
    assert [bar.value for bar in stats.open_by_category] == sorted(
        want["by_category"].values(), reverse=True)
    assert {bar.label: bar.value for bar in stats.open_by_status} == want["by_status"]
    assert stats.open_tickets == sum(want["by_status"].values())

    # Nearing: due today and due Monday (the weekend is not counted); not Tuesday.
    assert [s.ticket.number for s in stats.nearing] == [
        seeded.tickets["due_today"].number, seeded.tickets["due_monday"].number]
    assert {s.ticket.id: s.working_days_left for s in stats.nearing} == {
        seeded.tickets[k].id: v for k, v in want["nearing"].items()}
    # Breached: most late first, with how late in working days; settled ones are not listed.
    assert [s.ticket.id for s in stats.breached] == [
        seeded.tickets[k].id for k in ("late_a_week", "late_since_yesterday",
                                       "late_this_morning")]
    assert {s.ticket.id: s.working_days_late for s in stats.breached} == {
        seeded.tickets[k].id: v for k, v in want["breached"].items()}
    assert stats.breached[0].calendar_days_late == 7
    assert stats.breached[-1].late_by == timedelta(hours=5)
    assert stats.breached_count == 3 and stats.breached_more == 0
    assert stats.nearing_count == 2 and stats.nearing_more == 0


def test_only_the_most_late_and_the_soonest_are_listed_but_all_are_counted(session, settings):
    seeded = seed_day(session)
    stats = floor_stats(session, settings, now=NOW, list_limit=1)
    assert [s.ticket.id for s in stats.breached] == [seeded.tickets["late_a_week"].id]
    assert stats.breached_count == 3 and stats.breached_more == 2
    assert [s.ticket.id for s in stats.nearing] == [seeded.tickets["due_today"].id]
    assert stats.nearing_count == 2 and stats.nearing_more == 1


def test_nearing_counts_agree_with_the_regulation_over_a_holiday_weekend(session, settings):
    """Christmas 2026 is a Friday: on Thursday the 24th, the next working day is Monday the
    28th, so every deadline from the 24th to the 28th is nearing (1 working day), the 29th not.
    The SQL count must say what :func:`regulation.nearing` says of every open ticket."""
    customer = make_customer(session, order_id="XMAS-1", phone="+6281200000078")
    due_days = range(24, 31)
    tickets = {}
    for day in due_days:
        ticket = open_ticket(session, channel="email", customer_id=customer.id,
                             category="app_failure", now=wib(10, 9, month=12))
        ticket.due_at = end_of(day, month=12)
        tickets[day] = ticket
    session.commit()
    calendar = WorkCalendar.from_settings(settings)
    everything = list(tickets.values())
    for now, within, nearing_days in (
            (wib(24, 10, month=12), 1, [24, 25, 26, 27, 28]),
            (wib(24, 10, month=12), 0, [24, 25, 26, 27]),
            (wib(28, 10, month=12), 1, [28, 29]),
            (wib(26, 10, month=12), 0, [26, 27]),  # a Saturday: Monday is 1 working day on
            (wib(26, 10, month=12), 1, [26, 27, 28])):
        configured = dataclasses.replace(settings, complaint_nearing_working_days=within)
        stats = floor_stats(session, configured, now=now)
        by_regulation = regulation.nearing(everything, now, within, calendar)
        assert [s.ticket.id for s in stats.nearing] == [tickets[d].id for d in nearing_days]
        assert [s.ticket.id for s in stats.nearing] == [s.ticket.id for s in by_regulation]
        assert stats.nearing_count == len(by_regulation) == len(nearing_days)
        late = regulation.breached(everything, now, calendar)
        assert stats.breached_count == len(late)


def test_a_wider_nearing_window_follows_the_setting(session, settings):
    seeded = seed_day(session)
    wider = dataclasses.replace(settings, complaint_nearing_working_days=2)
    stats = floor_stats(session, wider, now=NOW)
    assert [s.ticket.id for s in stats.nearing] == [
        seeded.tickets[k].id for k in ("due_today", "due_monday", "due_tuesday")]


def test_the_day_turns_at_local_midnight(session, settings):
    seed_day(session)
    # 23:59 Jakarta on the same Friday: still the same day's figures.
    late = floor_stats(session, settings, now=wib(27, 23, 59))
    assert late.calls_today == 9
    # One minute after local midnight (still Friday in UTC): a new, empty day.
    next_day = floor_stats(session, settings, now=wib(28, 0, 1))
    assert next_day.day == datetime(2026, 11, 28).date()
    assert next_day.now.astimezone(UTC).day == 27
    assert next_day.calls_today == 0 and next_day.queued_today == 0
    assert next_day.abandonment_percent is None
    assert (next_day.callbacks_scheduled, next_day.callbacks_placed) == (0, 0)
    # Still waiting callers are still waiting (queue figures are "now", not "today").
    assert next_day.waiting == 2


def test_an_empty_floor_is_all_zeros(session, settings):
    stats = floor_stats(session, settings, now=NOW)
    assert stats.calls_today == 0 and len(stats.calls_per_hour) == 24
    assert (stats.waiting, stats.longest_wait_s, stats.agents_available) == (0, 0, 0)
    assert stats.abandonment_percent is None
    assert stats.open_by_category == [] and stats.open_tickets == 0
    assert stats.nearing == [] and stats.breached == []
    assert stats.nearing_count == 0 and stats.breached_count == 0
