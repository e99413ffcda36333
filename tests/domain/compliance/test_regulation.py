"""The regulatory clock: POJK 22/2023 figures by default, POJK 18/2018 by setting.

Expected dates are counted by hand on the 2026/2027 calendar (``holidays`` 0.108, country ID):
public days 2026-03-19 (Nyepi), 03-21/22 (Idul Fitri, a weekend), 12-25, 2027-01-01, 01-05;
collective leave (government) 2026-03-18, 03-20, 03-23, 03-24, 12-24.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from callcenter.compliance import regulation
from callcenter.compliance.regulation import WorkCalendar
from callcenter.config import ConfigError, Settings
from callcenter.models import RequiredDocument, Ticket
from callcenter.tickets.lifecycle import open_ticket
from tests.factories import make_customer

WIB = ZoneInfo("Asia/Jakarta")


def wib(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time(23, 59, 59), tzinfo=WIB)


def base_settings(**overrides: object) -> Settings:
    return replace(Settings.from_env({}), **overrides)


# --- working days (no database) ------------------------------------------------------------


def test_kind_of_channel():
    assert regulation.kind_of("voice") == "oral"
    assert regulation.kind_of("walk_in") == "oral"
    for channel in ("email", "whatsapp", "sms", "social", "letter"):
        assert regulation.kind_of(channel) == "written"


def test_oral_deadline_skips_the_weekend():
    # Thu 26 Nov 2026: Fri 27, Mon 30, Tue 1, Wed 2, Thu 3 Dec.
    assert regulation.due_date(wib(2026, 11, 26), "oral", base_settings()) == end_of(2026, 12, 3)


def test_received_on_a_weekend_counts_from_monday():
    # Sat 28 Nov: Mon 30 is day 1, Fri 4 Dec day 5.
    assert regulation.due_date(wib(2026, 11, 28), "oral", base_settings()) == end_of(2026, 12, 4)


def test_day_is_taken_in_jakarta_time_not_utc():
    # Thu 26 Nov 20:00 UTC is already Fri 27 Nov 03:00 in Jakarta.
    received = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
    assert regulation.due_date(received, "oral", base_settings()) == end_of(2026, 12, 4)


def test_idul_fitri_2026_collective_leave_counted_by_default():
    # Tue 17 Mar: Wed 18 (joint), [Thu 19 Nyepi], Fri 20 (joint), [Sat 21, Sun 22 Eid],
    # Mon 23 (joint), Tue 24 (joint), Wed 25.
    assert regulation.due_date(wib(2026, 3, 17), "oral", base_settings()) == end_of(2026, 3, 25)


def test_idul_fitri_2026_collective_leave_stops_the_clock_when_set():
    stops = base_settings(collective_leave_stops_clock=True)
    # 18, 19, 20, 23, 24 all off: Wed 25, Thu 26, Fri 27, Mon 30, Tue 31.
    assert regulation.due_date(wib(2026, 3, 17), "oral", stops) == end_of(2026, 3, 31)
    calendar = WorkCalendar.from_settings(stops)
    assert not calendar.is_working_day(date(2026, 3, 20))
    assert WorkCalendar().is_working_day(date(2026, 3, 20))
    assert not WorkCalendar().is_working_day(date(2026, 3, 19))


def test_christmas_and_new_year_written_pojk22():
    # Mon 21 Dec: 22, 23, 24 (joint, counted), [25], 28, 29, 30, 31, [1 Jan], 4, [5 Isra
    # Mi'raj 2027], 6, 7.
    settings = base_settings()
    assert regulation.due_date(wib(2026, 12, 21), "written", settings) == end_of(2027, 1, 7)
    extended = regulation.due_date(wib(2026, 12, 21), "written", settings, extended=True)
    assert extended == end_of(2027, 1, 21)


def test_pojk18_figures_are_selectable():
    settings = base_settings(complaint_rules="pojk18_2018")
    rules = regulation.rules_for(settings)
    assert (rules.oral_days, rules.written_days, rules.extension_days) == (5, 20, 20)
    assert regulation.due_date(wib(2026, 12, 21), "written", settings) == end_of(2027, 1, 21)
    assert regulation.due_date(wib(2026, 11, 26), "oral", settings) == end_of(2026, 12, 3)
    default = regulation.rules_for(base_settings())
    assert (default.oral_days, default.written_days, default.extension_days) == (5, 10, 10)


def test_company_days_off_are_not_working_days():
    settings = base_settings(company_days_off=(date(2026, 12, 31),))
    assert regulation.due_date(wib(2026, 12, 21), "written", settings) == end_of(2027, 1, 8)


def test_settings_from_env():
    settings = Settings.from_env({"COMPLAINT_RULES": "POJK18_2018",
                                  "COLLECTIVE_LEAVE_STOPS_CLOCK": "true",
                                  "COMPANY_DAYS_OFF": "2026-12-31, 2026-12-30,",
                                  "COMPLAINT_NEARING_WORKING_DAYS": "2"})
    assert settings.complaint_rules == "pojk18_2018"
    assert settings.collective_leave_stops_clock
    assert settings.company_days_off == (date(2026, 12, 30), date(2026, 12, 31))
    assert settings.complaint_nearing_working_days == 2
    defaults = Settings.from_env({})
    assert defaults.complaint_rules == "pojk22_2023"
    assert not defaults.collective_leave_stops_clock and defaults.company_days_off == ()
    with pytest.raises(ConfigError, match="COMPLAINT_RULES"):
        Settings.from_env({"COMPLAINT_RULES": "pojk99"})
    with pytest.raises(ConfigError, match="COMPANY_DAYS_OFF"):
        Settings.from_env({"COMPANY_DAYS_OFF": "31/12/2026"})


def test_working_days_between_is_the_inverse_of_adding():
    calendar = WorkCalendar()
    start = date(2026, 3, 10)
    for n in range(0, 30):
        assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n
    assert calendar.working_days_between(date(2026, 11, 27), date(2026, 11, 30)) == 1
    assert calendar.working_days_between(date(2026, 11, 30), date(2026, 11, 27)) == -1
    assert regulation.working_days_between(wib(2026, 11, 27), wib(2026, 11, 28), calendar) == 0


def test_holiday_sets_are_cached_per_year():
    regulation.holiday_set.cache_clear()
    calendar = WorkCalendar()
    for offset in range(400):
        calendar.is_working_day(date(2026, 6, 1) + timedelta(days=offset))
    info = regulation.holiday_set.cache_info()
    assert info.misses == 2 and info.hits > 250


# --- tickets on the real database ----------------------------------------------------------


def _ticket(session, channel: str, opened: datetime, **fields: object) -> Ticket:
    customer = make_customer(session, order_id=f"ORD{opened:%m%d%H%M}{channel}",
                             phone="+6281200000001")
    ticket = open_ticket(session, channel=channel, customer_id=customer.id,
                         category="payment_detail", now=opened)
    for name, value in fields.items():
        setattr(ticket, name, value)
    session.commit()
    return ticket


def _require(session, ticket: Ticket, name: str, requested: datetime,
             received: datetime | None = None) -> None:
    ticket.required_documents.append(RequiredDocument(
        ticket_id=ticket.id, name=name, requested_at=requested, received_at=received))
    session.commit()


def test_written_clock_starts_when_documents_are_complete(session, settings):
    ticket = _ticket(session, "email", wib(2026, 11, 2))
    assert regulation.compute_due(ticket, session, settings) == end_of(2026, 11, 16)
    _require(session, ticket, "KTP", wib(2026, 11, 2), received=wib(2026, 11, 3, 9))
    _require(session, ticket, "Bukti transfer", wib(2026, 11, 2))
    assert regulation.clock_start(ticket, session) is None
    assert regulation.compute_due(ticket, session, settings) is None
    ticket.required_documents[1].received_at = wib(2026, 11, 4, 15)
    session.commit()
    session.expire_all()
    assert regulation.clock_start(ticket, session) == wib(2026, 11, 4, 15)
    # Wed 4 Nov + 10: Thu 5 … Wed 18 Nov.
    assert regulation.compute_due(ticket, session, settings) == end_of(2026, 11, 18)
    regulation.refresh_due(ticket, settings)
    assert ticket.due_at == end_of(2026, 11, 18)


def test_oral_clock_starts_on_receipt_whatever_the_documents(session, settings):
    ticket = _ticket(session, "walk_in", wib(2026, 11, 2))
    _require(session, ticket, "KTP", wib(2026, 11, 2))
    assert regulation.clock_start(ticket, session) == wib(2026, 11, 2)
    assert regulation.compute_due(ticket, session, settings) == end_of(2026, 11, 9)


def test_extension_once_and_only_before_the_first_period_ends(session, settings):
    ticket = _ticket(session, "email", wib(2026, 11, 2))
    ticket.due_at = regulation.compute_due(ticket, session, settings)
    decision = regulation.extension_allowed(ticket, wib(2026, 11, 10), settings)
    assert decision.allowed and decision.extension_days == 10
    assert decision.first_due_at == decision.notice_by == end_of(2026, 11, 16)
    assert decision.new_due_at == end_of(2026, 11, 30)
    # At the very end of the first period it is still allowed; a second later it is not.
    assert regulation.extension_allowed(ticket, end_of(2026, 11, 16), settings).allowed
    late = regulation.extension_allowed(ticket, end_of(2026, 11, 16) + timedelta(seconds=1),
                                        settings)
    assert not late.allowed and "first period" in late.reason
    ticket.due_at = decision.new_due_at  # what the caller records
    session.commit()
    assert regulation.is_extended(ticket, settings)
    again = regulation.extension_allowed(ticket, wib(2026, 11, 11), settings)
    assert not again.allowed and "already" in again.reason
    regulation.refresh_due(ticket, settings)
    assert ticket.due_at == end_of(2026, 11, 30)  # the extension survives a refresh


def test_extension_pojk18_is_twenty_days_and_oral_is_never_extended(session, settings):
    pojk18 = replace(settings, complaint_rules="pojk18_2018")
    written = _ticket(session, "email", wib(2026, 11, 2))
    decision = regulation.extension_allowed(written, wib(2026, 11, 10), pojk18)
    assert decision.allowed and decision.extension_days == 20
    assert decision.first_due_at == end_of(2026, 11, 30)
    assert decision.new_due_at == end_of(2026, 12, 29)  # 40 working days after Mon 2 Nov
    oral = _ticket(session, "voice", wib(2026, 11, 2, 11))
    assert not regulation.extension_allowed(oral, wib(2026, 11, 3), settings).allowed
    written.status, written.resolved_at = "resolved", wib(2026, 11, 5)
    assert not regulation.extension_allowed(written, wib(2026, 11, 6), settings).allowed


def test_extension_refused_while_documents_are_outstanding(session, settings):
    ticket = _ticket(session, "email", wib(2026, 11, 2))
    _require(session, ticket, "KTP", wib(2026, 11, 2))
    decision = regulation.extension_allowed(ticket, wib(2026, 11, 3), settings)
    assert not decision.allowed and "documents" in decision.reason


def test_oral_overdue_becomes_written(session, settings):
    ticket = _ticket(session, "voice", wib(2026, 11, 2))
    in_time = regulation.oral_overdue_becomes_written(ticket, wib(2026, 11, 9, 12), settings)
    assert not in_time.convert and in_time.oral_due_at == end_of(2026, 11, 9)
    overdue = regulation.oral_overdue_becomes_written(ticket, wib(2026, 11, 10, 9), settings)
    assert overdue.convert
    assert overdue.written_clock_start == end_of(2026, 11, 9)
    assert overdue.written_due_at == end_of(2026, 11, 23)
    _require(session, ticket, "Bukti transfer", wib(2026, 11, 10))
    waiting = regulation.oral_overdue_becomes_written(ticket, wib(2026, 11, 10, 9), settings)
    assert waiting.convert and waiting.written_due_at is None
    ticket.required_documents[0].received_at = wib(2026, 11, 12, 14)
    session.commit()
    complete = regulation.oral_overdue_becomes_written(ticket, wib(2026, 11, 12, 15), settings)
    assert complete.written_clock_start == wib(2026, 11, 12, 14)
    assert complete.written_due_at == end_of(2026, 11, 26)
    regulation.refresh_due(ticket, settings)  # not converted yet: the oral deadline stays,
    assert ticket.due_at == end_of(2026, 11, 9)  # so the sweep still finds it overdue
    ticket.status, ticket.resolved_at = "resolved", wib(2026, 11, 13)
    assert not regulation.oral_overdue_becomes_written(ticket, wib(2026, 11, 14),
                                                       settings).convert
    email = _ticket(session, "email", wib(2026, 11, 2, 12))
    assert not regulation.oral_overdue_becomes_written(email, wib(2026, 12, 1), settings).convert


def test_nearing_and_breached_with_lateness(session, settings):
    calendar = WorkCalendar.from_settings(settings)
    # Opened with the clock frozen: open_ticket takes "now" from the clock.
    with time_machine.travel(wib(2026, 11, 20, 9), tick=False):
        customer = make_customer(session, order_id="N1", phone="+6281200000002")
        due = {
            "today": end_of(2026, 11, 27),
            "next": end_of(2026, 11, 30),
            "later": end_of(2026, 12, 1),
            "late2": end_of(2026, 11, 25),
            "late5": end_of(2026, 11, 20),
            "settled_late": end_of(2026, 11, 20),
            "settled_ok": end_of(2026, 11, 26),
        }
        tickets = {}
        for name, when in due.items():
            ticket = open_ticket(session, channel="email", customer_id=customer.id,
                                 category="app_failure")
            assert ticket.opened_at == wib(2026, 11, 20, 9)
            ticket.due_at = when
            tickets[name] = ticket
    tickets["settled_late"].status = "resolved"
    tickets["settled_late"].resolved_at = wib(2026, 11, 24, 10)
    tickets["settled_ok"].status = "resolved"
    tickets["settled_ok"].resolved_at = wib(2026, 11, 25, 10)
    tickets["later"].status = "pending_customer"  # the regulator's clock does not pause
    session.commit()
    now = wib(2026, 11, 27, 10)  # Friday
    everything = list(tickets.values())

    near = regulation.nearing(everything, now, 1, calendar)
    assert [(s.ticket.id, s.working_days_left) for s in near] == [
        (tickets["today"].id, 0), (tickets["next"].id, 1)]
    near2 = regulation.nearing(everything, now, 2, calendar)
    assert tickets["later"].id in {s.ticket.id for s in near2}

    late = regulation.breached(everything, now, calendar)
    assert [(s.ticket.id, s.working_days_late) for s in late] == [
        (tickets["late5"].id, 5), (tickets["late2"].id, 2)]
    assert late[0].calendar_days_late == 7
    with_settled = regulation.breached(everything, now, calendar, include_settled=True)
    settled = next(s for s in with_settled if s.ticket.id == tickets["settled_late"].id)
    assert settled.working_days_late == 2 and tickets["settled_ok"].id not in {
        s.ticket.id for s in with_settled}

    saturday = regulation.breached([tickets["today"]], wib(2026, 11, 28, 10), calendar)
    assert saturday[0].working_days_late == 0 and saturday[0].calendar_days_late == 1
    monday = regulation.breached([tickets["today"]], wib(2026, 11, 30, 8), calendar)
    assert monday[0].working_days_late == 1


def test_open_ticket_due_matches_regulation_for_default_settings(session, settings):
    """What tickets.open_ticket stores today agrees with the default rules (no documents)."""
    for channel, opened in (("voice", wib(2026, 3, 17)), ("email", wib(2026, 12, 21))):
        ticket = _ticket(session, channel, opened)
        assert ticket.due_at == regulation.compute_due(ticket, session, settings)


def test_the_stored_kind_decides_not_the_channel(session, settings):
    """A voice ticket converted to written (migration 0005's ``kind``) is written for
    every rule; a ticket not yet flushed takes its kind from the channel."""
    assert regulation.ticket_kind(Ticket(channel="walk_in")) == "oral"
    ticket = _ticket(session, "voice", wib(2026, 11, 2))
    assert regulation.ticket_kind(ticket) == "oral" and not regulation.is_converted(ticket)
    ticket.kind, ticket.converted_at = "written", wib(2026, 11, 10, 9)
    session.commit()
    assert regulation.ticket_kind(ticket) == "written" and regulation.is_converted(ticket)
    # The written period runs from the end of the oral one (Mon 9 Nov): ten working days.
    assert regulation.clock_start(ticket, session, settings) == end_of(2026, 11, 9)
    assert regulation.compute_due(ticket, session, settings) == end_of(2026, 11, 23)
    assert regulation.extension_allowed(ticket, wib(2026, 11, 12), settings).allowed
    assert not regulation.oral_overdue_becomes_written(ticket, wib(2026, 12, 1),
                                                       settings).convert


@pytest.mark.parametrize("collective_leave", [False, True])
def test_counting_working_days_agrees_with_walking_day_by_day(collective_leave):
    """The per-year running totals give what a walk over every day gives, across year ends,
    Idul Fitri, Christmas and company days off, in both directions."""
    import random
    from datetime import date, timedelta

    calendar = WorkCalendar("Asia/Jakarta", collective_leave,
                            frozenset({date(2026, 12, 24), date(2027, 6, 1)}))

    def walked(start: date, end: date) -> int:
        sign, (a, b) = (1, (start, end)) if start <= end else (-1, (end, start))
        return sign * sum(calendar.is_working_day(a + timedelta(days=n))
                          for n in range(1, (b - a).days + 1))

    rng = random.Random(18)
    first = date(2025, 12, 1)
    for _ in range(400):
        start = first + timedelta(days=rng.randrange(900))
        end = start + timedelta(days=rng.randrange(-400, 400))
        assert calendar.working_days_between(start, end) == walked(start, end), (start, end)
        n = rng.randrange(0, 30)
        assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n
