"""Worker and scheduler heartbeats, kept in the shared Redis so any web host can tell.

Each process beats under its role (``worker`` or ``scheduler``) with its own name
(host:pid…): a Redis hash per role, field = process, value = the Unix time of its last beat.
``/api/health`` and ``/metrics`` read the freshest beat of each role; a process that died
stops beating and is forgotten a day later. Beats use Redis's own clock (``TIME``), so hosts
whose clocks disagree still agree on how long ago a beat was.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from enum import StrEnum

from redis import Redis
from redis.exceptions import RedisError

from callcenter.config import Settings
from workers.queues import redis_connection

log = logging.getLogger(__name__)
FORGET_AFTER_S = 86400  # a process silent this long is dropped from the hash


class Role(StrEnum):
    """The processes whose silence stops the service's promises (callbacks, sweeps)."""

    WORKER = "worker"
    SCHEDULER = "scheduler"


def process_name() -> str:
    """This process: host, pid and a short random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _key(settings: Settings, role: Role) -> str:
    return f"{settings.queue_prefix}callcenter:heartbeats:{role}"


def redis_now(conn: Redis) -> float:
    seconds, micros = conn.time()
    return seconds + micros / 1_000_000


def beat(settings: Settings, role: Role, name: str, conn: Redis | None = None) -> bool:
    """Record that ``name`` is alive now; False (logged, not raised) when Redis is away: a
    beat that cannot be written is itself the sign of trouble the readers report."""
    conn = conn or redis_connection(settings)
    try:
        conn.hset(_key(settings, role), name, repr(redis_now(conn)))
        return True
    except RedisError as exc:
        log.warning("%s heartbeat not recorded: %s", role, type(exc).__name__)
        return False


def forget(settings: Settings, role: Role, name: str) -> None:
    """A process stopping on purpose leaves no stale beat behind."""
    with contextlib.suppress(RedisError):
        redis_connection(settings).hdel(_key(settings, role), name)


@dataclass(frozen=True)
class Pulse:
    """What the beats of one role say: the age of the freshest (None: none recorded) and how
    many processes beat within the limit."""

    role: Role
    last_seen_s: float | None
    alive: int

    def silent(self, limit_s: int) -> bool:
        """No beat within ``limit_s`` (a limit of 0 never calls a role silent)."""
        if limit_s <= 0:
            return False
        return self.last_seen_s is None or self.last_seen_s > limit_s


def pulse(settings: Settings, role: Role, conn: Redis | None = None) -> Pulse:
    """The freshest beat of ``role`` across every host; drops processes gone for a day."""
    conn = conn or redis_connection(settings)
    key = _key(settings, role)
    beats = conn.hgetall(key)
    now = redis_now(conn)
    ages: list[float] = []
    stale: list[bytes] = []
    for name, value in beats.items():
        try:
            age = max(now - float(value), 0.0)
        except ValueError:
            stale.append(name)
            continue
        if age > FORGET_AFTER_S:
            stale.append(name)
        else:
            ages.append(age)
    if stale:
        conn.hdel(key, *stale)
    limit = settings.heartbeat_limit_s if settings.heartbeat_limit_s > 0 else FORGET_AFTER_S
    return Pulse(role, min(ages) if ages else None, sum(1 for age in ages if age <= limit))
