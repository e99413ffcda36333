"""The worker process (``callcenter worker``, the Procfile's ``worker:``).

RQ's ``SimpleWorker`` runs each job in the worker process itself: the forking worker imported
twilio and the models again for every job (bench: 2 callbacks/s instead of ~100). Its
scheduler moves due callback jobs onto the queue. The queues are this deployment's own, so
``CALLCENTER_RQ_PREFIX`` applies to the worker as it does to every enqueue.
"""

from __future__ import annotations

from redis import Redis
from rq import SimpleWorker

from callcenter.config import Settings
from workers.queues import queue_names


def run_worker(settings: Settings, *, burst: bool = False) -> bool:
    """Take jobs from the urgent queue first, then the default one, until stopped (SIGTERM
    or Ctrl-C finish the job at hand) or, with ``burst``, until both are empty. True when a
    job ran."""
    # A client of its own: RQ raises its socket timeout above the blocking dequeue's, which
    # the jobs' shared client (5 s) must keep.
    connection = Redis.from_url(settings.effective_redis_url)
    worker = SimpleWorker(queue_names(settings), connection=connection)
    return worker.work(burst=burst, with_scheduler=True)
