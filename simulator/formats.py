"""Twilio's formats the simulator writes: SIDs, RFC 2822 dates, caller countries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

import phonenumbers

API_VERSION = "2010-04-01"


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters + 32 hex digits."""
    return prefix + uuid.uuid4().hex


def rfc2822(dt: datetime | None = None) -> str:
    """Twilio's date format in JSON and callbacks (``Mon, 01 Jan 2024 10:00:00 +0000``)."""
    return format_datetime(dt or datetime.now(UTC))


def country_of(number: str | None) -> str:
    """ISO country of an E.164 number ('' for client:, anonymous, garbage)."""
    if not number or not number.startswith("+"):
        return ""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except phonenumbers.NumberParseException:
        return ""
