"""When we will call back, as the customer hears it: "besok pukul 08.00", "today at 14:30".

The words around the clock ("hari ini", "tomorrow") come from the content file, where the
business edits every spoken phrase; the day and the clock are Babel's (CLDR), in the
customer's own zone (WIB/WITA/WIT), so "08.00" is the hour the phone will ring there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from callcenter.content import Content
from callcenter.i18n import FORMAT_LOCALES

# A callback due this soon is dialled at once (the worker's queue): "in a few minutes"
# is truer than reading out the clock of the present moment.
SOON = timedelta(minutes=10)
LATER_DAY_PATTERN = "EEEE, d MMMM"  # "Senin, 7 Desember" / "Monday, 7 December"


def callback_when(content: Content, lang: str, due: datetime, now: datetime, tz: str) -> str:
    """The first moment of the calling window we will call in, as words in ``lang``."""
    if due - now <= SOON:
        return content.text(lang, "callback_when_soon")
    zone = ZoneInfo(tz)
    local_due, today = due.astimezone(zone), now.astimezone(zone).date()
    locale = FORMAT_LOCALES[lang]
    clock = format_time(local_due, "short", locale=locale)
    days = (local_due.date() - today).days
    if days == 0:
        return content.text(lang, "callback_when_today", time=clock)
    if days == 1:
        return content.text(lang, "callback_when_tomorrow", time=clock)
    day = format_date(local_due.date(), LATER_DAY_PATTERN, locale=locale)
    return content.text(lang, "callback_when_later", date=day, time=clock)
