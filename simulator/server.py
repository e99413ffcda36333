"""The ``Simulator``: a local Twilio owning calls, messages, queues and faults.

It serves Twilio's REST paths (:mod:`simulator.rest`) and a small JSON control API for the
terminal phone (:mod:`simulator.control`) from a werkzeug server on 127.0.0.1 in a background
thread, and talks to the service under test over real HTTP with signed webhooks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import phonenumbers
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from simulator.calls import SimCall, SimQueue
from simulator.control import control
from simulator.formats import API_VERSION, country_of, new_sid, rfc2822
from simulator.rest import api, twilio_error
from simulator.signing import send_webhook
from simulator.twiml import message_bodies

log = logging.getLogger(__name__)

OUTCOMES = {"human", "machine", "no-answer", "busy", "failed"}


class WebhookError(RuntimeError):
    """The service answered an inbound SMS webhook with a non-2xx status."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"messaging webhook answered HTTP {status}: {body[:200]}")
        self.status = status
        self.body = body


def _http_error(exc: HTTPException) -> Response:
    """404/405 and friends: Twilio's error JSON on its paths, plain JSON on ``/_sim``."""
    status = exc.code or 500
    if request.path.startswith("/_sim"):
        response = jsonify({"error": exc.name})
        response.status_code = status
        return response
    return twilio_error(status, 20004 if status == 405 else None,
                        "Method not allowed" if status == 405 else None)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log noise
        pass


class Simulator:
    """A local stand-in for Twilio (voice, SMS/WhatsApp, REST API, status callbacks)."""

    def __init__(
        self,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "dev-auth-token",
        service_url: str = "http://127.0.0.1:5000",
        voice_url: str = "/twilio/voice/incoming",
        status_url: str | None = "/twilio/voice/status",
        messaging_url: str = "/twilio/messaging/incoming",
        hotline: str = "+622150001234",
        host: str = "127.0.0.1",
        port: int = 0,
        auto_agent_hangup_after: float | None = None,
        auto_agents: Iterable[str] = (),
        auto_agent_keys: str = "1",
        wait_scale: float = 1.0,
    ) -> None:
        """``auto_agents``: numbers answered by a simulated agent, who presses
        ``auto_agent_keys`` at every prompt; ``auto_agent_hangup_after``: seconds a bridged
        agent's (outbound) leg stays before hanging up, never the customer's dequeued leg;
        ``wait_scale``: real seconds per second of waiting for another party (an empty
        queue), for fast tests."""
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.service_url = service_url.rstrip("/")
        self.voice_url = self._abs(voice_url)
        self.status_url = self._abs(status_url) if status_url else None
        self.messaging_url = self._abs(messaging_url)
        self.hotline = hotline
        self.host = host
        self.port = port
        self.auto_agent_hangup_after = auto_agent_hangup_after
        self.auto_agents = set(auto_agents)
        self.auto_agent_keys = auto_agent_keys
        self.held_numbers: set[str] = set()
        self.wait_scale = wait_scale
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.calls: list[SimCall] = []
        self.messages: list[dict[str, Any]] = []
        self.inbound_messages: list[dict[str, Any]] = []
        self.media: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.queues: dict[str, SimQueue] = {}
        self.outcomes: dict[str, str] = {}
        self.message_outcomes: dict[str, tuple[str, int]] = {}
        self.rest_requests: list[dict[str, Any]] = []
        self._faults: list[tuple[int, int | None]] = []
        self._faults_after_create: list[tuple[int, int | None]] = []
        self._held_webhooks: list[tuple[str, str, threading.Event]] = []
        self.call_response_gate: threading.Event | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._bg: list[threading.Thread] = []
        self._stopping = threading.Event()

    def _abs(self, url: str) -> str:
        return urljoin(self.service_url + "/", url)

    # ------------------------------------------------------------- lifecycle
    @property
    def api_url(self) -> str:
        """Base URL of the REST API, e.g. ``http://127.0.0.1:43121`` (after ``start()``)."""
        if self._server is None:
            raise RuntimeError("Simulator not started")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def control_url(self) -> str:
        """Base URL of the JSON control API used by the terminal phone."""
        return self.api_url + "/_sim"

    def wsgi_app(self) -> Flask:
        """Twilio's REST paths and the control API, answering for this simulator."""
        app = Flask("simulator")
        app.extensions["simulator"] = self
        app.register_blueprint(api)
        app.register_blueprint(control)
        app.register_error_handler(HTTPException, _http_error)
        return app

    def start(self) -> Simulator:
        """Serve the REST + control API in a background thread."""
        self._server = make_server(
            self.host, self.port, self.wsgi_app(), threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="simulator-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """End every call thread and the HTTP server."""
        self._stopping.set()
        with self.lock:
            calls = list(self.calls)
        for call in calls:
            call.stop()
        for call in calls:
            call.join(5)
        for t in list(self._bg):
            t.join(2)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block (for ``python -m simulator serve``) until interrupted."""
        try:
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # ------------------------------------------------------------------ calls
    def create_call(self, **kwargs: Any) -> SimCall:
        """Register and start a call leg (used by the REST API and ``<Dial>``)."""
        kwargs.setdefault("outcome", self.outcome_for(kwargs.get("to", "")))
        call = SimCall(self, **kwargs)
        with self.cond:
            self.calls.append(call)
            self.cond.notify_all()
        call.start()
        return call

    def incoming_call(self, from_: str | None = "+6281234567890", to: str | None = None) -> SimCall:
        """Someone dials the hotline; ``from_=None``/"anonymous" withholds the caller ID."""
        caller = from_ if from_ and from_.lower() != "anonymous" else "anonymous"
        if caller.startswith("0"):  # a local "0812..." as typed by a person -> E.164
            try:
                parsed = phonenumbers.parse(caller, "ID")
                caller = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            except phonenumbers.NumberParseException:
                pass
        return self.create_call(
            direction="inbound",
            from_=caller,
            to=to or self.hotline,
            url=self.voice_url,
            outcome="human",
        )

    def find_calls(
        self, to: str | None = None, direction: str | None = None, from_: str | None = None
    ) -> list[SimCall]:
        """Calls matching all given filters, oldest first."""
        with self.lock:
            return [
                c
                for c in self.calls
                if (to is None or c.to == to)
                and (direction is None or c.direction == direction)
                and (from_ is None or c.from_ == from_)
            ]

    def get_call(self, sid: str) -> SimCall | None:
        with self.lock:
            return next((c for c in self.calls if c.sid == sid), None)

    def wait_for_call(
        self, to: str | None = None, timeout: float = 10.0, direction: str | None = "outbound-api"
    ) -> SimCall:
        """Block until an outbound call to ``to`` exists (created through the REST API)."""
        with self.cond:
            ok = self.cond.wait_for(lambda: self.find_calls(to=to, direction=direction), timeout)
            if not ok:
                known = [(c.direction, c.to) for c in self.calls]
                raise TimeoutError(f"no {direction} call to {to} within {timeout}s; calls={known}")
            return self.find_calls(to=to, direction=direction)[-1]

    def set_outcome(self, number: str, outcome: str) -> None:
        """How outbound calls to ``number`` end: human|machine|no-answer|busy|failed."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        with self.lock:
            self.outcomes[number] = outcome

    def outcome_for(self, number: str) -> str:
        with self.lock:
            return self.outcomes.get(number, "human")

    def get_queue(self, name: str) -> SimQueue:
        """The queue named ``name``, created on demand as ``<Enqueue>`` does."""
        with self.lock:
            if name not in self.queues:
                self.queues[name] = SimQueue(name)
            return self.queues[name]

    def existing_queue(self, name: str) -> SimQueue | None:
        with self.lock:
            return self.queues.get(name)

    def queue_by_sid(self, sid: str) -> SimQueue | None:
        with self.lock:
            return next((q for q in self.queues.values() if q.sid == sid), None)

    def delete_queue(self, sid: str) -> bool:
        """Remove an empty queue; False (and nothing removed) while calls wait in it."""
        with self.lock:
            q = self.queue_by_sid(sid)
            if q is None or any(not m.ended for m in q.members):
                return False
            del self.queues[q.name]
            return True

    def auto_keys(self, number: str) -> str | None:
        """The keys a simulated agent on ``number`` presses (None: a person answers)."""
        with self.lock:
            if number in self.auto_agents and number not in self.held_numbers:
                return self.auto_agent_keys
            return None

    def hangup_after(self, number: str) -> float | None:
        """Seconds a simulated party on ``number`` stays bridged; None when a terminal phone
        answers that number (its user hangs up when they like)."""
        with self.lock:
            return None if number in self.held_numbers else self.auto_agent_hangup_after

    def answer_in_terminal(self, number: str, held: bool) -> None:
        """A terminal phone takes (or gives back) the calls to ``number``."""
        with self.lock:
            (self.held_numbers.add if held else self.held_numbers.discard)(number)

    def queue_size(self, name: str) -> int:
        with self.lock:
            q = self.queues.get(name)
            return len(q.members) if q else 0

    # ---------------------------------------------------------------- faults
    def fail_next(self, n: int = 1, status: int = 500, code: int | None = None) -> None:
        """Answer the next ``n`` REST requests with ``status`` and Twilio's error JSON."""
        with self.lock:
            self._faults.extend([(status, code)] * n)

    def fail_after_create(self, n: int = 1, status: int = 500, code: int | None = None) -> None:
        """The next ``n`` calls created through the REST API are placed (they ring, call back,
        run their TwiML) but the request is answered ``status`` with Twilio's error JSON: the
        ambiguous answer after which a retry would dial the customer twice."""
        with self.lock:
            self._faults_after_create.extend([(status, code)] * n)

    def take_fault_after_create(self) -> tuple[int, int | None] | None:
        with self.lock:
            return self._faults_after_create.pop(0) if self._faults_after_create else None

    def hold_call_responses(self) -> threading.Event:
        """Place outbound calls at once but hold the HTTP answer until the event is set (at
        most 30 s): a client with a shorter timeout gets no answer at all."""
        gate = threading.Event()
        self.call_response_gate = gate
        return gate

    def release_call_responses(self) -> None:
        gate, self.call_response_gate = self.call_response_gate, None
        if gate is not None:
            gate.set()

    def hold_webhooks(self, call_sid: str, path: str) -> threading.Event:
        """Network latency for one leg: its next webhooks whose URL contains ``path`` wait
        until the returned event is set (then every later one goes straight through)."""
        gate = threading.Event()
        with self.lock:
            self._held_webhooks.append((call_sid, path, gate))
        return gate

    def gate_for(self, call_sid: str, url: str) -> threading.Event | None:
        with self.lock:
            for sid, path, gate in self._held_webhooks:
                if sid == call_sid and path in url and not gate.is_set():
                    return gate
        return None

    def take_fault(self) -> tuple[int, int | None] | None:
        with self.lock:
            return self._faults.pop(0) if self._faults else None

    # -------------------------------------------------------------- messages
    def record_message(self, params: dict[str, str]) -> dict[str, Any]:
        """Store an outbound message created through Messages.json and start its callbacks."""
        now = datetime.now(UTC)
        sid = new_sid("SM" if not params.get("MediaUrl") else "MM")
        body = params.get("Body", "")
        msg: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "to": params["To"],
            "from": params.get("From") or None,
            "messaging_service_sid": params.get("MessagingServiceSid") or None,
            "body": body,
            "status": "accepted"
            if params.get("MessagingServiceSid") and not params.get("From")
            else "queued",
            "direction": "outbound-api",
            "num_segments": str(max(1, -(-len(body) // 153))),
            "num_media": "0",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": rfc2822(now),
            "date_updated": rfc2822(now),
            "date_sent": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "status_callback": params.get("StatusCallback") or None,
        }
        with self.cond:
            self.messages.append(msg)
            self.cond.notify_all()
        snapshot = {k: v for k, v in msg.items() if k != "status_callback"}
        t = threading.Thread(target=self._deliver, args=(msg,), daemon=True)
        t.start()  # before it is listed: stop() in another thread joins only started threads
        self._bg.append(t)
        return snapshot

    def set_message_outcome(self, number: str, status: str, error_code: int) -> None:
        """Messages to ``number`` end ``undelivered`` or ``failed`` with ``error_code``
        (https://www.twilio.com/docs/api/errors, e.g. 30003 unreachable, 63016 WhatsApp
        outside the 24-hour window)."""
        if status not in ("undelivered", "failed"):
            raise ValueError("status must be undelivered or failed")
        with self.lock:
            self.message_outcomes[number] = (status, error_code)

    def _deliver(self, msg: dict[str, Any]) -> None:
        """https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks:
        no callback for the initial ``queued``/``accepted``; then ``sent`` and ``delivered``
        (WhatsApp adds ``read``), or ``undelivered``/``failed`` with an ErrorCode."""
        with self.lock:
            outcome = self.message_outcomes.get(msg["to"].removeprefix("whatsapp:"))
        if outcome is not None:
            steps = ["sent", outcome[0]] if outcome[0] == "undelivered" else [outcome[0]]
        elif msg["to"].startswith("whatsapp:"):
            steps = ["sent", "delivered", "read"]
        else:
            steps = ["sent", "delivered"]
        for status in steps:
            if self._stopping.wait(0.02):
                return
            with self.cond:
                msg["status"] = status
                msg["date_updated"] = rfc2822()
                if status == "sent":
                    msg["date_sent"] = msg["date_updated"]
                if status in ("undelivered", "failed") and outcome is not None:
                    msg["error_code"] = outcome[1]
                self.cond.notify_all()
            url = msg.get("status_callback")
            if url:
                params = {
                    "AccountSid": self.account_sid,
                    "ApiVersion": API_VERSION,
                    "MessageSid": msg["sid"],
                    "SmsSid": msg["sid"],
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "To": msg["to"],
                    "From": msg["from"] or "",
                }
                if msg.get("messaging_service_sid"):
                    params["MessagingServiceSid"] = msg["messaging_service_sid"]
                if msg.get("error_code") is not None:
                    params["ErrorCode"] = str(msg["error_code"])
                res = send_webhook(self.auth_token, url, params)
                with self.cond:
                    msg.setdefault("callbacks", []).append((status, res.status))

    def get_message(self, sid: str) -> dict[str, Any] | None:
        with self.lock:
            return next((m for m in self.messages if m["sid"] == sid), None)

    def wait_for_message(self, to: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
        """Block until a message to ``to`` was sent through the REST API."""

        def found() -> list[dict[str, Any]]:
            return [m for m in self.messages if to is None or m["to"] == to]

        with self.cond:
            if not self.cond.wait_for(found, timeout):
                raise TimeoutError(f"no message to {to} within {timeout}s")
            return found()[-1]

    def send_sms(self, from_: str, body: str, to: str | None = None,
                 media: list[tuple[str, bytes]] | None = None) -> list[str]:
        """An inbound SMS (or WhatsApp with ``whatsapp:`` prefix) to the hotline; returns the
        bodies of the ``<Message>`` verbs the service answered. ``media`` items are
        (content type, bytes), served at Twilio-style ``MediaUrl{n}`` addresses."""
        whatsapp = from_.startswith("whatsapp:")
        to = to or (("whatsapp:" if whatsapp else "") + self.hotline)
        sid = new_sid("MM" if media else "SM")
        bare_from = from_.removeprefix("whatsapp:")
        params = {
            "ToCountry": country_of(to.removeprefix("whatsapp:")),
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": country_of(bare_from),
            "To": to,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }
        for index, (content_type, data) in enumerate(media or []):
            media_sid = new_sid("ME")
            with self.lock:
                self.media[(sid, media_sid)] = (content_type, data)
            params[f"MediaUrl{index}"] = (
                f"{self.api_url}/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
                f"/Media/{media_sid}")
            params[f"MediaContentType{index}"] = content_type
        params["NumMedia"] = str(len(media or []))
        if whatsapp:
            params.update({"ProfileName": "Simulator", "WaId": bare_from.lstrip("+")})
        res = send_webhook(self.auth_token, self.messaging_url, params)
        with self.cond:
            self.inbound_messages.append({**params, "_status": res.status, "_reply": res.body})
        if not res.ok:
            raise WebhookError(res.status, res.error or res.body)
        return message_bodies(res.body)

    # ---------------------------------------------------------------- helpers
    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until every call has ended (handy at the end of a test)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            if not self.cond.wait_for(
                lambda: all(c.ended for c in self.calls), max(0, deadline - time.monotonic())
            ):
                live = [c for c in self.calls if not c.ended]
                raise TimeoutError(f"calls still running: {live}")
