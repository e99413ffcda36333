"""The Procfile's processes against servers of the test's own, so outages can be caused.

A module shares one private PostgreSQL cluster (``initdb`` once, ~2 s); each test gets a
fresh migrated database in it, the service under gunicorn, the worker of ``callcenter
worker`` and the simulator as Twilio. The test stops and restarts only that cluster (or its
private Redis), never the machine's shared servers. A fault that spares the database (Twilio's,
a sweep step's) runs on the suite's own database instead, once on SQLite and once on
PostgreSQL (``stack_on_suite_database``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from redis import Redis
from sqlalchemy.orm import Session

from callcenter.callbacks import policy
from callcenter.config import DEV_ACCOUNT_SID, Settings
from callcenter.db import dispose_all, session_factory
from callcenter.migrate import upgrade
from callcenter.models import Callback
from callcenter.tickets import lifecycle
from simulator import Simulator
from tests.factories import make_customer
from tests.support import services
from tests.support.private_redis import PrivateRedis
from tests.support.private_redis import private_redis as start_private_redis
from tests.support.private_services import (
    AppProcess,
    PrivatePostgres,
    ServiceProcess,
    postgres_installed,
    service_environment,
)
from tests.support.production import TEST_AUTH_TOKEN, TEST_SECRET_KEY
from tests.support.smtp import free_port

HOTLINE = "+622150001234"
AGENT_PHONE = "+628110000001"


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    if not postgres_installed():
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL's initdb/pg_ctl are required (REQUIRE_POSTGRES=1)")
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    cluster = PrivatePostgres().init()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with start_private_redis() as server:
        yield server


def _fresh_database(cluster: PrivatePostgres) -> str:
    name = f"cc_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/{name}"
    upgrade(url)
    return url


@dataclass
class Stack:
    """The service's processes and the simulator, on the test's own database."""

    pg: PrivatePostgres | None  # None: the suite's database, not a private cluster
    sim: Simulator
    app: AppProcess
    env: dict[str, str]
    settings: Settings
    logs: Path
    extra: list[Any] = field(default_factory=list)

    def session(self) -> Session:
        return session_factory(self.settings.database_url)()

    def start(self, *command: str) -> ServiceProcess:
        """Another of the Procfile's processes (``worker``, ``scheduler --interval 1``)."""
        process = ServiceProcess(self.env, self.logs, *command).start()
        self.extra.append(process)
        return process

    def start_worker_at(self, when: datetime) -> ServiceProcess:
        """``callcenter worker``'s worker with its clock moved to ``when`` (calling hours)."""
        process = ServiceProcess(self.env, self.logs, "-m", "tests.support.worker_process",
                                 when.isoformat(), python=True).start()
        self.extra.append(process)
        return process


def build_stack(monkeypatch: pytest.MonkeyPatch, logs: Path, pg: PrivatePostgres | None,
                redis_url: str, database_url: str | None = None, **overrides: str) -> Stack:
    """The stack on a fresh database of ``pg``, or on ``database_url`` when given."""
    if database_url is None:
        assert pg is not None
        database_url = _fresh_database(pg)
    app_port = free_port()
    sim = Simulator(account_sid=DEV_ACCOUNT_SID, auth_token=TEST_AUTH_TOKEN,
                    service_url=f"http://127.0.0.1:{app_port}", hotline=HOTLINE,
                    auto_agents=[AGENT_PHONE], auto_agent_hangup_after=1.5)
    sim.start()
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": DEV_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": HOTLINE,
        "TWILIO_API_URL": sim.api_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{app_port}",
        "API_TOKEN": "test-api-token",
        "SECRET_KEY": TEST_SECRET_KEY,
        "CALLCENTER_QUEUE_MAX_WAIT": "4",
        "CALLBACK_DROPPED_DELAY": "0",
        "CALLBACK_DIAL_RATE": "0",
        **overrides,
    }
    for name in ("CALLING_HOURS", "CALLCENTER_TZ", "CALLCENTER_RQ_PREFIX"):
        monkeypatch.delenv(name, raising=False)  # unless an override sets it
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    env = service_environment(**values)
    app = AppProcess(env, logs, port=app_port)
    try:
        app.start()
    except Exception:
        sim.stop()
        raise
    return Stack(pg=pg, sim=sim, app=app, env=env, settings=Settings.from_env(), logs=logs)


def _tear_down(built: Stack, pg: PrivatePostgres | None) -> None:
    for process in built.extra:
        process.stop()
    built.sim.stop()
    built.app.stop()
    if pg is None:
        return  # the suite's database: its fixtures close its pools (and empty it)
    dispose_all()
    if not pg.accepting():
        pg.start()


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, private_pg: PrivatePostgres,
          redis_claim: services.RedisClaim) -> Iterator[Stack]:
    """gunicorn and the simulator on a fresh database of the private cluster; Redis is this
    run's own database number on the shared server (nothing here stops it)."""
    Redis.from_url(redis_claim.url).flushdb()
    built = build_stack(monkeypatch, tmp_path, private_pg, redis_claim.url)
    try:
        yield built
    finally:
        _tear_down(built, private_pg)
        Redis.from_url(redis_claim.url).flushdb()


@pytest.fixture
def stack_on_private_redis(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                           private_pg: PrivatePostgres,
                           private_redis: PrivateRedis) -> Iterator[Stack]:
    """The same on a Redis server of the test's own, which the test may stop and restart;
    callbacks are paced (one a second) as in production."""
    built = build_stack(monkeypatch, tmp_path, private_pg, private_redis.url,
                        CALLBACK_DIAL_RATE="1")
    built.extra.append(private_redis)
    try:
        yield built
    finally:
        _tear_down(built, private_pg)


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    """Settings a test module gives the processes of ``stack_on_suite_database`` (override
    this fixture in the module)."""
    return {}


@pytest.fixture
def stack_on_suite_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str,
                            session: Session, redis_claim: services.RedisClaim,
                            stack_overrides: dict[str, str]) -> Iterator[Stack]:
    """gunicorn and the simulator on the suite's database (SQLite, then PostgreSQL; the
    ``session`` fixture empties it afterwards) and this run's Redis database number, for
    faults that spare both servers; ``stack_overrides`` on top of the usual settings."""
    built = build_stack(monkeypatch, tmp_path, None, redis_claim.url,
                        database_url=database_url, **stack_overrides)
    try:
        yield built
    finally:
        _tear_down(built, None)


def owe_a_callback(stack: Stack) -> Callback:
    """Budi's call dropped while he explained his problem: a callback is due now."""
    with stack.session() as session:
        customer = make_customer(session)
        ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
        callback, _ = policy.request_callback(session, stack.settings, ticket,
                                              reason="dropped_call")
        session.commit()
        assert callback.due_at <= datetime.now(UTC)
        return callback
