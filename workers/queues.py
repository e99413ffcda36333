"""Queue names, the Redis connection, and how each kind of job is enqueued.

Jobs are named by their dotted path (RQ imports it in the worker), so this module imports no
job module and every job module may import it. The paths are stored with each job in Redis:
they never change, and a job keeps accepting the arguments older releases enqueued it with.
Jobs are enqueued only after the rows they read are committed (warehouse's rule).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from callcenter.config import Settings
from callcenter.models import Callback, utcnow

log = logging.getLogger(__name__)

URGENT = "urgent"  # routing callers to agents: seconds matter
DEFAULT = "default"  # SMS and other deliveries
_lock = threading.Lock()
_connections: dict[tuple[int, str], Redis] = {}


@dataclass(frozen=True)
class JobKind:
    """How RQ runs one kind of job: its function's dotted path (stored in Redis with every
    job: never renamed), its queue, its time limit, retries, and how long Redis keeps its
    result and its failure (seconds; ``result_ttl=None`` is RQ's default, 500 s)."""

    func: str
    queue: str
    timeout: int
    retry: Retry | None
    result_ttl: int | None
    failure_ttl: int


_DELIVERY_RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])  # provider hiccups: ~45 min
_WEEK = 7 * 86400

# The one table of job kinds. A callback has no RQ retry: its row's retry ladder (P2) and the
# reconciler decide; the ringing of agents retries fast because a caller is waiting.
JOBS: dict[str, JobKind] = {
    "sms": JobKind("workers.messages.send_message", DEFAULT, timeout=30,
                   retry=_DELIVERY_RETRY, result_ttl=None, failure_ttl=_WEEK),
    "email": JobKind("workers.email.send_email", DEFAULT, timeout=60,
                     retry=_DELIVERY_RETRY, result_ttl=None, failure_ttl=_WEEK),
    "media": JobKind("workers.media.fetch_media", DEFAULT, timeout=60,
                     retry=_DELIVERY_RETRY, result_ttl=None, failure_ttl=_WEEK),
    "dispatch": JobKind("workers.agents.dispatch_agents", URGENT, timeout=60,
                        retry=Retry(max=3, interval=[2, 5, 15]), result_ttl=60,
                        failure_ttl=86400),
    "callback": JobKind("workers.callbacks.place_callback", URGENT, timeout=120,
                        retry=None, result_ttl=60, failure_ttl=_WEEK),
}
OUTBOX_KINDS = ("sms", "email")  # an outbox row's job: ``OutboundMessage``, ``OutboundEmail``


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
    """This deployment's queues, urgent first (``CALLCENTER_RQ_PREFIX`` shares a Redis)."""
    return [settings.queue_prefix + URGENT, settings.queue_prefix + DEFAULT]


def new_job(settings: Settings, kind: str, *args: object,
            job_id: str | None = None) -> tuple[Queue, Job]:
    """A job of ``kind`` as :data:`JOBS` says, and the queue it belongs on (not yet queued)."""
    spec = JOBS[kind]
    q = queue(settings, spec.queue)
    job = q.create_job(spec.func, args=args, job_id=job_id, timeout=spec.timeout,
                       retry=spec.retry, result_ttl=spec.result_ttl,
                       failure_ttl=spec.failure_ttl)
    return q, job


def enqueue_outbox(settings: Settings, kind: str, row_id: int) -> bool:
    """Send an outbox row (``kind`` "sms": SMS or WhatsApp, "email"); one job per row while
    it lives (False when one is already queued)."""
    _check_outbox_kind(kind)
    return _enqueue_once(*new_job(settings, kind, row_id, job_id=f"{kind}-{row_id}"))


def _check_outbox_kind(kind: str) -> None:
    if kind not in OUTBOX_KINDS:
        raise ValueError(f"not an outbox kind: {kind!r}")


def send_soon(settings: Settings, kind: str, row_id: int | None) -> bool:
    """After the commit that wrote an outbox row (``kind`` "sms" or "email"): queue it now.

    With Redis down the request that promised the message still succeeds: the row stays
    pending and the outbox sweep sends it (logged). True when a job was queued.
    """
    _check_outbox_kind(kind)  # a wrong kind is a bug to raise, not an outage to log
    if row_id is None:
        return False
    try:
        enqueue_outbox(settings, kind, row_id)
        return True
    except Exception:
        log.exception("could not queue %s %s now; the outbox sweep sends it", kind, row_id)
        return False


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
    q, job = new_job(settings, "media", contact_id, url, content_type)
    q.enqueue_job(job)


def enqueue_dispatch_agents(settings: Settings) -> None:
    """Ring free agents for waiting callers; the job builds its URLs from ``settings.base_url``
    (PUBLIC_BASE_URL), never from a request."""
    q, job = new_job(settings, "dispatch")
    q.enqueue_job(job)


def dispatch_agents_at(settings: Settings, when: datetime) -> bool:
    """Ring agents again when an agent's wrap-up times out (``WRAP_UP_SECONDS``): a caller
    who waited meanwhile is offered to them then, not only at the next sweep. Best effort,
    like :func:`send_soon`: a failure is logged (the periodic sweep still routes waiting
    callers), never raised into a webhook's answer."""
    try:
        q, job = new_job(settings, "dispatch")
        q.schedule_job(job, when + timedelta(seconds=1))  # RQ rounds down to the second
    except Exception:
        log.exception("could not schedule the dispatch at the end of a wrap-up")
        return False
    return True


def callback_job_id(callback: Callback) -> str:
    """One job per callback and due time: the reconciler recreates exactly the lost one."""
    return f"callback-{callback.id}-{int(callback.due_at.timestamp())}"


def schedule_callback_job(settings: Settings, callback: Callback) -> bool:
    """Queue the dial at the callback's due time (RQ's scheduler); False if already queued.

    RQ stores scheduled times rounded down to the second, so a job may start up to a second
    early: ``claim()`` accepts that, and ``decide()`` still keeps the calling window. A
    finished job's id is freed by the reconciler when its row is still due (``result_ttl=0``
    is not an option: RQ 2.12's worker then fails reading the deleted job's status).
    """
    q, job = new_job(settings, "callback", callback.id, job_id=callback_job_id(callback))
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
        return schedule_callback_job(settings, callback)
    except Exception:
        log.exception("could not queue callback %s now; the reconciler queues it", callback.id)
        return False


def _requeue_overdue(q: Queue, fresh: Job) -> bool:
    """The row is due and still ``scheduled`` but a job with its id exists.

    Waiting in the scheduled registry (a dead worker's scheduler holds the lock): move it to
    the queue now. Finished, failed or stopped without claiming the row: replace it. Queued,
    or running for less than a job needs to claim: leave it. Should a job run twice, the
    second finds the row already claimed: the database, not Redis, decides who dials.
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
    if status == JobStatus.STARTED and _died_before_claiming(existing):
        StartedJobRegistry(queue=q).remove_executions(existing)
        existing.delete()
        q.enqueue_job(fresh)
        return True
    return False


# A callback job claims its row at most ``PACE_MAX_WAIT_S`` after it starts (it paces first,
# then claims). Started longer ago with the row still ``scheduled``, its worker is gone (a
# kill while it waited its turn): RQ itself would notice only after the job's timeout and its
# next maintenance (minutes). Replacing it is safe: the claim, not Redis, decides who dials.
PACE_MAX_WAIT_S = 30
STARTED_BUT_UNCLAIMED = timedelta(seconds=PACE_MAX_WAIT_S + 15)


def _died_before_claiming(job: Job) -> bool:
    started = job.started_at
    if started is None:
        return False
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return utcnow() - started > STARTED_BUT_UNCLAIMED
