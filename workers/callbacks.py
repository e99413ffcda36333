"""Place callbacks through Twilio's REST API, exactly once (P2.1).

The job takes a callback id, waits its turn (pacing), claims the row (``scheduled →
dialing``), re-checks the calling rules, and only then asks Twilio for the call. The Call SID
is stored before anything else; the status callback settles the outcome. A job lost with
Redis is recreated by the reconciler from the row; a job that runs twice finds the row
already claimed. Twilio has no idempotency key for creating a call: after an answer that
does not say whether the call was placed (5xx, timeout), the next attempt asks the Calls API
first and adopts the call it finds.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from twilio.rest.api.v2010.account.call import CallInstance

from callcenter.callbacks import policy
from callcenter.config import Settings
from callcenter.models import Callback, Contact, utcnow
from callcenter.statuses import FINAL_CALL_STATUSES, CallbackStatus, CallStatus
from callcenter.voice.telephony import rest_client
from workers.queues import PACE_MAX_WAIT_S, redis_connection, schedule_callback_job
from workers.runtime import job_session, settings

log = logging.getLogger(__name__)
CALL_TIMEOUT_S = 30  # seconds the customer's phone rings
TWILIO_TIMEOUT_S = 10.0  # a Calls request unanswered this long is ambiguous, not lost
FOUND_CALLS_PAGE = 20


def place_callback(callback_id: int, base_url: str | None = None) -> str | None:
    """Dial one due callback; returns the Call SID when Twilio accepted the call.

    Pacing comes first, before the row is claimed: a job killed (or a Redis error) while it
    waits for its turn leaves the row ``scheduled``, and the reconciler queues it again at
    once instead of finding it ``dialing`` without a call 15 minutes later. After an
    ambiguous answer from Twilio (5xx, no answer) the row remembers since when a call may
    exist; the next job asks Twilio's Calls API and adopts that call instead of placing a
    second one.

    URLs come from ``PUBLIC_BASE_URL`` (``Settings.base_url``); ``base_url`` is ignored, and
    accepted only because jobs enqueued by earlier releases still carry it.
    """
    current = settings()
    with job_session(current) as session:
        if current.dial_rate_per_s > 0:
            if not policy.is_due(session, callback_id):
                return None  # not due, cancelled, or another worker has it
            pace(current)
        claimed = policy.claim_due(session, callback_id, settings=current)
        if claimed is None:
            return None  # not due, cancelled, or another worker has it
        callback, maybe_placed_since = claimed.callback, claimed.placed_since
        client = rest_client(current, timeout=TWILIO_TIMEOUT_S)
        if maybe_placed_since is not None:
            session.commit()  # the claim is durable before Twilio is asked
            settled, sid = _adopt_earlier_call(session, current, client, callback,
                                               maybe_placed_since)
            if settled:
                return sid
        decision = policy.decide(session, current, callback,  # same transaction as claim
                                 customer=claimed.customer)
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
        return _dial(session, current, client, callback)


def _adopt_earlier_call(session: Session, current: Settings, client: Client,
                        callback: Callback, since: datetime) -> tuple[bool, str | None]:
    """Twilio's last answer for this callback was ambiguous: a call may exist. Found, it is
    this attempt (its SID stored, its outcome applied if it is over): no second call.
    Returns (True, SID) when adopted, (True, None) when Twilio cannot tell us now (the row is
    rescheduled, nothing dialled), (False, None) when there is no such call: dial."""
    try:
        found = next(iter(earlier_calls(session, client, current, callback, since)), None)
    except (TwilioException, requests.RequestException) as exc:
        # A list page that fails raises TwilioException, not TwilioRestException.
        _give_back(session, current, callback, getattr(exc, "status", 0) or 0, None,
                   f"cannot tell whether a call exists ({type(exc).__name__})",
                   maybe_placed_since=since)
        return True, None
    if found is None:
        return False, None
    log.info("callback %s: adopting call %s placed by an earlier attempt", callback.id,
             found.sid)
    policy.placed(session, callback, found.sid)
    reschedule = False
    if found.status in FINAL_CALL_STATUSES:  # it ended while we did not know it was ours
        policy.outbound_contact(session, callback, found.sid)
        reschedule = policy.settle(session, current, callback, found.sid, found.status,
                                   found.answered_by) is not None
    session.commit()
    if reschedule:
        schedule_callback_job(current, callback)
    return True, found.sid


CLOCK_SKEW = timedelta(seconds=5)  # our clock against Twilio's date_created


def earlier_calls(session: Session, client: Client, current: Settings, callback: Callback,
                  since: datetime) -> list[CallInstance]:
    """Calls from our number to the callback's number created since ``since`` that no other
    callback owns, newest first
    (https://www.twilio.com/docs/voice/api/call-resource#read-multiple-call-resources: To and
    From filters). Filtered on ``date_created``, not the StartTime parameter: a call still
    queued at Twilio has no start time yet."""
    recent = [call for call in client.calls.list(to=callback.phone,
                                                 from_=current.twilio_phone_number,
                                                 limit=FOUND_CALLS_PAGE)
              if call.date_created is not None and call.date_created >= since - CLOCK_SKEW]
    if not recent:
        return []
    owned = set(session.scalars(select(Contact.external_id).where(
        Contact.channel == "voice", Contact.external_id.in_([c.sid for c in recent]),
        Contact.callback_id.is_not(None), Contact.callback_id != callback.id)))
    return [call for call in recent if call.sid not in owned]


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
        log.warning("callback %s: Twilio answered %s (%s)", callback.id, exc.status, exc.code)
        _give_back(session, current, callback, exc.status, exc.code, exc.msg or "")
        return None
    except requests.RequestException as exc:
        # No answer (timeout, connection dropped): Twilio may have placed the call. The row
        # keeps the time; the retry asks Twilio before it dials again.
        log.warning("callback %s: no answer from Twilio (%s)", callback.id, type(exc).__name__)
        _give_back(session, current, callback, 0, None,
                   f"no answer from Twilio ({type(exc).__name__})")
        return None
    policy.placed(session, callback, call.sid)
    session.commit()
    return call.sid


def _give_back(session: Session, current: Settings, callback: Callback, status: int,
               code: int | None, message: str, *,
               maybe_placed_since: datetime | None = None) -> None:
    """Twilio answered an error (or nothing): the row goes back to ``scheduled`` with the
    back-off (an ambiguous answer keeps the time since which a call may exist), unless the
    call's own status callback has meanwhile named this attempt's call: then it was placed,
    and the row already says how it went."""
    if not policy.still_unanswered(session, callback):
        session.commit()
        log.info("callback %s: the call's status callback came first; nothing to give back",
                 callback.id)
        return
    if maybe_placed_since is not None:  # an earlier attempt's call may still turn up
        callback.dialing_since = maybe_placed_since
    when = policy.api_error(callback, status, code, message)
    session.commit()
    if when is not None:
        schedule_callback_job(current, callback)


def pace(current: Settings) -> None:
    """Dial at most ``CALLBACK_DIAL_RATE`` calls a second across all workers (FACTS: Twilio
    queues a burst at the account's CPS instead of placing it). Waits at most
    ``PACE_MAX_WAIT_S``; a Redis error is raised (the row is not claimed yet)."""
    if current.dial_rate_per_s <= 0:
        return
    conn = redis_connection(current)
    gap_ms = max(int(1000 / current.dial_rate_per_s), 1)
    key = current.queue_prefix + "callcenter:dial-pace"
    deadline = time.monotonic() + PACE_MAX_WAIT_S
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
        client = rest_client(current, timeout=TWILIO_TIMEOUT_S)
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
        found = earlier_calls(session, client, current, callback, callback.dialing_since)
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
