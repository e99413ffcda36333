"""Fixed-window attempt counters in Redis (the public status look-up, X3).

Each counter is one Redis key per name, subject and window (``…:<window start>``): ``INCR``
counts the attempt and ``EXPIRE`` drops the key when its window is over, both in one
``MULTI``. The first attempt past ``limit`` in a window is refused until the window ends, and
the caller says so with ``Retry-After``.

Why not a library (Flask-Limiter, limits): this is two Redis commands; a library would be a new
dependency and a second Redis client configuration for one form, and it would decide what to do
when Redis is down. Here the caller decides: the status page fails *closed* (a polite 503), so
an outage never turns into unlimited guessing of ticket and phone numbers. A fixed window lets
a client make up to twice the limit across a window boundary; for a form that reveals only a
status and a date that is an acceptable price for the simplicity (a sliding log would need a
sorted set per subject).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis import Redis


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` attempts per ``window_s`` seconds for one subject."""

    name: str
    limit: int
    window_s: int


@dataclass(frozen=True)
class Hit:
    """One counted attempt: ``allowed`` while the count is within the limit."""

    allowed: bool
    count: int
    retry_after_s: int  # seconds until the window ends (the Retry-After header)


def hit(redis: Redis, limit: Limit, subject: str, *, prefix: str = "",
        now: float | None = None) -> Hit:
    """Count one attempt by ``subject`` (an IP hash, a ticket number) against ``limit``.

    Raises ``redis.exceptions.RedisError`` when Redis cannot be reached: the caller fails
    closed.
    """
    moment = time.time() if now is None else now
    window = int(moment // limit.window_s)
    key = f"{prefix}callcenter:ratelimit:{limit.name}:{subject}:{window}"
    pipe = redis.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, limit.window_s + 1)
    count = int(pipe.execute()[0])
    retry_after = max(1, math.ceil((window + 1) * limit.window_s - moment))
    return Hit(count <= limit.limit, count, retry_after)
