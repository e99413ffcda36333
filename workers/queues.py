"""Queue names and the Redis connection; enqueue helpers used by the web side.

Jobs are enqueued only after the rows they read are committed (warehouse's rule).
"""

from __future__ import annotations

import logging
import os
import threading

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from callcenter.config import Settings
from callcenter.models import Callback, utcnow

log = logging.getLogger(__name__)

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


def enqueue_send_message(settings: Settings, message_id: int) -> bool:
    """Send an outbox SMS/WhatsApp; once per row while its job lives (False if queued)."""
    from workers.messages import send_message

    q = queue(settings, DEFAULT)
    job = q.create_job(send_message, args=(message_id,), job_id=f"sms-{message_id}",
                       timeout=30, retry=Retry(max=5, interval=[5, 30, 120, 600, 1800]),
                       failure_ttl=7 * 86400)
    return _enqueue_once(q, job)


def send_soon(settings: Settings, kind: str, row_id: int | None) -> bool:
    """After the commit that wrote an outbox row (``kind`` "sms" or "email"): queue it now.

    With Redis down the request that promised the message still succeeds: the row stays
    pending and the outbox sweep sends it (logged). True when a job was queued.
    """
    if row_id is None:
        return False
    try:
        if kind == "email":
            enqueue_send_email(settings, row_id)
        else:
            enqueue_send_message(settings, row_id)
        return True
    except Exception:
        log.exception("could not queue %s %s now; the outbox sweep sends it", kind, row_id)
        return False


def enqueue_send_email(settings: Settings, email_id: int) -> bool:
    """Send an outbox email (``OutboundEmail``); transient SMTP failures retry with backoff."""
    from workers.email import send_email

    q = queue(settings, DEFAULT)
    job = q.create_job(send_email, args=(email_id,), job_id=f"email-{email_id}", timeout=60,
                       retry=Retry(max=5, interval=[5, 30, 120, 600, 1800]),
                       failure_ttl=7 * 86400)
    return _enqueue_once(q, job)


def _enqueue_once(q: Queue, job: Job) -> bool:
    """Enqueue unless a live job has the id; a finished or failed one is replaced (the outbox
    row, still pending, says the work is not done). The job re-reads the row, so a rare
    double run sends nothing twice unless the first died between the provider's "accepted"
    and our commit (Twilio and SMTP have no idempotency key)."""
    try:
        q.enqueue_job(job, unique=True)
        return True
    except DuplicateJobError:
        pass
    try:
        existing = Job.fetch(job.id, connection=q.connection)
    except NoSuchJobError:
        q.enqueue_job(job)
        return True
    if existing.get_status() in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED,
                                 JobStatus.CANCELED):
        existing.delete()
        q.enqueue_job(job)
        return True
    return False


def enqueue_fetch_media(settings: Settings, contact_id: int, url: str,
                        content_type: str) -> None:
    from workers.media import fetch_media

    queue(settings, DEFAULT).enqueue(
        fetch_media, contact_id, url, content_type, job_timeout=60,
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
    """Queue the dial at the callback's due time (RQ's scheduler); False if already queued.

    RQ stores scheduled times rounded down to the second, so a job may start up to a second
    early: ``claim()`` accepts that, and ``decide()`` still keeps the calling window. A
    finished job's id is freed by the reconciler when its row is still due (``result_ttl=0``
    is not an option: RQ 2.12's worker then fails reading the deleted job's status).
    """
    from workers.callbacks import place_callback

    q = queue(settings, URGENT)
    job = q.create_job(place_callback, args=(callback.id, base_url),
                       job_id=callback_job_id(callback), timeout=120, result_ttl=60,
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
        return overdue and _requeue_overdue(q, job)
    return True


def schedule_soon(settings: Settings, callback: Callback) -> bool:
    """After the commit that wrote a callback row: queue its dial job now.

    Like :func:`send_soon`, a failure (Redis down) is logged and not raised: the row is the
    promise, and the reconciler recreates its job. True when a job was queued.
    """
    try:
        return schedule_callback_job(settings, callback, settings.base_url)
    except Exception:
        log.exception("could not queue callback %s now; the reconciler queues it", callback.id)
        return False


def _requeue_overdue(q: Queue, fresh: Job) -> bool:
    """The row is due and still ``scheduled`` but a job with its id exists.

    Waiting in the scheduled registry (a dead worker's scheduler holds the lock): move it to
    the queue now. Finished, failed or stopped without claiming the row: replace it. Queued
    or running: leave it. Should a job run twice, the second finds the row already claimed:
    the database, not Redis, decides who dials.
    """
    try:
        existing = Job.fetch(fresh.id, connection=q.connection)
    except NoSuchJobError:
        q.enqueue_job(fresh)
        return True
    status = existing.get_status()
    if status == JobStatus.SCHEDULED:
        ScheduledJobRegistry(queue=q).remove(existing)
        q.enqueue_job(existing)
        return True
    if status in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        existing.delete()
        q.enqueue_job(fresh)
        return True
    return False
