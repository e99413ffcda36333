"""How the console writes times, money, durations and sizes for staff: in the centre's zone,
in Rupiah, in the reader's language (Babel's CLDR data: ``Sen 30 Nov 2026, 08.00 WIB`` in
Indonesian, ``Mon 30 Nov 2026, 08:00 WIB`` in English). Formatting only, no database and no
Flask, so every console page writes them alike; the web layer passes the page's language
(``webhooks.i18n``: the templates' ``when``/``rupiah``… filters).

Without a language, times, durations and sizes are written in English (the words of the
callers that build English sentences) and Rupiah with Indonesian grouping (as the customer's
own messages write it).

The zone is written as the centre says it (``WIB``, from tzdata) in both languages: CLDR has
no English short name for Indonesia's zones.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from babel.units import format_unit

from callcenter.i18n import DEFAULT_LANGUAGE, FORMAT_LOCALES

# Lengths of a written time: "full" on ticket pages, "short" in lists and the screen pop.
DATE_PATTERNS = {"full": "EEE dd MMM y", "short": "d MMM", "long": "EEEE d MMMM y"}
SENTENCE_LANGUAGE = "en"  # callers without a language write English sentences


def _locale(language: str | None, default: str = SENTENCE_LANGUAGE) -> str:
    return FORMAT_LOCALES.get(language or default, FORMAT_LOCALES[DEFAULT_LANGUAGE])


def local_time(value: datetime | None, tz: str, length: str = "full", empty: str = "",
               language: str | None = None) -> str:
    """A stored (UTC) time in the centre's zone: ``full`` ``Sen 30 Nov 2026, 08.00 WIB``,
    ``short`` ``30 Nov 08.00``, ``seconds`` ``08.00.05 WIB`` (a live page's clock); ``empty``
    for None; a ``strftime`` pattern (``%Y-%m-%d %H:%M``) is applied as it is, digits only.
    Every console page formats times through here."""
    if value is None:
        return empty
    local = value.astimezone(ZoneInfo(tz))
    if "%" in length:
        return local.strftime(length)
    locale = _locale(language)
    zone = local.tzname() or ""
    if length == "seconds":
        return f"{format_time(local, 'medium', locale=locale)} {zone}".strip()
    clock = format_time(local, "short", locale=locale)
    if length == "short":
        return f"{format_date(local.date(), DATE_PATTERNS['short'], locale=locale)} {clock}"
    day = format_date(local.date(), DATE_PATTERNS["full"], locale=locale)
    return f"{day}, {clock} {zone}".strip()


def local_date(value: date | None, length: str = "full", language: str | None = None) -> str:
    """A calendar day: ``full`` ``Sen 30 Nov 2026``, ``long`` ``Senin 30 November 2026``,
    ``short`` ``30 Nov``."""
    if value is None:
        return ""
    return format_date(value, DATE_PATTERNS.get(length, DATE_PATTERNS["full"]),
                       locale=_locale(language))


def rupiah(amount: int | None, language: str | None = None) -> str:
    """``Rp 1.250.000`` (Indonesian grouping) or ``Rp 1,250,000`` (English), whole Rupiah;
    empty for None. The digits are the ones the customer's own messages use."""
    if amount is None:
        return ""
    return f"Rp {format_decimal(amount, '#,##0', locale=_locale(language, DEFAULT_LANGUAGE))}"


def number(value: float | int, language: str | None = None) -> str:
    return format_decimal(value, locale=_locale(language))


def duration_text(seconds: int | None, language: str | None = None) -> str:
    """``1 mnt 15 dtk`` / ``1 min 15 secs``: minutes and seconds in CLDR's short units."""
    if seconds is None:
        return ""
    locale = _locale(language)
    minutes, secs = divmod(max(int(seconds), 0), 60)
    text = format_unit(secs, "duration-second", length="short", locale=locale)
    if minutes:
        text = f"{format_unit(minutes, 'duration-minute', length='short', locale=locale)} {text}"
    return text


def size_text(size: int, language: str | None = None) -> str:
    """``1,5 MB`` / ``1.5 MB``, ``12 KB``, ``512 B``."""
    locale = _locale(language)
    if size >= 1024 * 1024:
        return f"{format_decimal(size / (1024 * 1024), '#,##0.0', locale=locale)} MB"
    if size >= 1024:
        return f"{format_decimal(size / 1024, '#,##0', locale=locale)} KB"
    return f"{format_decimal(size, '#,##0', locale=locale)} B"
