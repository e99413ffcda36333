"""The callback's time as words (P2.1): the day relative to the customer's today, the clock
in their zone, Babel's formats for each language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from callcenter.content import Content
from callcenter.voice.spoken_time import callback_when

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 26, 21, 0, tzinfo=JAKARTA)  # a Thursday evening


def test_a_later_day_is_named_with_its_date_in_each_language():
    due = datetime(2026, 11, 30, 8, 0, tzinfo=JAKARTA)
    content = Content.load()
    assert callback_when(content, "en", due, NOW, "Asia/Jakarta") == (
        "on Monday, 30 November, at 08:00")
    assert callback_when(content, "id", due, NOW, "Asia/Jakarta") == (
        "pada hari Senin, 30 November, pukul 08.00")


def test_the_clock_is_the_customers_own():
    """08:00 in Jayapura (WIT) is 06:00 in Jakarta: the customer hears their 08.00."""
    due = datetime(2026, 11, 27, 8, 0, tzinfo=ZoneInfo("Asia/Jayapura"))
    assert callback_when(Content.load(), "id", due, NOW, "Asia/Jayapura") == (
        "besok pukul 08.00")


def test_a_callback_due_within_minutes_is_not_read_as_a_clock():
    assert callback_when(Content.load(), "en", NOW, NOW, "Asia/Jakarta") == (
        "within a few minutes")
