"""The pool lends no connection the server has closed, without a round trip per request.

``callcenter.db`` replaced ``pool_pre_ping`` (a ``SELECT 1`` before every request) with a
look at the socket: a PostgreSQL restart closes every pooled connection, and the next
request must still be served, not answered with an apology (issue 14, "Whole-call speed").
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from callcenter.db import dispose_all, session_scope


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL server's own disconnect")
    dispose_all()
    return database_url


def _backend_pid(url: str) -> int:
    with session_scope(url) as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_the_server_closed_is_replaced_before_a_request_uses_it(
        postgres_url: str) -> None:
    before = _backend_pid(postgres_url)  # now idle in the pool
    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:  # what a restart does to it
        conn.execute("SELECT pg_terminate_backend(%s)", (before,))
        conn.execute("SELECT pg_sleep(0.2)")

    after = _backend_pid(postgres_url)  # no error: the pool opened a fresh connection

    assert after != before
    dispose_all()

