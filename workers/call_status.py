"""Call status callbacks we could not apply, and calls we never heard the end of.

A status callback is the only word of how a call ended (a dropped verified call is owed its
callback, P2.2c; an agent's leg frees the agent). Twilio does not retry it into a long
outage: its retries (connection overrides on the URL: ``#rc``, one by default, for the kinds
of failure ``#rp`` names) all happen inside the total time ``tt``, at most 15 000 ms
(https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides). So the service
keeps what it received:

- **The spool.** The status view applies the event in the database; when that fails (the
  database is down) it pushes the raw signed request (URL, parameters, signature) onto a
  Redis list and answers 204. The sweep (:func:`drain_spool`) checks each signature again,
  applies the events once the database answers, oldest first, and removes each only after
  its commit. Applying is idempotent (``calls.record_status`` takes each CallSid, status and
  SequenceNumber once), so two schedulers draining at once, or a crash between commit and
  removal, change nothing twice.
- **Silent calls.** A call leg with no final status :data:`calls.SILENT_AFTER` after it began
  (the service was unreachable, or Redis was down too) is looked up in Twilio's Calls API by
  :func:`settle_silent_calls`, at most once a minute per call, and settled as its status
  callback would have been.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy.exc import InterfaceError, OperationalError
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from callcenter.config import Settings
from callcenter.models import Callback, utcnow
from callcenter.statuses import FINAL_CALL_STATUSES
from callcenter.voice import calls
from callcenter.voice.telephony import rest_client
from workers.queues import (
    dispatch_agents_at,
    enqueue_dispatch_agents,
    redis_connection,
    schedule_callback_job,
)
from workers.runtime import job_session

log = logging.getLogger(__name__)
DRAIN_BATCH = 500
ASK_AGAIN_AFTER_S = 60  # one Calls API lookup per live call and minute
TWILIO_TIMEOUT_S = 10.0


def spool_key(settings: Settings) -> str:
    return settings.queue_prefix + "callcenter:status-spool"


def dead_key(settings: Settings) -> str:
    """Spooled events that could not be applied for a reason other than the database being
    down (a bad signature, a bug): kept for a person to look at, never retried in a loop."""
    return settings.queue_prefix + "callcenter:status-spool:dead"


def spool(settings: Settings, url: str, params: dict[str, list[str]], signature: str) -> bool:
    """Keep a status callback we could not apply (its raw signed request); False when Redis
    is unreachable too."""
    entry = json.dumps({"url": url, "params": params, "signature": signature,
                        "received": utcnow().isoformat()})
    try:
        redis_connection(settings).rpush(spool_key(settings), entry)
    except Exception:
        log.exception("could not spool a status callback either")
        return False
    return True


@dataclass
class Drained:
    applied: int = 0
    dead: int = 0
    left: int = 0


def drain_spool(settings: Settings, batch: int = DRAIN_BATCH) -> Drained:
    """Apply spooled status callbacks now that the database answers (the sweep calls this).

    Stops at the first event the database cannot take (still down: the rest waits for the
    next sweep); an event that fails for another reason goes to the dead list with a log line.
    """
    conn = redis_connection(settings)
    key = spool_key(settings)
    result = Drained()
    for raw in conn.lrange(key, 0, batch - 1):
        try:
            entry = json.loads(raw)
            _apply(settings, entry)
        except (OperationalError, InterfaceError):
            result.left = int(conn.llen(key))
            log.warning("status spool: the database is still unreachable; %s events wait",
                        result.left)
            return result
        except Exception:
            log.exception("status spool: an event could not be applied; kept aside")
            _bury(settings, raw, "could not be applied")
            result.dead += 1
        else:
            result.applied += 1
        conn.lrem(key, 1, raw)
    result.left = int(conn.llen(key))
    return result


def _bury(settings: Settings, raw: bytes, why: str) -> None:
    log.error("status spool: event set aside (%s)", why)
    redis_connection(settings).rpush(dead_key(settings), raw)


class ForgedEvent(ValueError):
    """A spooled entry whose signature does not hold (written to Redis by someone else)."""


def _apply(settings: Settings, entry: dict[str, Any]) -> None:
    url: str = entry["url"]
    params: dict[str, list[str]] = entry["params"]
    if not RequestValidator(settings.twilio_auth_token).validate(
            url, _Form(params), entry.get("signature", "")):
        raise ForgedEvent("signature does not match")
    flat = {name: values[0] for name, values in params.items() if values}
    callback_id = _callback_id(url)
    with job_session(settings) as session:
        effects = calls.record_status(session, settings, flat, callback_id=callback_id)
        session.commit()
        _after_commit(settings, session, effects)


class _Form(dict[str, list[str]]):
    """The spooled parameters as ``RequestValidator`` reads a form (``getall``), repeated
    keys included, exactly as the view validated them."""

    def getall(self, key: str) -> list[str]:
        return self[key]


def _callback_id(url: str) -> int | None:
    values = parse_qs(urlsplit(url).query).get("cb")
    if not values or not values[0].isdigit():
        return None
    return int(values[0])


def _after_commit(settings: Settings, session: Any, effects: calls.StatusEffects) -> None:
    for callback_id in effects.callback_ids:
        callback = session.get(Callback, callback_id)
        if callback is not None:
            schedule_callback_job(settings, callback)
    if effects.dispatch_agents:
        enqueue_dispatch_agents(settings)
    if effects.dispatch_at is not None:
        dispatch_agents_at(settings, effects.dispatch_at)


def settle_silent_calls(settings: Settings, now: datetime | None = None) -> int:
    """Ask Twilio how calls ended whose final status never reached us, and apply it as the
    status callback would have: the contact closes, an agent is freed, a dropped verified
    call is owed its callback (nothing lost). Returns how many calls were settled."""
    client = rest_client(settings, timeout=TWILIO_TIMEOUT_S)
    conn = redis_connection(settings)
    settled = 0
    with job_session(settings) as session:
        for contact in calls.unsettled_calls(session, now, limit=1000):
            sid = contact.external_id or ""
            asked = f"{settings.queue_prefix}callcenter:call-asked:{sid}"
            if not conn.set(asked, "1", nx=True, ex=ASK_AGAIN_AFTER_S):
                continue  # asked within the minute: still live then
            try:
                call = client.calls(sid).fetch()
            except (TwilioRestException, requests.RequestException) as exc:
                log.warning("cannot fetch call %s: %s", sid, type(exc).__name__)
                continue
            if call.status not in FINAL_CALL_STATUSES:
                continue
            effects = calls.record_status(session, settings, {
                "CallSid": sid, "CallStatus": call.status,
                "CallDuration": str(call.duration or ""), "SequenceNumber": "sweep",
                "AnsweredBy": call.answered_by or ""}, callback_id=contact.callback_id)
            session.commit()
            _after_commit(settings, session, effects)
            settled += 1
    return settled
