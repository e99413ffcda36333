"""What a job needs: settings from the environment and a session of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.db import get_engine


def settings() -> Settings:
    return Settings.from_env()


@contextmanager
def job_session(current: Settings) -> Iterator[Session]:
    """One connection for the whole job: its transactions commit on it in turn, so the pool
    is checked out (and pinged) once per job, not once per transaction."""
    with get_engine(current.database_url).connect() as connection:
        session = Session(bind=connection, expire_on_commit=False,
                          join_transaction_mode="rollback_only")
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if connection.in_transaction():
            connection.commit()
