"""When a customer may be called (FACTS "Calling customers"): Monday–Saturday, not on a
national holiday, inside ``CALLING_HOURS`` in the customer's own zone.

Only calling hours live here. Working days (the complaint clock, which also skips Saturdays,
company days off and, when configured, collective leave) are
:class:`callcenter.compliance.regulation.WorkCalendar`; the holidays both read come from
:func:`callcenter.compliance.regulation.holiday_set`, the service's one source of them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callcenter.compliance.regulation import holiday_set


def is_calling_day(day: date) -> bool:
    """Monday–Saturday, not a national (``public``) holiday (FACTS: calling customers)."""
    return day.weekday() < 6 and day not in holiday_set(day.year)


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
