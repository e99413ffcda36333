"""What a job needs: settings from the environment and a session of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.db import session_scope

_read: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def settings() -> Settings:
    """The settings of this process's environment, read again only when it changed.

    A worker runs thousands of jobs in one environment; reading it (and the ``.env`` file)
    for each was a tenth of a callback job's own time. A test or a tool that changes the
    environment between jobs gets settings read from the new one.
    """
    global _read
    environment = tuple(os.environ.items())
    if _read is not None and _read[0] == environment:
        return _read[1]
    current = Settings.from_env()
    _read = (tuple(os.environ.items()), current)  # after any .env file was read in
    return current


@contextmanager
def job_session(current: Settings) -> Iterator[Session]:
    """A job's unit of work on one connection (several commits, one pool checkout)."""
    with session_scope(current.database_url, one_connection=True) as session:
        yield session
