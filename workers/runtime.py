"""What a job needs: settings from the environment and a session of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from callcenter.config import Settings, settings_of_this_environment
from callcenter.db import session_scope


def settings() -> Settings:
    """This process's settings (read again when its environment changes)."""
    return settings_of_this_environment()


@contextmanager
def job_session(current: Settings) -> Iterator[Session]:
    """A job's unit of work on one connection (several commits, one pool checkout)."""
    with session_scope(current.database_url, one_connection=True) as session:
        yield session
