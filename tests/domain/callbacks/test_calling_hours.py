"""Calling hours (FACTS "Calling customers"): Monday–Saturday, not on national holidays,
inside CALLING_HOURS in the customer's zone; the holidays are the complaint clock's own."""

from __future__ import annotations

from datetime import date, datetime, time

from callcenter.callbacks.calling_hours import is_calling_day, next_calling_time
from callcenter.compliance.regulation import WorkCalendar, holiday_set

HOURS = (time(8), time(20))


def test_saturday_is_a_calling_day_though_not_a_working_day():
    saturday = date(2026, 12, 5)
    assert is_calling_day(saturday)
    assert not WorkCalendar().is_working_day(saturday)
    assert not is_calling_day(date(2026, 12, 6))  # Sunday


def test_national_holidays_come_from_the_complaint_clocks_holiday_set():
    independence_day = date(2026, 8, 17)  # a Monday
    assert independence_day in holiday_set(2026)
    assert not is_calling_day(independence_day)
    assert not WorkCalendar().is_working_day(independence_day)


def test_collective_leave_and_company_days_off_do_not_stop_calls():
    """They stop the complaint clock when configured, but customers may still be called."""
    joint_holiday = date(2026, 12, 24)  # cuti bersama, a Thursday
    assert joint_holiday in holiday_set(2026, collective_leave=True)
    assert not WorkCalendar(collective_leave_stops_clock=True).is_working_day(joint_holiday)
    assert is_calling_day(joint_holiday)
    company_day_off = date(2026, 12, 3)
    assert not WorkCalendar(company_days_off=frozenset({company_day_off})).is_working_day(
        company_day_off)
    assert is_calling_day(company_day_off)


def test_a_sunday_evening_request_waits_for_monday_morning_in_the_customers_zone():
    sunday_night = datetime.fromisoformat("2026-12-06T21:00:00+07:00")
    assert next_calling_time(sunday_night, "Asia/Jayapura", HOURS) == (
        datetime.fromisoformat("2026-12-07T08:00:00+09:00"))
