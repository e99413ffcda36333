"""Fleet-wide counters for ``/metrics``, kept in the shared Redis: sweep steps and job failures.

Several schedulers and workers on several hosts add to the same keys, so whichever web host is
scraped reports the whole fleet (a per-process counter would show one process's share). A
sweep step's durations form a Prometheus histogram (cumulative buckets, sum and count) in one
Redis hash per step. A Redis restart resets them; Prometheus reads that as a counter reset.
Recording never raises: a metric that cannot be written must not stop the work it measures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from callcenter.config import Settings
from workers.queues import JOBS, redis_connection

log = logging.getLogger(__name__)
# Seconds: a sweep step is a few queries, or a call to Twilio per unsettled call.
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _step_key(settings: Settings, step: str) -> str:
    return f"{settings.queue_prefix}callcenter:stats:sweep-step:{step}"


def _failures_key(settings: Settings) -> str:
    return f"{settings.queue_prefix}callcenter:stats:job-failures"


def record_step(settings: Settings, step: str, seconds: float, failed: bool,
                finished_at: float) -> None:
    """One run of a sweep step: its duration in the histogram, a failure counted, and the
    time of its last success (``finished_at``, Unix seconds)."""
    key = _step_key(settings, step)
    try:
        with redis_connection(settings).pipeline(transaction=False) as pipe:
            for bound in STEP_BUCKETS:
                if seconds <= bound:
                    pipe.hincrby(key, f"le:{bound}", 1)
            pipe.hincrby(key, "count", 1)
            pipe.hincrbyfloat(key, "sum", seconds)
            if failed:
                pipe.hincrby(key, "failures", 1)
            else:
                pipe.hset(key, "last_success", repr(finished_at))
            pipe.execute()
    except RedisError as exc:
        log.warning("sweep step %s: not recorded (%s)", step, type(exc).__name__)


@dataclass(frozen=True)
class StepStats:
    """What the fleet recorded of one sweep step."""

    step: str
    buckets: list[tuple[float, int]]  # cumulative, by upper bound
    count: int
    total_seconds: float
    failures: int
    last_success: float | None


def step_stats(settings: Settings, steps: list[str]) -> list[StepStats]:
    """The recorded runs of each of ``steps`` (zeros for a step never run)."""
    with redis_connection(settings).pipeline(transaction=False) as pipe:
        for step in steps:
            pipe.hgetall(_step_key(settings, step))
        rows = pipe.execute()
    found = []
    for step, raw in zip(steps, rows, strict=True):
        values = {name.decode(): value.decode() for name, value in raw.items()}
        buckets = [(bound, int(values.get(f"le:{bound}", 0))) for bound in STEP_BUCKETS]
        last = values.get("last_success")
        found.append(StepStats(step, buckets, int(values.get("count", 0)),
                               float(values.get("sum", 0.0)), int(values.get("failures", 0)),
                               float(last) if last else None))
    return found


def job_kind(func_name: str | None) -> str:
    """The :data:`workers.queues.JOBS` kind of a job's function (``other`` for the rest)."""
    for kind, spec in JOBS.items():
        if spec.func == func_name:
            return kind
    return "other"


def record_job_failure(settings: Settings, func_name: str | None) -> None:
    """A job attempt raised (RQ retries count each attempt, as RQ's handlers see them)."""
    try:
        redis_connection(settings).hincrby(_failures_key(settings), job_kind(func_name), 1)
    except RedisError as exc:
        log.warning("job failure not counted (%s)", type(exc).__name__)


def job_failures(settings: Settings) -> dict[str, int]:
    """Failed job attempts by kind, every kind of :data:`JOBS` present (zero or more)."""
    raw = redis_connection(settings).hgetall(_failures_key(settings))
    counts = dict.fromkeys(JOBS, 0)
    counts.update({kind.decode(): int(value) for kind, value in raw.items()})
    return counts
