"""Numbers people and programs put in query strings and form fields, read without surprises.

``int(raw)`` after ``raw.isdigit()`` still fails on ``²`` (a digit to ``isdigit``, not to
``int``), and a 40-digit number overflows the database's integer column: a crafted link must
get a clear 4xx, never a 500 (no stack trace, nothing half done).
"""

from __future__ import annotations

MAX_ROW_ID = 2**31 - 1  # INTEGER primary keys (PostgreSQL's int4)


def row_id(raw: str | None) -> int | None:
    """The id ``raw`` names (ASCII digits, 1 … 2³¹-1), else ``None``."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ROW_ID else None
