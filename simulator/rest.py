"""Twilio's REST API paths (Calls, Messages) plus the ``/_sim`` control API.

Errors use Twilio's JSON shape (``code``, ``message``, ``more_info``, ``status``) so
``twilio.rest.Client`` raises ``TwilioRestException`` exactly as in production.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request

if TYPE_CHECKING:
    from simulator.server import Simulator

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
}


def twilio_error(status: int, code: int | None = None, message: str | None = None) -> Response:
    """A response shaped like Twilio's error JSON."""
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


def create_app(sim: Simulator) -> Flask:
    """The WSGI app the simulator serves."""
    app = Flask("simulator")
    prefix = "/2010-04-01/Accounts/<account_sid>"

    @app.before_request
    def _faults_and_auth() -> Response | None:
        if request.path.startswith("/_sim"):
            return None
        with sim.lock:
            sim.rest_requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "form": request.form.to_dict(flat=False),
                }
            )
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

    @app.errorhandler(404)
    def _not_found(_exc: Exception) -> Response:
        return twilio_error(404, 20404)

    @app.errorhandler(405)
    def _not_allowed(_exc: Exception) -> Response:
        return twilio_error(405, 20004, "Method not allowed")

    # --- Messages ---------------------------------------------------------------
    @app.post(prefix + "/Messages.json")
    def create_message(account_sid: str) -> Any:
        form = request.form
        to = form.get("To")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not valid_number(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if form.get("From") and not valid_number(form["From"]):
            return twilio_error(
                400, 21212, f"The 'From' number {form['From']} is not a valid phone number."
            )
        if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
            return twilio_error(400, 21602, "Message body is required.")
        msg = sim.record_message(form.to_dict())
        return jsonify(msg), 201

    @app.get(prefix + "/Messages/<sid>.json")
    def fetch_message(account_sid: str, sid: str) -> Any:
        msg = sim.get_message(sid)
        if msg is None:
            return twilio_error(404, 20404)
        return jsonify({k: v for k, v in msg.items() if k not in ("status_callback", "callbacks")})

    @app.get(prefix + "/Messages/<sid>/Media/<media_sid>")
    def fetch_media(account_sid: str, sid: str, media_sid: str) -> Any:
        """The bytes of an inbound message's media (MediaUrl{n})."""
        with sim.lock:
            found = sim.media.get((sid, media_sid))
        if found is None:
            return twilio_error(404, 20404)
        return Response(found[1], mimetype=found[0])

    # --- Calls --------------------------------------------------------------------
    @app.post(prefix + "/Calls.json")
    def create_call(account_sid: str) -> Any:
        form = request.form
        to, from_ = form.get("To"), form.get("From")
        if not to:
            return twilio_error(400, 21201, "No 'To' number is specified")
        if not valid_number(to, allow_client=True):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not from_:
            return twilio_error(400, 21213, "No 'From' number is specified")
        if not valid_number(from_, allow_client=True):
            return twilio_error(
                400, 21212, f"The 'From' number {from_} is not a valid phone number."
            )
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
        gate = sim.call_response_gate
        if gate is not None:
            # Fault tests: Twilio has accepted and placed the call, but the response is slow
            # to reach the client (the client may die meanwhile).
            gate.wait(timeout=30)
        return jsonify(data), 201

    @app.get(prefix + "/Calls.json")
    def list_calls(account_sid: str) -> Any:
        """Twilio's call list with its common filters (To, From, Status, StartTime>/<)."""
        args = request.args
        after = _iso(args.get("StartTime>"))
        before = _iso(args.get("StartTime<"))
        page_size = min(int(args.get("PageSize") or 50), 1000)
        found = []
        for call in sim.find_calls(to=args.get("To"), from_=args.get("From")):
            if args.get("Status") and call.status != args["Status"]:
                continue
            started = call.start_time or call.date_created
            if (after and started < after) or (before and started > before):
                continue
            found.append(call.to_json())
        found = sorted(found, key=lambda c: c["date_created"], reverse=True)[:page_size]
        uri = request.full_path.rstrip("?")
        return jsonify({"calls": found, "start": 0, "end": max(len(found) - 1, 0), "page": 0,
                        "page_size": page_size, "uri": uri, "first_page_uri": uri,
                        "next_page_uri": None, "previous_page_uri": None})

    @app.get(prefix + "/Calls/<sid>.json")
    def fetch_call(account_sid: str, sid: str) -> Any:
        call = sim.get_call(sid)
        if call is None:
            return twilio_error(404, 20404)
        return jsonify(call.to_json())

    @app.post(prefix + "/Calls/<sid>.json")
    def update_call(account_sid: str, sid: str) -> Any:
        call = sim.get_call(sid)
        if call is None:
            return twilio_error(404, 20404)
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
            call.redirect(
                form.get("Url"), (form.get("Method") or "POST").upper(), form.get("Twiml")
            )
        return jsonify(call.to_json())

    # --- control API for the terminal phone ------------------------------------
    @app.post("/_sim/calls")
    def sim_call() -> Any:
        data = request.get_json(silent=True) or {}
        call = sim.incoming_call(from_=data.get("from"), to=data.get("to"))
        return jsonify({"sid": call.sid}), 201

    @app.get("/_sim/calls/<sid>")
    def sim_call_state(sid: str) -> Any:
        call = sim.get_call(sid)
        if call is None:
            return jsonify({"error": "unknown call"}), 404
        after = int(request.args.get("after", 0))
        with sim.lock:
            events = call.events[after:]
            return jsonify(
                {
                    "sid": call.sid,
                    "status": call.status,
                    "events": events,
                    "next": after + len(events),
                    "waiting": call.waiting,
                    "ended": call.ended,
                }
            )

    @app.post("/_sim/calls/<sid>/input")
    def sim_call_input(sid: str) -> Any:
        call = sim.get_call(sid)
        if call is None:
            return jsonify({"error": "unknown call"}), 404
        data = request.get_json(silent=True) or {}
        try:
            if data.get("hangup"):
                call.hang_up()
            elif data.get("no_input"):
                call.no_input(timeout=2)
            else:
                call.press(str(data.get("digits", "")), timeout=2)
        except (TimeoutError, RuntimeError) as exc:
            return jsonify({"ok": False, "error": str(exc)}), 409
        return jsonify({"ok": True})

    @app.get("/_sim/state")
    def sim_state() -> Any:
        with sim.lock:
            return jsonify(
                {
                    "calls": [
                        {
                            "sid": c.sid,
                            "to": c.to,
                            "from": c.from_,
                            "status": c.status,
                            "direction": c.direction,
                        }
                        for c in sim.calls
                    ],
                    "queues": {n: len(q.members) for n, q in sim.queues.items()},
                    "messages": [
                        {k: m[k] for k in ("sid", "to", "from", "body", "status")}
                        for m in sim.messages
                    ],
                }
            )

    return app
