"""Queue names and the Redis connection; enqueue helpers used by the web side.

Jobs are enqueued only after the rows they read are committed (warehouse's rule).
"""

from __future__ import annotations

import os
import threading

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from callcenter.config import Settings
from callcenter.models import Callback, utcnow

URGENT = "urgent"  # routing callers to agents: seconds matter
DEFAULT = "default"  # SMS and other deliveries
_lock = threading.Lock()
_connections: dict[tuple[int, str], Redis] = {}


def redis_connection(settings: Settings) -> Redis:
    """One client per process and URL (forked workers get their own)."""
    url = settings.effective_redis_url
    key = (os.getpid(), url)
    with _lock:
        conn = _connections.get(key)
        if conn is None:
            conn = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
            _connections[key] = conn
        return conn


def queue(settings: Settings, name: str) -> Queue:
    return Queue(settings.queue_prefix + name, connection=redis_connection(settings))


def queue_names(settings: Settings) -> list[str]:
    return [settings.queue_prefix + URGENT, settings.queue_prefix + DEFAULT]


def enqueue_send_message(settings: Settings, message_id: int) -> None:
    from workers.messages import send_message

    queue(settings, DEFAULT).enqueue(
        send_message, message_id, job_id=f"sms-{message_id}", job_timeout=30,
        retry=Retry(max=5, interval=[5, 30, 120, 600, 1800]), failure_ttl=7 * 86400)


def enqueue_dispatch_agents(settings: Settings, base_url: str) -> None:
    from workers.agents import dispatch_agents

    queue(settings, URGENT).enqueue(
        dispatch_agents, base_url, job_timeout=60, result_ttl=60, failure_ttl=86400,
        retry=Retry(max=3, interval=[2, 5, 15]))


def callback_job_id(callback: Callback) -> str:
    """One job per callback and due time: the reconciler recreates exactly the lost one."""
    return f"callback-{callback.id}-{int(callback.due_at.timestamp())}"


def schedule_callback_job(settings: Settings, callback: Callback, base_url: str) -> bool:
    """Queue the dial at the callback's due time (RQ's scheduler); False if it exists."""
    from workers.callbacks import place_callback

    q = queue(settings, URGENT)
    job = q.create_job(place_callback, args=(callback.id, base_url),
                       job_id=callback_job_id(callback), timeout=120, result_ttl=3600,
                       failure_ttl=7 * 86400)
    overdue = callback.due_at <= utcnow()
    try:
        if overdue:
            # Due now: straight onto the queue, not via the scheduler (whose lock may be held
            # by a worker that died; RQ lets it expire only after ~61 s).
            q.enqueue_job(job, unique=True)
        else:
            q.schedule_job(job, callback.due_at, unique=True)
    except DuplicateJobError:
        return overdue and _promote_overdue(q, job.id)
    return True


def _promote_overdue(q: Queue, job_id: str) -> bool:
    """An overdue job still waiting in the scheduled registry goes to the queue now.

    Should the scheduler move it at the same moment, the job runs twice and the second run
    finds the callback already claimed: the database, not Redis, decides who dials.
    """
    registry = ScheduledJobRegistry(queue=q)
    if job_id not in registry:
        return False
    registry.remove(job_id)
    q.enqueue_job(Job.fetch(job_id, connection=q.connection))
    return True
