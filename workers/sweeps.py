"""Periodic safety nets: whatever a lost trigger missed, the next sweep catches."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from callcenter.callbacks import policy
from callcenter.compliance import complaint_kind, retention
from callcenter.config import Settings
from callcenter.models import Ticket, utcnow
from callcenter.voice import agents
from workers import heartbeats, stats
from workers.call_status import drain_spool, settle_silent_calls
from workers.callbacks import reconcile
from workers.digest import send_breach_digest
from workers.email import requeue_pending as requeue_pending_emails
from workers.messages import requeue_pending_messages
from workers.queues import (
    enqueue_dispatch_agents,
    enqueue_outbox,
    redis_connection,
    schedule_callback_job,
)
from workers.runtime import job_session

log = logging.getLogger(__name__)


def sweep_no_response(settings: Settings) -> int:
    """P2.2b: callbacks for customers silent after our written question."""
    with job_session(settings) as session:
        created = policy.schedule_no_response(session, settings)
        session.commit()
        for callback in created:
            schedule_callback_job(settings, callback)
    return len(created)


def convert_overdue_oral(settings: Settings, now: datetime | None = None,
                         batch: int = 200) -> int:
    """POJK 18/2018 art. 34: oral complaints still open after their oral period
    continue as written ones (:mod:`callcenter.compliance.complaint_kind`), and each customer is
    told so
    in writing. Reads only the candidates (oral, unsettled, past ``due_at``); each conversion
    is committed on its own and its SMS/email job enqueued after that commit, so a second
    sweep finds nothing left to convert and nobody is told twice. A notice whose job is lost
    stays ``pending`` in the outbox and is sent by the outbox sweep. Returns how many were
    converted.

    Oral periods end at midnight; the conversion waits for the day hours (``CALLING_HOURS``
    in the centre's zone) so that nobody gets the notice at night. No deadline moves for it:
    the written clock starts at the end of the oral period whenever the sweep converts.
    """
    now = now or utcnow()
    start, end = settings.calling_hours
    if not start <= now.astimezone(ZoneInfo(settings.timezone)).time() < end:
        return 0
    converted = 0
    with job_session(settings) as session:
        for ticket_id in complaint_kind.candidates(session, now, limit=batch):
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                continue
            result = complaint_kind.convert(session, settings, ticket, now)
            session.commit()
            if result is None:
                continue
            converted += 1
            log.info("ticket %s: oral complaint continues as written", result.number)
            if result.message_id is not None:
                enqueue_outbox(settings, "sms", result.message_id)
            if result.email_id is not None:
                enqueue_outbox(settings, "email", result.email_id)
    return converted


def purge_expired(settings: Settings) -> retention.PurgeResult | None:
    """Anonymise personal data past retention, at most once an hour across all schedulers."""
    lock = redis_connection(settings).set(settings.queue_prefix + "callcenter:retention-run",
                                          "1", nx=True, ex=3600)
    if not lock:
        return None
    with job_session(settings) as session:
        result = retention.purge(session, settings)
        session.commit()
    if result.tickets or result.customers:
        log.info("retention: anonymised %s tickets and %s customers", result.tickets,
                 result.customers)
    return result


def daily_digest(settings: Settings, now: datetime | None = None) -> bool:
    """Once a day, from 08:00 in the centre's zone, across all schedulers."""
    local = (now or utcnow()).astimezone(ZoneInfo(settings.timezone))
    if local.hour < 8 or not settings.supervisor_emails:
        return False
    key = f"{settings.queue_prefix}callcenter:digest:{local.date().isoformat()}"
    if not redis_connection(settings).set(key, "1", nx=True, ex=2 * 86400):
        return False
    try:
        return send_breach_digest(settings, now)
    except Exception:
        redis_connection(settings).delete(key)  # try again at the next sweep
        raise


def route_waiting_callers(settings: Settings) -> int:
    """Ring agents for callers still waiting (a dispatch job lost with Redis, an agent who
    became free without a trigger); the dispatcher's own lock keeps it single."""
    with job_session(settings) as session:
        waiting = agents.callers_waiting(session)
    if waiting:
        enqueue_dispatch_agents(settings)
    return waiting


def resend_messages(settings: Settings) -> int:
    return requeue_pending_messages(current=settings)


def resend_emails(settings: Settings) -> int:
    return requeue_pending_emails(current=settings)


@dataclass(frozen=True)
class SweepStep:
    """One safety net of the sweep. ``run`` opens its own session; across all schedulers one
    runs it at a time (a Redis lock that expires after ``lock_s``, so a scheduler killed
    mid-step frees it)."""

    name: str
    run: Callable[[Settings], object]
    lock_s: int = 300


class StepOutcome(StrEnum):
    RAN = "ran"
    FAILED = "failed"
    SKIPPED = "skipped"  # another scheduler holds the step's lock


# The steps, in order: each is guarded on its own, so one that raises (Twilio down for the
# reconciler, a bad row) never stops the others.
STEPS: list[SweepStep] = [
    SweepStep("route_waiting_callers", route_waiting_callers),
    SweepStep("reconcile_callbacks", reconcile),
    SweepStep("no_response_callbacks", sweep_no_response),
    SweepStep("convert_overdue_oral", convert_overdue_oral),
    SweepStep("resend_messages", resend_messages),
    SweepStep("resend_emails", resend_emails),
    SweepStep("apply_spooled_statuses", drain_spool),  # received while the database was down
    SweepStep("settle_silent_calls", settle_silent_calls),  # and those that never reached us
    SweepStep("purge_expired", purge_expired),
    SweepStep("daily_digest", daily_digest),
]


def run_step(settings: Settings, step: SweepStep) -> StepOutcome:
    """Run one step under its lock and its own guard; its duration and any failure are
    recorded for ``/metrics`` (:mod:`workers.stats`), its failure logged with its name."""
    lock = redis_connection(settings).lock(
        f"{settings.queue_prefix}callcenter:sweep-lock:{step.name}", timeout=step.lock_s,
        blocking=False)
    try:
        if not lock.acquire():
            return StepOutcome.SKIPPED
    except Exception:
        log.exception("sweep step %s: cannot take its lock (Redis)", step.name)
        return StepOutcome.FAILED
    started = time.monotonic()
    outcome = StepOutcome.RAN
    try:
        result = step.run(settings)
        if _did_something(result):
            log.info("sweep step %s: %s", step.name, result)
    except Exception:
        outcome = StepOutcome.FAILED
        log.exception("sweep step %s failed; the other steps go on", step.name)
    finally:
        stats.record_step(settings, step.name, time.monotonic() - started,
                          failed=outcome == StepOutcome.FAILED, finished_at=time.time())
        with contextlib.suppress(Exception):  # expired meanwhile, or Redis gone: it expires
            lock.release()
    return outcome


def _did_something(result: object) -> bool:
    if isinstance(result, dict):
        return any(result.values())
    return bool(result)


def sweep_once(settings: Settings, steps: list[SweepStep] | None = None,
               after_step: Callable[[], object] | None = None) -> dict[str, StepOutcome]:
    """Route waiting callers, recreate lost callback jobs, find silent customers, turn
    overdue oral complaints written, send outbox SMS and emails whose jobs were lost, settle
    calls whose end we never heard, purge, and send the digest: each step on its own."""
    outcomes = {}
    for step in STEPS if steps is None else steps:
        outcomes[step.name] = run_step(settings, step)
        if after_step is not None:
            after_step()
    return outcomes


def run_forever(interval: float, settings: Settings | None = None) -> None:
    """The scheduler's loop (``callcenter scheduler``): a sweep every ``interval`` seconds,
    with a heartbeat before the sweep and after each step, until SIGTERM or Ctrl-C."""
    settings = settings or Settings.from_env()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    name = heartbeats.process_name()

    def beat() -> None:
        heartbeats.beat(settings, heartbeats.Role.SCHEDULER, name)

    log.info("scheduler %s: a sweep every %s s", name, interval)
    while not stop.is_set():
        beat()
        try:
            sweep_once(settings, after_step=beat)
        except Exception:  # each step has its guard; this is the loop's own
            log.exception("sweep failed; retrying at the next interval")
        stop.wait(interval)
    heartbeats.forget(settings, heartbeats.Role.SCHEDULER, name)
