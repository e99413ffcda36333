"""What people and programs put in query strings, forms, JSON bodies and paths, read without
surprises: a crafted request gets a clear 4xx, never a 500 (no stack trace, nothing half done).

- ``int(raw)`` after ``raw.isdigit()`` still fails on ``²`` (a digit to ``isdigit``, not to
  ``int``), and a 40-digit number overflows the database's integer column: :func:`row_id`,
  :class:`RowIdConverter`.
- A NUL character (PostgreSQL refuses it in text) or an unpaired surrogate (``"\\ud800"`` is
  valid JSON but not UTF-8) cannot be stored anywhere: :func:`unstorable_field` finds it
  before any view runs (the app answers 400).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Request
from werkzeug.routing import IntegerConverter, Map

from callcenter.db import MAX_ROW_ID


def row_id(raw: str | None) -> int | None:
    """The id ``raw`` names (ASCII digits, 1 … 2³¹-1), else ``None``."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ROW_ID else None


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in the app's URLs are row ids: above :data:`MAX_ROW_ID` no row exists, so
    the URL matches nothing (404) instead of overflowing the database driver."""

    def __init__(self, url_map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ROW_ID, signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
FORM_TYPES = ("application/x-www-form-urlencoded",)  # multipart: its view checks its fields


def storable(text: str) -> bool:
    """Text every database keeps as it is: no NUL, no unpaired surrogate."""
    return _UNSTORABLE.search(text) is None


def _json_texts(value: Any, name: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield name, str(key)
            yield from _json_texts(item, str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _json_texts(item, name)


def unstorable_field(request: Request) -> str | None:
    """The name of the first path part, query parameter, form field or JSON field whose text
    no database can store; None when every one is fine."""
    texts: list[tuple[str, str]] = [
        (name, value) for name, value in (request.view_args or {}).items()
        if isinstance(value, str)]
    texts += [(name, value) for name, value in request.args.items(multi=True)]
    texts += [(name, name) for name in request.args]
    if request.mimetype in FORM_TYPES:
        texts += [(name, value) for name, value in request.form.items(multi=True)]
        texts += [(name, name) for name in request.form]
    if request.is_json:
        texts += list(_json_texts(request.get_json(silent=True), "body"))
    for name, value in texts:
        if not storable(value):
            return name if storable(name) else "a field"
    return None
