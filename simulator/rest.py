"""Twilio's REST API paths: Calls, Messages, Queues and their Members.

Plain module-level views on one blueprint; the serving :class:`simulator.Simulator` is
``current_app.extensions["simulator"]``. Errors use Twilio's JSON shape (``code``, ``message``,
``more_info``, ``status``) so ``twilio.rest.Client`` raises ``TwilioRestException`` exactly as
in production.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, cast

from flask import Blueprint, Response, current_app, jsonify, request

from simulator.calls import Exchange, SimCall, SimQueue
from simulator.formats import API_VERSION, rfc2822

api = Blueprint("twilio_api", __name__, url_prefix=f"/{API_VERSION}/Accounts/<account_sid>")

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
}


def exchange() -> Exchange:
    """The simulator serving this request."""
    return cast(Exchange, current_app.extensions["simulator"])


def twilio_error(status: int, code: int | None = None, message: str | None = None) -> Response:
    """A response shaped like Twilio's error JSON (https://www.twilio.com/docs/api/errors)."""
    code = code or {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}.get(status, 20001)
    text = message or _MESSAGES.get(code, "Error").format(path=request.path)
    resp = jsonify(
        {
            "code": code,
            "message": text,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    )
    resp.status_code = status
    if status == 429:
        resp.headers["Retry-After"] = "1"
    return resp


def valid_number(value: str | None, *, allow_client: bool = False) -> bool:
    """E.164, optionally ``whatsapp:``-prefixed; ``client:``/``sip:`` for calls."""
    if not value:
        return False
    if allow_client and (value.startswith("client:") or value.startswith("sip:")):
        return True
    return bool(E164.match(value.removeprefix("whatsapp:")))


def _iso(value: str | None) -> datetime | None:
    """Twilio's date filters: ISO 8601 (``2026-11-25T03:00:00Z``) or a plain date."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _page(key: str, items: list[dict[str, Any]], page_size: int) -> Response:
    uri = request.full_path.rstrip("?")
    return jsonify({key: items, "start": 0, "end": max(len(items) - 1, 0), "page": 0,
                    "page_size": page_size, "uri": uri, "first_page_uri": uri,
                    "next_page_uri": None, "previous_page_uri": None})


@api.before_request
def faults_and_auth() -> Response | None:
    """Record the request, play an injected fault, then check HTTP Basic auth."""
    sim = exchange()
    with sim.lock:
        sim.rest_requests.append(
            {"method": request.method, "path": request.path,
             "form": request.form.to_dict(flat=False)})
    fault = sim.take_fault()
    if fault is not None:
        return twilio_error(fault[0], fault[1])
    auth = request.authorization
    if (
        auth is None
        or auth.username != sim.account_sid
        or auth.password != sim.auth_token
        or (request.view_args or {}).get("account_sid", sim.account_sid) != sim.account_sid
    ):
        return twilio_error(401, 20003)
    return None


# --- Messages ---------------------------------------------------------------------------

@api.post("/Messages.json")
def create_message(account_sid: str) -> Any:
    """https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource"""
    form = request.form
    to, from_ = form.get("To"), form.get("From")
    if not to:
        return twilio_error(400, 21604, "A 'To' phone number is required.")
    if not valid_number(to):
        return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if not from_ and not form.get("MessagingServiceSid"):
        return twilio_error(400, 21603, "A 'From' phone number is required.")
    if from_ and not valid_number(from_):
        return twilio_error(
            400, 21212, f"The 'From' number {from_} is not a valid phone number.")
    if from_ and to.startswith("whatsapp:") != from_.startswith("whatsapp:"):
        # https://www.twilio.com/docs/errors/21910: From and To on different channels.
        return twilio_error(400, 21910, "Invalid From and To pair. From and To should be of "
                            "the same channel")
    if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
        return twilio_error(400, 21602, "Message body is required.")
    msg = exchange().record_message(form.to_dict())
    return jsonify(msg), 201


@api.get("/Messages/<sid>.json")
def fetch_message(account_sid: str, sid: str) -> Any:
    msg = exchange().get_message(sid)
    if msg is None:
        return twilio_error(404, 20404)
    return jsonify({k: v for k, v in msg.items() if k not in ("status_callback", "callbacks")})


@api.get("/Messages/<sid>/Media/<media_sid>")
def fetch_media(account_sid: str, sid: str, media_sid: str) -> Any:
    """The bytes of an inbound message's media (MediaUrl{n})."""
    sim = exchange()
    with sim.lock:
        found = sim.media.get((sid, media_sid))
    if found is None:
        return twilio_error(404, 20404)
    return Response(found[1], mimetype=found[0])


# --- Calls ------------------------------------------------------------------------------

@api.post("/Calls.json")
def create_call(account_sid: str) -> Any:
    """https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource"""
    sim = exchange()
    form = request.form
    to, from_ = form.get("To"), form.get("From")
    if not to:
        return twilio_error(400, 21201, "No 'To' number is specified")
    if not valid_number(to, allow_client=True):
        return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if not from_:
        return twilio_error(400, 21213, "No 'From' number is specified")
    if not valid_number(from_, allow_client=True):
        return twilio_error(400, 21212, f"The 'From' number {from_} is not a valid phone number.")
    if not form.get("Url") and not form.get("Twiml") and not form.get("ApplicationSid"):
        return twilio_error(400, 21205, "Url parameter is required.")
    events = [e for v in form.getlist("StatusCallbackEvent") for e in v.split()]
    call = sim.create_call(
        direction="outbound-api",
        from_=from_,
        to=to,
        url=form.get("Url"),
        method=(form.get("Method") or "POST").upper(),
        twiml=form.get("Twiml"),
        status_callback=form.get("StatusCallback"),
        status_callback_method=(form.get("StatusCallbackMethod") or "POST").upper(),
        status_events=events or ["completed"],
        machine_detection=form.get("MachineDetection"),
        timeout=int(form.get("Timeout") or 60),
    )
    data = call.to_json()
    data["status"] = "queued"
    fault = sim.take_fault_after_create()
    if fault is not None:
        # Fault tests: the call is placed, but the client is told "500" ("a timeout in the
        # API"; retrying may give the customer a second call,
        # https://www.twilio.com/docs/api/errors/20500).
        return twilio_error(fault[0], fault[1])
    gate = sim.call_response_gate
    if gate is not None:
        # Fault tests: Twilio has accepted and placed the call, but the response is slow
        # to reach the client (the client may die meanwhile).
        gate.wait(timeout=30)
    return jsonify(data), 201


@api.get("/Calls.json")
def list_calls(account_sid: str) -> Any:
    """Twilio's call list with its common filters (To, From, Status, StartTime>/<)."""
    args = request.args
    after = _iso(args.get("StartTime>"))
    before = _iso(args.get("StartTime<"))
    page_size = min(int(args.get("PageSize") or 50), 1000)
    found = []
    for call in exchange().find_calls(to=args.get("To"), from_=args.get("From")):
        if args.get("Status") and call.status != args["Status"]:
            continue
        started = call.start_time or call.date_created
        if (after and started < after) or (before and started > before):
            continue
        found.append(call.to_json())
    found = sorted(found, key=lambda c: c["date_created"], reverse=True)[:page_size]
    return _page("calls", found, page_size)


def _call_or_404(sid: str) -> SimCall | Response:
    call = exchange().get_call(sid)
    return call if call is not None else twilio_error(404, 20404)


@api.get("/Calls/<sid>.json")
def fetch_call(account_sid: str, sid: str) -> Any:
    call = _call_or_404(sid)
    return call if isinstance(call, Response) else jsonify(call.to_json())


@api.post("/Calls/<sid>.json")
def update_call(account_sid: str, sid: str) -> Any:
    """https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource"""
    call = _call_or_404(sid)
    if isinstance(call, Response):
        return call
    form = request.form
    if call.ended:
        if form.get("Status") or form.get("Url") or form.get("Twiml"):
            return twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
        return jsonify(call.to_json())
    status = form.get("Status")
    if status in ("completed", "canceled"):
        call.api_hangup(status)
        call.wait_ended(5)
    elif status:
        return twilio_error(400, 20001, f"Invalid Status {status}")
    elif form.get("Url") or form.get("Twiml"):
        call.redirect(form.get("Url"), (form.get("Method") or "POST").upper(), form.get("Twiml"))
    return jsonify(call.to_json())


# --- Queues and Members -----------------------------------------------------------------

def _queue_json(q: SimQueue) -> dict[str, Any]:
    """https://www.twilio.com/docs/voice/api/queue-resource"""
    acc = exchange().account_sid
    base = f"/{API_VERSION}/Accounts/{acc}/Queues/{q.sid}"
    return {"sid": q.sid, "account_sid": acc, "friendly_name": q.name,
            "current_size": len(q.members), "max_size": q.max_size,
            "average_wait_time": q.avg_wait(), "date_created": rfc2822(q.date_created),
            "date_updated": rfc2822(q.date_created), "uri": base + ".json",
            "subresource_uris": {"members": base + "/Members.json"}}


def _queue_or_404(sid: str) -> SimQueue | Response:
    q = exchange().queue_by_sid(sid)
    return q if q is not None else twilio_error(404, 20404)


@api.get("/Queues.json")
def list_queues(account_sid: str) -> Any:
    sim = exchange()
    page_size = min(int(request.args.get("PageSize") or 50), 1000)
    with sim.lock:
        queues = [_queue_json(q) for q in sim.queues.values()][:page_size]
    return _page("queues", queues, page_size)


@api.get("/Queues/<sid>.json")
def fetch_queue(account_sid: str, sid: str) -> Any:
    q = _queue_or_404(sid)
    return q if isinstance(q, Response) else jsonify(_queue_json(q))


@api.delete("/Queues/<sid>.json")
def delete_queue(account_sid: str, sid: str) -> Any:
    """"Remove an empty queue"; Twilio's docs do not say what a non-empty one answers: the
    simulator refuses it (400), the strictest reading."""
    q = _queue_or_404(sid)
    if isinstance(q, Response):
        return q
    if not exchange().delete_queue(sid):
        return twilio_error(400, 20001, "Queue is not empty")
    return Response(status=204)


@api.get("/Queues/<sid>/Members.json")
def list_members(account_sid: str, sid: str) -> Any:
    q = _queue_or_404(sid)
    if isinstance(q, Response):
        return q
    with exchange().lock:
        members = [m.member_json(q, i + 1) for i, m in enumerate(q.members) if not m.ended]
    return _page("queue_members", members, 50)


@api.get("/Queues/<sid>/Members/<call_sid>.json")
def fetch_member(account_sid: str, sid: str, call_sid: str) -> Any:
    """A member by its Call SID, or ``Front``; a call not (or no longer) in the queue is a
    404 (https://www.twilio.com/docs/voice/api/member-resource)."""
    q = _queue_or_404(sid)
    if isinstance(q, Response):
        return q
    with exchange().lock:
        live = [m for m in q.members if not m.ended]
        for position, member in enumerate(live, start=1):
            if call_sid in (member.sid, "Front"):
                return jsonify(member.member_json(q, position))
    return twilio_error(404, 20404)
