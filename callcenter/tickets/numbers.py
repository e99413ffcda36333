"""Ticket numbers: digits only, at most 10, the last a Damm check digit (CONTRACT).

Damm catches every single-digit error and every swap of adjacent digits, the two mistakes a
caller makes on a keypad, so a mistyped number is refused before any lookup.
"""

from __future__ import annotations

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
BASE = 100_000  # first ticket is 1000001-ish: 7 digits, easy to read out
MAX_LENGTH = 10


def damm_digit(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def number_for(sequence: int) -> str:
    """The ticket number for the database's ``sequence`` value (unique by construction)."""
    body = str(BASE + sequence)
    number = body + str(damm_digit(body))
    if len(number) > MAX_LENGTH:
        raise OverflowError("ticket numbers exhausted")
    return number


def is_well_formed(number: str) -> bool:
    """Digits only, 2..10 long, check digit right: decided without touching the database."""
    return (
        number.isdigit() and 2 <= len(number) <= MAX_LENGTH and damm_digit(number) == 0
    )
