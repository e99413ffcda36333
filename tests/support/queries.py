"""Counting SQL statements: pages must not grow a query per row (< 100 ms with
100,000 tickets), so the tests pin how many statements a view runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    """The SQL statements the block ran on ``session``'s engine."""
    statements: list[str] = []
    engine = session.get_bind()

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
