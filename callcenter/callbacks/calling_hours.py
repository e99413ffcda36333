"""Indonesian working days and the outbound calling window (FACTS.md, POJK 22/2023).

Holidays come from the ``holidays`` package (country ID): national ``public`` days always,
collective leave (``government``, *cuti bersama*) only when the setting says it stops the clock.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=64)
def _holidays(year: int, collective_leave: bool) -> frozenset[date]:
    categories = ("public", "government") if collective_leave else ("public",)
    calendar = holidays.country_holidays("ID", years=year, categories=categories)
    return frozenset(calendar.keys())


def is_holiday(day: date, collective_leave: bool = False) -> bool:
    return day in _holidays(day.year, collective_leave)


def is_working_day(day: date, collective_leave: bool = False) -> bool:
    """Monday–Friday and not a national holiday: the regulator's "hari kerja"."""
    return day.weekday() < 5 and not is_holiday(day, collective_leave)


def add_working_days(start: date, days: int, collective_leave: bool = False) -> date:
    """The date ``days`` working days after ``start`` (start itself not counted)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current, collective_leave):
            remaining -= 1
    return current


def due_at(received: datetime, working_days: int, tz: str) -> datetime:
    """End of the ``working_days``-th working day after ``received``, in the centre's zone."""
    zone = ZoneInfo(tz)
    local_day = received.astimezone(zone).date()
    last_day = add_working_days(local_day, working_days)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=zone)


def is_calling_day(day: date) -> bool:
    """Monday–Saturday, not a national holiday (FACTS: calling customers)."""
    return day.weekday() < 6 and not is_holiday(day)


def next_calling_time(
    when: datetime, tz: str, hours: tuple[time, time], horizon_days: int = 30
) -> datetime:
    """The earliest moment ≥ ``when`` inside the customer's local calling window."""
    zone = ZoneInfo(tz)
    local = when.astimezone(zone)
    start, end = hours
    for offset in range(horizon_days):
        day = local.date() + timedelta(days=offset)
        if not is_calling_day(day):
            continue
        opening = datetime.combine(day, start, tzinfo=zone)
        closing = datetime.combine(day, end, tzinfo=zone)
        if offset == 0 and local >= closing:
            continue
        candidate = max(local, opening) if offset == 0 else opening
        if candidate < closing:
            return candidate
    raise ValueError("no calling day within the horizon")
