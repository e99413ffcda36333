"""Real Redis and PostgreSQL for the test run, each run isolated from any other.

A run claims a free Redis database number (an atomic SET NX in db 0) and creates its own
PostgreSQL database, so a SQLite run and a PostgreSQL run, or two developers' runs, never
see each other's keys or rows.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import psycopg
import redis

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def create_pg_database() -> tuple[str, str]:
    """A fresh database; returns (name, SQLAlchemy URL)."""
    name = f"cc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _take_over_stale(admin: redis.Redis, key: str, token: str) -> bool:
    """Take ``key`` when the process that holds it no longer runs (compare-and-set)."""
    held = admin.get(key)
    if held is None:
        return bool(admin.set(key, token, nx=True, ex=3 * 3600))
    pid_text = held.decode(errors="replace").partition(":")[0]
    if not pid_text.isdigit() or _process_alive(int(pid_text)):
        return False
    with admin.pipeline() as pipe:
        try:
            pipe.watch(key)
            if pipe.get(key) != held:
                return False
            pipe.multi()
            pipe.set(key, token, ex=3 * 3600)
            pipe.execute()
            return True
        except redis.WatchError:
            return False


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RedisClaim:
    number: int
    url: str
    token: str

    def release(self) -> None:
        admin = redis.Redis.from_url(f"{REDIS_BASE_URL}/0")
        key = f"callcenter-tests:db:{self.number}"
        if admin.get(key) == self.token.encode():
            admin.delete(key)
        redis.Redis.from_url(self.url).flushdb()


def claim_redis_db() -> RedisClaim:
    """The first Redis database (1..15) no other live run holds.

    A claim names the claiming process; a claim whose process is gone from this machine (a
    run killed with SIGKILL never releases) is taken over, so parallel and interrupted runs
    do not exhaust the fifteen numbers.
    """
    admin = redis.Redis.from_url(f"{REDIS_BASE_URL}/0", socket_connect_timeout=2)
    token = f"{os.getpid()}:{uuid.uuid4().hex}"
    for number in range(1, 16):
        key = f"callcenter-tests:db:{number}"
        if admin.set(key, token, nx=True, ex=3 * 3600) or _take_over_stale(admin, key, token):
            url = f"{REDIS_BASE_URL}/{number}"
            redis.Redis.from_url(url).flushdb()
            return RedisClaim(number, url, token)
    raise RuntimeError("all Redis test databases 1..15 are claimed by other runs")
