"""Phone numbers as E.164 (``phonenumbers``) and masked for logs (privacy)."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from callcenter.i18n import Msg

DEFAULT_REGION = "ID"


class InvalidPhone(ValueError):
    """Not a dialable Indonesian (or international) number."""


def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """``0812-3456-7890``, ``62812…`` or ``+62812…`` → ``+6281234567890``.

    ``62812…`` without a plus is what many exports contain; phonenumbers would read it as a
    national number, so a leading country code is recognised first.
    """
    text = (raw or "").strip()
    if text.startswith("whatsapp:"):
        text = text[len("whatsapp:") :]
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits:
        raise InvalidPhone(Msg("empty phone number"))
    if not text.startswith("+") and digits.startswith("62") and len(digits) >= 10:
        text = "+" + digits
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(Msg("not a phone number")) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(Msg("not a valid phone number"))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def try_e164(raw: str | None) -> str | None:
    """E.164 or None: caller IDs may be withheld ("anonymous") or garbage.

    Cached: a call's caller ID is read at several of its steps, and each parse costs about
    20 µs (the answer never changes: phonenumbers' metadata is fixed)."""
    if not raw:
        return None
    try:
        return to_e164(raw)
    except InvalidPhone:
        return None


def mask_phone(number: str | None) -> str:
    """``+6281234567890`` → ``+62******7890``: enough for an operator to correlate, no more."""
    if not number:
        return "-"
    keep = 4
    head = number[:3] if number.startswith("+") else ""
    tail = number[-keep:]
    return f"{head}{'*' * max(len(number) - len(head) - keep, 0)}{tail}"
