"""Fixtures: a real database (SQLite and PostgreSQL), a real Redis, the app on a real port.

Every test that touches the database runs once per backend. PostgreSQL is required in CI
(``REQUIRE_POSTGRES=1``); on a laptop without it those runs are skipped with a reason.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from redis import Redis
from sqlalchemy import delete
from sqlalchemy.orm import Session

from callcenter.config import DEV_ACCOUNT_SID, Settings
from callcenter.db import dispose_all, session_factory
from callcenter.migrate import upgrade
from callcenter.models import Base
from simulator import SimCall, Simulator
from tests.support import services
from tests.support.live import LiveServer
from tests.support.production import TEST_AUTH_TOKEN, TEST_SECRET_KEY
from webhooks.app import create_app
from workers.worker import run_worker

API_TOKEN = "test-api-token"
HOTLINE = "+622150001234"

# Property tests (tests/webhooks/test_no_server_errors.py): a fixed budget, derandomized, so
# every run (CI's too) tries the same examples in bounded time. HYPOTHESIS_PROFILE=explore
# draws ten times as many, at random, to look further.
FUZZ_EXAMPLES = 12
hypothesis_settings.register_profile(
    "ci", max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
    print_blob=True)
hypothesis_settings.register_profile(
    "explore", max_examples=10 * FUZZ_EXAMPLES, deadline=None, database=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def redis_claim() -> Iterator[services.RedisClaim]:
    claim = services.claim_redis_db()
    yield claim
    claim.release()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database for this run: a temp SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        folder = tempfile.mkdtemp(prefix="cc-test-")
        url = f"sqlite:///{Path(folder) / 'test.sqlite3'}"
        upgrade(url)
        yield url
        dispose_all()
        return
    if not services.postgres_available():
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (REQUIRE_POSTGRES=1) but not reachable")
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    name, url = services.create_pg_database()
    upgrade(url)
    yield url
    dispose_all()
    services.drop_pg_database(name)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str,
        redis_claim: services.RedisClaim) -> dict[str, str]:
    """The environment a deployment would have (no dev secrets: tests.support.production);
    jobs read their settings from it too."""
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_claim.url,
        "TWILIO_ACCOUNT_SID": DEV_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": HOTLINE,
        "API_TOKEN": API_TOKEN,
        "SECRET_KEY": TEST_SECRET_KEY,
        "CALLCENTER_QUEUE_MAX_WAIT": "30",
    }
    for name in ("PUBLIC_BASE_URL", "TWILIO_API_URL", "CALLING_HOURS", "CALLCENTER_TZ",
                 "CALLCENTER_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env()


@pytest.fixture
def redis_conn(redis_claim: services.RedisClaim) -> Iterator[Redis]:
    conn = Redis.from_url(redis_claim.url)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def session(settings: Settings, redis_conn: Redis) -> Iterator[Session]:
    """A session on a clean database; every table is emptied after the test."""
    db = session_factory(settings.database_url)()
    yield db
    db.rollback()
    for table in reversed(Base.metadata.sorted_tables):
        db.execute(delete(table))
    db.commit()
    db.close()


@dataclass
class Hotline:
    """The service on a real port and the local Twilio simulator calling it."""

    sim: Simulator
    live: LiveServer
    settings: Settings

    def call(self, caller: str | None) -> SimCall:
        return self.sim.incoming_call(from_=caller)

    def run_jobs(self) -> None:
        """The worker of ``callcenter worker`` in burst mode, with its scheduler (due scheduled
        jobs run too)."""
        run_worker(self.settings, burst=True)


@pytest.fixture
def hotline(env: dict[str, str], session: Session,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Hotline]:
    live = LiveServer()
    sim = Simulator(account_sid=DEV_ACCOUNT_SID, auth_token=TEST_AUTH_TOKEN,
                    service_url=live.url, hotline=HOTLINE)
    sim.start()
    monkeypatch.setenv("TWILIO_API_URL", sim.api_url)
    monkeypatch.setenv("PUBLIC_BASE_URL", live.url)
    settings = Settings.from_env()
    live.app = create_app(settings)
    live.start()
    try:
        yield Hotline(sim, live, settings)
    finally:
        sim.stop()
        live.stop()
