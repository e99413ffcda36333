"""Periodic safety nets: whatever a lost trigger missed, the next sweep catches."""

from __future__ import annotations

import logging
import signal
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from callcenter.callbacks import policy
from callcenter.compliance import complaint_kind, retention
from callcenter.config import Settings
from callcenter.models import Ticket, utcnow
from callcenter.voice import agents
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


def sweep_once(settings: Settings) -> None:
    """Route waiting callers, recreate lost callback jobs, find silent customers, turn
    overdue oral complaints written, send outbox SMS and emails whose jobs were lost, and
    apply call statuses that could not be applied or never came."""
    with job_session(settings) as session:
        waiting = agents.callers_waiting(session)
    if waiting:
        enqueue_dispatch_agents(settings)
    reconcile(settings)
    sweep_no_response(settings)
    convert_overdue_oral(settings)
    requeue_pending_messages(current=settings)
    requeue_pending_emails(current=settings)
    drain_spool(settings)  # status callbacks received while the database was down
    settle_silent_calls(settings)  # and those that never reached us
    purge_expired(settings)
    daily_digest(settings)


def run_forever(interval: float) -> None:
    stop = False

    def _stop(*_args: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop:
        try:
            sweep_once(Settings.from_env())
        except Exception:
            log.exception("sweep failed; retrying at the next interval")
        slept = 0.0
        while slept < interval and not stop:
            time.sleep(0.5)
            slept += 0.5
