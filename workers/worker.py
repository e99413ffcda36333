"""The worker process (``callcenter worker``, the Procfile's ``worker:``).

RQ's ``SimpleWorker`` runs each job in the worker process itself: the forking worker imported
twilio and the models again for every job (bench: 2 callbacks/s instead of ~100). Its
scheduler moves due callback jobs onto the queue. The queues are this deployment's own, so
``CALLCENTER_RQ_PREFIX`` applies to the worker as it does to every enqueue.

A Redis restart must not end the process: RQ leaves its work loop ("found an unhandled
exception, quitting") when Redis disappears in the middle of a job or of its own
bookkeeping, and a platform that does not restart it leaves every callback undialled. So
:func:`run_worker` starts a fresh RQ worker, with back-off, whenever the last one quit without
being asked to; only SIGTERM or Ctrl-C end it. The worker beats (:mod:`workers.heartbeats`) at
least every ``heartbeat_interval_s`` and restarts RQ's scheduler within a minute of its
death, instead of RQ's ten.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.job import Job

from callcenter.config import Settings
from workers import heartbeats, stats
from workers.queues import queue_names

log = logging.getLogger(__name__)
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
STEADY_AFTER_S = 60.0  # a worker that ran this long starts the back-off afresh when it quits
SCHEDULER_CHECK_S = 30  # RQ's maintenance (restarts a dead scheduler): RQ's default is 600


class CallcenterWorker(SimpleWorker):
    """RQ's ``SimpleWorker`` that beats in the shared Redis, counts failed jobs for the
    fleet's metrics, and remembers whether it was asked to stop (else it quit on its own)."""

    def __init__(self, settings: Settings, connection: Redis, **kwargs: Any) -> None:
        # RQ blocks on the queues for worker_ttl - 15 s between beats.
        super().__init__(queue_names(settings), connection=connection,
                         worker_ttl=settings.heartbeat_interval_s + 15,
                         maintenance_interval=SCHEDULER_CHECK_S,
                         exception_handlers=[self._count_failure], **kwargs)
        self.settings = settings
        self.stop_requested = False
        self.beat_name = heartbeats.process_name()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        super().heartbeat(timeout, pipeline)
        heartbeats.beat(self.settings, heartbeats.Role.WORKER, self.beat_name,
                        conn=self.connection)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        super().request_stop(signum, frame)

    def _count_failure(self, job: Job, _type: type[BaseException] | None,
                       _value: BaseException | None, _tb: TracebackType | None) -> bool:
        try:
            func_name = job.func_name
        except Exception:  # an undecodable job is RQ's to report
            func_name = None
        stats.record_job_failure(self.settings, func_name)
        return True  # RQ's own handler still records the failure


def new_worker(settings: Settings) -> CallcenterWorker:
    # A client of its own: RQ raises its socket timeout above the blocking dequeue's, which
    # the jobs' shared client (5 s) must keep.
    return CallcenterWorker(settings, Redis.from_url(settings.effective_redis_url))


def run_worker(settings: Settings, *, burst: bool = False) -> bool:
    """Take jobs from the urgent queue first, then the default one, until stopped (SIGTERM
    or Ctrl-C finish the job at hand) or, with ``burst``, until both are empty. True when a
    job ran. Outside burst mode a worker that quits on its own (Redis gone) is replaced."""
    if burst:
        return new_worker(settings).work(burst=True, with_scheduler=True)
    worked = False
    delay = BACKOFF_FIRST_S
    while True:
        worker = new_worker(settings)
        started = time.monotonic()
        try:
            worked = worker.work(with_scheduler=True) or worked
        except RedisError as exc:
            log.warning("worker %s lost Redis: %s", worker.name, type(exc).__name__)
        except Exception:
            log.exception("worker %s failed", worker.name)
        if worker.stop_requested:
            heartbeats.forget(settings, heartbeats.Role.WORKER, worker.beat_name)
            return worked
        if time.monotonic() - started >= STEADY_AFTER_S:
            delay = BACKOFF_FIRST_S
        log.warning("worker %s quit without being asked; a new one starts when Redis "
                    "answers (next try in %.0f s)", worker.name, delay)
        if not _wait_for_redis(settings, delay):
            return worked
        delay = min(delay * 2, BACKOFF_MAX_S)


def _wait_for_redis(settings: Settings, first_delay: float) -> bool:
    """Sleep ``first_delay``, then until Redis answers a PING (backing off); False when
    SIGTERM or Ctrl-C came meanwhile."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        delay = first_delay
        while not stop.wait(delay):
            probe = Redis.from_url(settings.effective_redis_url, socket_connect_timeout=2,
                                   socket_timeout=2)
            try:
                if probe.ping():
                    return True
            except RedisError:
                pass
            finally:
                probe.close()
            delay = min(delay * 2, BACKOFF_MAX_S)
        return False
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
