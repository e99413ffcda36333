"""How the console writes times, money, durations and sizes for staff: in the centre's zone,
in Rupiah. Formatting only, no database, so every console page writes them alike.

The Rupiah digits are :func:`callcenter.voice.answers.rupiah`'s, the grouping the customer's own
messages and the desk slip use; this adds only the currency sign.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from callcenter.voice import answers


def local_time(value: datetime | None, tz: str, fmt: str = "%a %d %b %Y, %H:%M %Z",
               empty: str = "") -> str:
    """A stored (UTC) time in the centre's zone, ``Mon 30 Nov 2026, 08:00 WIB`` by default;
    ``empty`` for None. Every console page formats times through here."""
    if value is None:
        return empty
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def rupiah(amount: int | None) -> str:
    """``Rp 1.250.000`` (Indonesian grouping, whole Rupiah); empty for None."""
    if amount is None:
        return ""
    return f"Rp {answers.rupiah(amount, 'id')}"


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(max(int(seconds), 0), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"
