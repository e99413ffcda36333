"""Place callbacks through Twilio's REST API, exactly once (P2.1).

The job takes a callback id, claims the row (``scheduled → dialing``), re-checks the calling
rules, and only then asks Twilio for the call. The Call SID is stored before anything else;
the status callback settles the outcome. A job lost with Redis is recreated by the reconciler
from the row; a job that runs twice finds the row already claimed.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import requests
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from callcenter.callbacks import policy
from callcenter.config import Settings
from callcenter.models import Callback, utcnow
from callcenter.statuses import CallbackStatus, CallStatus
from callcenter.voice.telephony import rest_client
from workers.queues import redis_connection, schedule_callback_job
from workers.runtime import job_session, settings

log = logging.getLogger(__name__)
CALL_TIMEOUT_S = 30


def place_callback(callback_id: int, base_url: str | None = None) -> str | None:
    """Dial one due callback; returns the Call SID when Twilio accepted the call.

    URLs come from ``PUBLIC_BASE_URL`` (``Settings.base_url``); ``base_url`` is ignored, and
    accepted only because jobs enqueued by earlier releases still carry it.
    """
    current = settings()
    with job_session(current) as session:
        callback = policy.claim(session, callback_id)
        if callback is None:
            return None  # not due, cancelled, or another worker has it
        decision = policy.decide(session, current, callback)  # same transaction as claim
        session.commit()  # the claim is durable before Twilio is asked
        if decision.action == "reschedule" and decision.when is not None:
            policy.unclaim(callback, decision.when, decision.reason or "rescheduled")
            session.commit()
            schedule_callback_job(current, callback)
            return None
        if decision.action == "fail":
            callback.status = CallbackStatus.FAILED
            callback.last_error = decision.reason
            return None
        pace(current)
        return _dial(session, current, rest_client(current), callback)


def _dial(session: Session, current: Settings, client: Client,
          callback: Callback) -> str | None:
    base = current.base_url
    try:
        call = client.calls.create(
            to=callback.phone,
            from_=current.twilio_phone_number,
            url=f"{base}/twilio/voice/callback/answer?cb={callback.id}",
            status_callback=f"{base}/twilio/voice/status?cb={callback.id}",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            machine_detection="DetectMessageEnd",
            timeout=CALL_TIMEOUT_S,
        )
    except TwilioRestException as exc:
        when = policy.api_error(callback, exc.status, exc.code, exc.msg or "")
        session.commit()
        log.warning("callback %s: Twilio answered %s (%s)", callback.id, exc.status, exc.code)
        if when is not None:
            schedule_callback_job(current, callback)
        return None
    except requests.ConnectionError as exc:
        # Refused before Twilio saw it: safe to retry like a 5xx. A read timeout is not
        # caught: Twilio may have placed the call, so the row stays "dialing" and the status
        # callback (which names the callback) or the reconciler settles it.
        if isinstance(exc, requests.exceptions.ReadTimeout):
            raise
        when = policy.api_error(callback, 503, None, "connection failed")
        session.commit()
        if when is not None:
            schedule_callback_job(current, callback)
        return None
    policy.placed(session, callback, call.sid)
    session.commit()
    return call.sid


def pace(current: Settings) -> None:
    """Dial at most ``CALLBACK_DIAL_RATE`` calls a second across all workers (FACTS: Twilio
    queues a burst at the account's CPS instead of placing it)."""
    if current.dial_rate_per_s <= 0:
        return
    conn = redis_connection(current)
    gap_ms = max(int(1000 / current.dial_rate_per_s), 1)
    key = current.queue_prefix + "callcenter:dial-pace"
    deadline = time.monotonic() + 30
    while not conn.set(key, "1", nx=True, px=gap_ms):
        if time.monotonic() > deadline:
            return
        time.sleep(min(gap_ms / 1000, 0.05))


def reconcile(current: Settings | None = None) -> dict[str, int]:
    """Recreate lost jobs and settle callbacks stuck in ``dialing`` (Redis flushed, worker died)."""
    current = current or settings()
    counts = {"scheduled": 0, "settled": 0, "released": 0}
    with job_session(current) as session:
        for callback in policy.due_callbacks(session, until=utcnow() + timedelta(hours=24)):
            if schedule_callback_job(current, callback):
                counts["scheduled"] += 1
        client = rest_client(current)
        for callback in policy.stuck_dialing(session):
            outcome, reschedule = _settle_stuck(session, current, client, callback)
            session.commit()  # commit, then enqueue
            if reschedule:
                schedule_callback_job(current, callback)
            counts[outcome] += 1
    return counts


def _settle_stuck(session: Session, current: Settings, client: Client,
                  callback: Callback) -> tuple[str, bool]:
    """Ask Twilio what became of a call we never heard the end of; (outcome, reschedule)."""
    sid = callback.call_sid
    if sid is None and callback.dialing_since is not None:
        found = client.calls.list(to=callback.phone, start_time_after=callback.dialing_since,
                                  limit=1)
        sid = found[0].sid if found else None
    if sid is None:
        policy.unclaim(callback, utcnow(), "no call was placed; dialling again")
        return "released", True
    call = client.calls(sid).fetch()
    if call.status in (CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS):
        callback.call_sid = sid
        return "settled", False
    policy.outbound_contact(session, callback, sid)
    when = policy.settle(session, current, callback, sid, call.status, call.answered_by)
    return "settled", when is not None
