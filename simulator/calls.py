"""One simulated phone call, driven through TwiML by its own thread.

Everything the caller (a test, or the terminal phone) does arrives through the
call's inbox queue: digits, "no input", hang-up, a REST redirect, or an agent
dequeuing it. The call thread blocks only on that inbox, so a hang-up or a
dequeue can happen at any moment, including mid-Gather.
Time inside TwiML (Say, Pause, gather timeouts) runs on a virtual clock so tests
stay fast; waiting for another party (an empty queue) runs on the real clock,
multiplied by the exchange's ``wait_scale``.

Each behaviour copied from Twilio names its documentation page; ``simulator/README.md``
lists them all with the test that holds each one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urljoin

from simulator.formats import API_VERSION, country_of, new_sid, rfc2822
from simulator.signing import WebhookResult, send_webhook
from simulator.twiml import TwimlError, Verb, parse_twiml

log = logging.getLogger(__name__)

APP_ERROR_TEXT = "We are sorry, an application error has occurred. Goodbye."
SAY_SECONDS_PER_CHAR = 0.07
FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}
# How long the call thread waits for an answer to a Gather in real time before
# treating it as "no input" (tests answer in milliseconds; people are slower).
GATHER_REAL_TIMEOUT = 300.0
QUEUE_LOOP_SLEEP = 0.02
QUEUE_IDLE_SLEEP = 0.1
# https://www.twilio.com/docs/voice/twiml/enqueue: "The default maximum length of the queue".
DEFAULT_QUEUE_MAX_SIZE = 1000
# https://www.twilio.com/docs/voice/twiml/dial#timeout: default 30, minimum 5, maximum 600,
# and "Twilio always adds a five-second timeout buffer to your <Dial>".
DIAL_TIMEOUT_DEFAULT, DIAL_TIMEOUT_MIN, DIAL_TIMEOUT_MAX, DIAL_TIMEOUT_BUFFER = 30, 5, 600, 5
# https://www.twilio.com/docs/voice/twiml/queue#attributes-url: "The allowed verbs in this
# TwiML document are Play, Say, Pause, and Redirect."
QUEUE_URL_VERBS = ("Play", "Say", "Pause", "Redirect")
# https://www.twilio.com/docs/voice/twiml/enqueue#attributes-wait-url: the verbs a waitUrl
# document may hold (and the documents its Gather and Redirect lead to while queued).
WAIT_URL_VERBS = ("Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather")
# The dequeuer hung up while the dequeued caller still heard the queue's url document.
# Twilio's docs are silent; "bridging-in-process" ("Twilio has been instructed to bridge
# the enqueued party") is what happened, and the app must cope with it.
DEQUEUER_GONE_RESULT = "bridging-in-process"


class CallEnded(RuntimeError):
    """Input was sent to a call that has already ended."""


class Exchange(Protocol):
    """The simulator as a call leg and the REST views see it (``simulator.Simulator``)."""

    account_sid: str
    auth_token: str
    service_url: str
    status_url: str | None
    lock: threading.RLock
    cond: threading.Condition
    calls: list[SimCall]
    messages: list[dict[str, Any]]
    queues: dict[str, SimQueue]
    media: dict[tuple[str, str], tuple[str, bytes]]
    rest_requests: list[dict[str, Any]]
    auto_agent_hangup_after: float | None
    wait_scale: float
    call_response_gate: threading.Event | None

    def create_call(self, **kwargs: Any) -> SimCall: ...

    def incoming_call(self, from_: str | None = ..., to: str | None = ...) -> SimCall: ...

    def get_call(self, sid: str) -> SimCall | None: ...

    def find_calls(self, to: str | None = None, direction: str | None = None,
                   from_: str | None = None) -> list[SimCall]: ...

    def get_queue(self, name: str) -> SimQueue: ...

    def existing_queue(self, name: str) -> SimQueue | None: ...

    def queue_by_sid(self, sid: str) -> SimQueue | None: ...

    def delete_queue(self, sid: str) -> bool: ...

    def auto_keys(self, number: str) -> str | None: ...

    def answer_in_terminal(self, number: str, held: bool) -> None: ...

    def hangup_after(self, number: str) -> float | None: ...

    def take_fault(self) -> tuple[int, int | None] | None: ...

    def take_fault_after_create(self) -> tuple[int, int | None] | None: ...

    def gate_for(self, call_sid: str, url: str) -> threading.Event | None: ...

    def record_message(self, params: dict[str, str]) -> dict[str, Any]: ...

    def get_message(self, sid: str) -> dict[str, Any] | None: ...


@dataclass
class SimQueue:
    """A Twilio call queue: a FIFO of waiting call legs.

    https://www.twilio.com/docs/voice/api/queue-resource: created by the first ``<Enqueue>``
    naming it (or the REST API) and kept until deleted ("Queues persist").
    """

    name: str
    sid: str = field(default_factory=lambda: new_sid("QU"))
    members: list[SimCall] = field(default_factory=list)
    max_size: int = DEFAULT_QUEUE_MAX_SIZE
    waits: list[int] = field(default_factory=list)
    date_created: datetime = field(default_factory=lambda: datetime.now(UTC))

    def avg_wait(self) -> int:
        return int(sum(self.waits) / len(self.waits)) if self.waits else 0

    def record_wait(self, seconds: int) -> None:
        self.waits.append(seconds)


class CallerHangup(Exception):
    def __init__(self, by: str = "caller") -> None:
        super().__init__(by)
        self.by = by


class _Stop(Exception):
    """The simulator is shutting down."""


class _TwimlHangup(Exception):
    pass


class _Leave(Exception):
    pass


class _AppError(Exception):
    pass


class _Dequeued(Exception):
    """An agent's ``<Dial><Queue>`` took this caller out of its queue."""

    def __init__(self, agent: SimCall, url: str | None, method: str) -> None:
        super().__init__(agent.sid)
        self.agent, self.url, self.method = agent, url, method


class _AgentLeft(Exception):
    """The dequeuer hung up while the dequeued caller heard the queue's url document."""


class _Redirect(Exception):
    def __init__(self, url: str | None, method: str, twiml: str | None = None) -> None:
        super().__init__(url)
        self.url, self.method, self.twiml = url, method, twiml


@dataclass
class _Next:
    """The next TwiML document to request (or inline TwiML to run)."""

    url: str | None
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)
    twiml: str | None = None


class SimCall:
    """A call leg: inbound to the hotline, outbound via REST, or a ``<Dial>`` child leg."""

    def __init__(
        self,
        sim: Exchange,
        *,
        direction: str,
        from_: str,
        to: str,
        url: str | None = None,
        method: str = "POST",
        twiml: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str = "POST",
        status_events: list[str] | None = None,
        machine_detection: str | None = None,
        outcome: str = "human",
        parent: SimCall | None = None,
        timeout: int = 60,
    ) -> None:
        self.sim = sim
        self.sid = new_sid("CA")
        self.direction = direction
        self.from_ = from_
        self.to = to
        self.url = url
        self.method = method or "POST"
        self.twiml = twiml
        self.status_callback = status_callback
        self.status_callback_method = status_callback_method or "POST"
        self.status_events = list(status_events or ["completed"])
        self.machine_detection = machine_detection
        self.outcome = outcome
        self.parent = parent
        self.timeout = timeout
        self.status = "queued"
        self.answered_by: str | None = None
        self.date_created = datetime.now(UTC)
        self.date_updated = self.date_created
        self.start_time: datetime | None = None
        self.end_time: datetime | None = None
        self.vclock = 0.0  # virtual seconds since the call was answered
        self.said: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], int, str]] = []
        self.ended = False
        self.peer: SimCall | None = None
        self._inbox: queue.Queue[tuple] = queue.Queue()
        self._waiting = False
        self._prompt_mark = 0
        self._seq = 0
        self._queue: SimQueue | None = None  # while waiting in a queue
        self._enqueued_at = 0.0
        self.date_enqueued: datetime | None = None
        self._answered_at_real: float | None = None
        self._skip_callbacks = False
        self._dial_peer: SimCall | None = None
        self._hearing_queue_url = False
        self._thread = threading.Thread(target=self._run, name=f"simcall-{self.sid}", daemon=True)

    # ------------------------------------------------------------------ public API
    def __repr__(self) -> str:
        return f"<SimCall {self.sid} {self.direction} {self.from_}->{self.to} {self.status}>"

    @property
    def waiting(self) -> bool:
        """True while a Gather verb waits for input."""
        return self._waiting

    def wait_for_prompt(self, timeout: float = 10.0) -> str:
        """Block until a Gather waits for input (or the call ended); return what was said since
        the previous input, joined with spaces."""
        with self.sim.cond:
            ok = self.sim.cond.wait_for(lambda: self._waiting or self.ended, timeout)
            if not ok:
                raise TimeoutError(f"{self!r}: no prompt within {timeout}s; {self._recent()}")
            return " ".join(self.said[self._prompt_mark :])

    def press(self, digits: str, timeout: float = 5.0) -> None:
        """Answer the pending Gather with keypad digits (e.g. ``"1"`` or ``"12345#"``)."""
        self._send_input(("input", str(digits)), timeout)

    def no_input(self, timeout: float = 5.0) -> None:
        """Let the pending Gather time out with no digits."""
        self._send_input(("no_input",), timeout)

    def hang_up(self) -> None:
        """The caller (this leg's party) hangs up now, wherever the call is."""
        if not self.ended:
            self._inbox.put(("hangup", "caller"))

    def wait_ended(self, timeout: float = 10.0) -> str:
        """Block until the call is over; return its final status."""
        with self.sim.cond:
            if not self.sim.cond.wait_for(lambda: self.ended, timeout):
                raise TimeoutError(f"{self!r}: not ended within {timeout}s; {self._recent()}")
            return self.status

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Block until ``predicate(call)`` is true (checked whenever the call changes)."""
        with self.sim.cond:
            if not self.sim.cond.wait_for(lambda: predicate(self), timeout):
                raise TimeoutError(f"{self!r}: condition not met in {timeout}s; {self._recent()}")

    def errors(self) -> list[dict[str, Any]]:
        """The "application error" events of this call (empty when all went well)."""
        return [e for e in self.events if e["type"] == "error"]

    def heard(self, kind: str = "say") -> list[dict[str, Any]]:
        """The events of one kind on this leg (``say`` events carry voice and language)."""
        return [e for e in self.events if e["type"] == kind]

    @property
    def bridged(self) -> bool:
        """This leg has been connected to another party at some point."""
        return any(e["type"] == "bridge" for e in self.events)

    @property
    def duration(self) -> int:
        """Whole seconds of the answered call (virtual clock)."""
        return math.ceil(self.vclock) if self.start_time else 0

    def to_json(self) -> dict[str, Any]:
        """The call as Twilio's REST API shows it."""
        acc = self.sim.account_sid
        base = f"/{API_VERSION}/Accounts/{acc}/Calls/{self.sid}"
        return {
            "sid": self.sid,
            "account_sid": acc,
            "api_version": API_VERSION,
            "parent_call_sid": self.parent.sid if self.parent else None,
            "to": self.to,
            "to_formatted": self.to,
            "from": self.from_,
            "from_formatted": self.from_,
            "phone_number_sid": None,
            "status": self.status,
            "direction": self.direction,
            "answered_by": self.answered_by,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "start_time": rfc2822(self.start_time) if self.start_time else None,
            "end_time": rfc2822(self.end_time) if self.end_time else None,
            "duration": str(self.duration) if self.ended else None,
            "price": None,
            "price_unit": "USD",
            "forwarded_from": None,
            "caller_name": None,
            "group_sid": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": base + ".json",
            "subresource_uris": {
                "notifications": base + "/Notifications.json",
                "recordings": base + "/Recordings.json",
                "events": base + "/Events.json",
            },
        }

    def member_json(self, q: SimQueue, position: int) -> dict[str, Any]:
        """This leg as a Member of ``q`` (https://www.twilio.com/docs/voice/api/member-resource)."""
        acc = self.sim.account_sid
        return {
            "call_sid": self.sid,
            "queue_sid": q.sid,
            "date_enqueued": rfc2822(self.date_enqueued),
            "position": position,
            "wait_time": int(self.vclock - self._enqueued_at),
            "uri": f"/{API_VERSION}/Accounts/{acc}/Queues/{q.sid}/Members/{self.sid}.json",
        }

    # ----------------------------------------------------------- used by Simulator
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._inbox.put(("stop",))

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def redirect(self, url: str | None, method: str = "POST", twiml: str | None = None) -> None:
        """REST ``Calls/{sid}.json`` with ``Url``/``Twiml``: run new TwiML now."""
        self._inbox.put(("redirect", url, method, twiml))

    def api_hangup(self, status: str = "completed") -> None:
        """REST ``Calls/{sid}.json`` with ``Status=completed|canceled``."""
        if not self.ended:
            self._inbox.put(("hangup", "api"))

    # ------------------------------------------------------------------- internals
    def _recent(self) -> str:
        return f"status={self.status} recent events={self.events[-8:]!r}"

    def _send_input(self, msg: tuple, timeout: float) -> None:
        with self.sim.cond:
            ok = self.sim.cond.wait_for(lambda: self._waiting or self.ended, timeout)
            if self.ended:
                raise CallEnded(f"{self!r} has ended; cannot send {msg!r}")
            if not ok:
                raise TimeoutError(f"{self!r}: no Gather waiting for {msg!r}; {self._recent()}")
            self._waiting = False
            self._prompt_mark = len(self.said)
            self._inbox.put(msg)
            self.sim.cond.notify_all()

    def _event(self, type_: str, **data: Any) -> None:
        with self.sim.cond:
            self.events.append({"type": type_, **data})
            self.date_updated = datetime.now(UTC)
            self.sim.cond.notify_all()

    def _set_status(self, status: str) -> None:
        with self.sim.cond:
            self.status = status
            self.date_updated = datetime.now(UTC)
            if status == "in-progress" and self.start_time is None:
                self.start_time = self.date_updated
                self._answered_at_real = time.monotonic()
            self.sim.cond.notify_all()

    def _resolve(self, url: str | None, doc_url: str | None) -> str | None:
        if url is None or url == "":
            return None
        return urljoin(doc_url or self.sim.service_url + "/", url.strip())

    def _base_params(self) -> dict[str, str]:
        """Twilio's standard request parameters
        (https://www.twilio.com/docs/voice/twiml#request-parameters)."""
        caller = self.from_
        p = {
            "AccountSid": self.sim.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "CallStatus": self.status,
            "Called": self.to,
            "CalledCity": "",
            "CalledCountry": country_of(self.to),
            "CalledState": "",
            "CalledZip": "",
            "Caller": caller,
            "CallerCity": "",
            "CallerCountry": country_of(caller),
            "CallerState": "",
            "CallerZip": "",
            "Direction": self.direction,
            "From": caller,
            "FromCity": "",
            "FromCountry": country_of(caller),
            "FromState": "",
            "FromZip": "",
            "To": self.to,
            "ToCity": "",
            "ToCountry": country_of(self.to),
            "ToState": "",
            "ToZip": "",
        }
        if self.parent is not None:
            p["ParentCallSid"] = self.parent.sid
        if self.answered_by:
            p["AnsweredBy"] = self.answered_by
        if self._queue is not None:
            p.update(self._queue_params())
        return p

    def _queue_params(self) -> dict[str, str]:
        """The waitUrl parameters
        (https://www.twilio.com/docs/voice/twiml/enqueue#attributes-waiturl-parameters)."""
        q = self._queue
        assert q is not None
        with self.sim.cond:
            members = list(q.members)
        position = members.index(self) + 1 if self in members else 0
        return {
            "QueueSid": q.sid,
            "QueuePosition": str(position),
            "QueueTime": str(int(self.vclock - self._enqueued_at)),
            "AvgQueueTime": str(q.avg_wait()),
            "CurrentQueueSize": str(len(members)),
            "MaxQueueSize": str(q.max_size),
        }

    def _post(self, url: str, params: dict[str, str], method: str = "POST") -> WebhookResult:
        """Send one webhook and record it on the call (held first if a test said so)."""
        gate = self.sim.gate_for(self.sid, url)
        if gate is not None:
            gate.wait(30)
        res = send_webhook(self.sim.auth_token, url, params, method)
        with self.sim.cond:
            self.requests.append((res.url, res.params, res.status, res.body))
        self._event("request", url=res.url, method=method, status=res.status, error=res.error)
        return res

    def _fetch_twiml(self, nxt: _Next) -> tuple[list[Verb], str | None]:
        """Request a TwiML document; any failure becomes an application error."""
        if nxt.twiml is not None:
            try:
                return parse_twiml(nxt.twiml), nxt.url
            except TwimlError as exc:
                self._event("error", status=None, url=None, message=str(exc))
                raise _AppError(str(exc)) from exc
        assert nxt.url is not None
        params = self._base_params()
        params.update(nxt.params)
        res = self._post(nxt.url, params, nxt.method)
        if not res.ok:
            msg = res.error or f"HTTP {res.status} from {res.url}"
            self._event("error", status=res.status, url=res.url, message=msg, body=res.body[:500])
            raise _AppError(msg)
        try:
            verbs = parse_twiml(res.body)
        except TwimlError as exc:
            self._event("error", status=res.status, url=res.url, message=str(exc))
            raise _AppError(str(exc)) from exc
        return verbs, nxt.url

    # inbox ---------------------------------------------------------------------
    def _next_msg(self, timeout: float | None) -> tuple | None:
        """Wait for one inbox message; hang-up/stop/redirect/dequeue become exceptions."""
        try:
            msg = self._inbox.get(timeout=timeout) if timeout else self._inbox.get_nowait()
        except queue.Empty:
            return None
        kind = msg[0]
        if kind == "hangup":
            raise CallerHangup(msg[1])
        if kind == "stop":
            raise _Stop()
        if kind == "redirect":
            raise _Redirect(msg[1], msg[2], msg[3])
        if kind == "agent_left":
            if self._hearing_queue_url:
                raise _AgentLeft()
            return ("unbridged", msg[1])
        if kind == "dequeued":
            if self._queue is not None:
                raise _Dequeued(msg[1], msg[2], msg[3])
            msg[1]._inbox.put(("gone", self))  # no longer queued: the dequeuer gets nobody
            return None
        return msg

    def _poll(self) -> None:
        """Handle pending hang-ups/redirects between verbs (non-blocking)."""
        while True:
            msg = self._next_msg(None)
            if msg is None:
                return
            # stale input/unbridged messages are dropped

    def _idle(self, seconds: float) -> None:
        """Sleep in real time while still reacting to hang-up/dequeue/redirect."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._next_msg(left)

    # ------------------------------------------------------------------- thread
    def _run(self) -> None:
        final = "completed"
        try:
            if self.direction == "inbound":
                final = self._run_inbound()
            elif self.direction == "outbound-api":
                final = self._run_outbound()
            else:
                final = self._run_child()
        except _Stop:
            self._skip_callbacks = True
            final = "canceled" if self.start_time is None else "completed"
        except Exception as exc:  # keep the simulator alive; record for the test
            log.exception("simulated call %s crashed", self.sid)
            self._event("error", status=None, url=None, message=f"simulator bug: {exc!r}")
        finally:
            self._finish(final)

    def _answer(self) -> None:
        self._set_status("in-progress")
        self._status_callback("answered")

    def _run_inbound(self) -> str:
        self._set_status("ringing")
        url = self.url or ""
        try:
            verbs, doc_url = self._fetch_twiml(_Next(url, self.method))
        except _AppError:
            self._answer()
            self._app_error()
            return "completed"
        except CallerHangup:
            return "canceled"
        self._answer()
        return self._follow(verbs, doc_url)

    def _run_outbound(self) -> str:
        self._status_callback("initiated", status="initiated")
        self._set_status("ringing")
        self._status_callback("ringing")
        try:
            self._poll()
        except CallerHangup:
            return "canceled"
        outcome = self.outcome
        if outcome in ("busy", "no-answer", "failed"):
            return outcome
        # https://www.twilio.com/docs/voice/answering-machine-detection: AnsweredBy is only
        # known when MachineDetection was asked for ("Enable" answers at the greeting's
        # start, "DetectMessageEnd" after the beep). Without it a voicemail answers like a
        # person: nothing tells the app.
        if self.machine_detection:
            if outcome == "machine":
                enable = self.machine_detection.lower() == "enable"
                self.answered_by = "machine_start" if enable else "machine_end_beep"
            else:
                self.answered_by = "human"
        self._answer()
        if self.twiml is not None:
            try:
                verbs, doc_url = self._fetch_twiml(_Next(None, twiml=self.twiml))
            except _AppError:
                self._app_error()
                return "completed"
            return self._follow(verbs, doc_url)
        try:
            verbs, doc_url = self._fetch_twiml(_Next(self.url, self.method))
        except _AppError:
            self._app_error()
            return "completed"
        except CallerHangup:
            return "completed"
        return self._follow(verbs, doc_url)

    def _run_child(self) -> str:
        """A ``<Dial><Number>`` leg: rings, answers by outcome, then stays bridged."""
        self._status_callback("initiated", status="initiated")
        self._set_status("ringing")
        self._status_callback("ringing")
        if self.outcome in ("busy", "no-answer", "failed"):
            return self.outcome
        self._answer()
        assert self.parent is not None
        with contextlib.suppress(CallerHangup, _Redirect):
            self._bridge(self.parent)
        return "completed"

    def _follow(self, verbs: list[Verb], doc_url: str | None) -> str:
        """Run TwiML documents until the call ends; return the final status."""
        try:
            while True:
                try:
                    nxt = self._execute(verbs, doc_url)
                    if nxt is None:
                        self._event("hangup", by="end-of-twiml")
                        return "completed"
                    verbs, doc_url = self._fetch_twiml(nxt)
                except _Redirect as r:
                    self._event("redirect", url=r.url, source="api")
                    verbs, doc_url = self._fetch_twiml(
                        _Next(r.url, r.method or "POST", twiml=r.twiml)
                    )
        except _TwimlHangup:
            self._event("hangup", by="twiml")
        except CallerHangup as h:
            self._event("hangup", by=h.by)
        except _AppError:
            self._app_error()
        return "completed"

    def _app_error(self) -> None:
        self._say_text(APP_ERROR_TEXT, voice=None, language=None)
        self._event("hangup", by="application-error")

    def _finish(self, final: str) -> None:
        with self.sim.cond:
            self._waiting = False
            if self._queue is not None and self in self._queue.members:
                self._queue.members.remove(self)
            self._queue = None
            if final == "completed" and self.start_time is None:
                final = "canceled" if self.direction == "inbound" else final
            self.status = final
            self.end_time = datetime.now(UTC)
        if not self._skip_callbacks:
            # https://www.twilio.com/docs/voice/api/call-resource#statuscallback: CallDuration
            # (seconds) in every terminal event; Duration (billed minutes) for a completed call.
            extra = {"CallDuration": str(self.duration)}
            if final == "completed" and self.start_time is not None:
                extra["Duration"] = str(self._minutes())
            self._status_callback("completed", status=final, extra=extra)
        self._event("ended", status=final)
        with self.sim.cond:
            self.ended = True
            self.sim.cond.notify_all()

    def _minutes(self) -> int:
        return max(1, math.ceil(self.duration / 60)) if self.start_time else 0

    def _status_callback(
        self, event: str, status: str | None = None, extra: dict[str, str] | None = None
    ) -> None:
        """https://www.twilio.com/docs/voice/api/call-resource#statuscallbackevent: a REST- or
        Dial-created leg reports the events it asked for (``completed`` alone by default);
        an inbound call reports to the number's status callback URL when it ends."""
        if self.direction == "inbound":
            url = self.sim.status_url if event == "completed" else None
            method = "POST"
        else:
            url = self.status_callback if event in self.status_events else None
            method = self.status_callback_method
        if not url:
            return
        params = self._base_params()
        for key in ("QueueSid", "QueuePosition", "QueueTime", "AvgQueueTime",
                    "CurrentQueueSize", "MaxQueueSize"):
            params.pop(key, None)
        params["CallStatus"] = status or self.status
        params["SequenceNumber"] = str(self._seq)
        params["Timestamp"] = rfc2822()
        params["CallbackSource"] = "call-progress-events"
        params.update(extra or {})
        self._seq += 1
        self._post(url, params, method)

    # ------------------------------------------------------------------- verbs
    def _execute(self, verbs: list[Verb], doc_url: str | None,
                 allowed: tuple[str, ...] | None = None) -> _Next | None:
        for verb in verbs:
            self._poll()
            if allowed is not None and verb.name not in allowed:
                self._event("error", status=None, url=doc_url,
                            message=f"<{verb.name}> is not allowed here (only {allowed})")
                continue
            handler = getattr(self, f"_verb_{verb.name.lower()}", None)
            if handler is None:
                self._event("unsupported", verb=verb.name)
                continue
            nxt = handler(verb, doc_url)
            if nxt is not None:
                return nxt
        return None

    def _say_text(self, text: str, voice: str | None, language: str | None) -> None:
        with self.sim.cond:
            self.said.append(text)
        self.vclock += SAY_SECONDS_PER_CHAR * len(text)
        self._event("say", text=text, voice=voice, language=language)

    def _verb_say(self, verb: Verb, doc_url: str | None) -> None:
        """https://www.twilio.com/docs/voice/twiml/say: voice and language are kept per
        utterance (``heard()``), so a test can tell who heard what in which voice."""
        loop = int(verb.attr("loop", "1") or 1)
        for _ in range(max(1, min(loop, 3))):
            self._say_text(verb.text, verb.attr("voice"), verb.attr("language"))
        if self._queue is not None:
            self._idle(QUEUE_LOOP_SLEEP)

    def _verb_play(self, verb: Verb, doc_url: str | None) -> None:
        self.vclock += 5.0
        self._event("play", url=verb.text, digits=verb.attr("digits"))
        if self._queue is not None:
            self._idle(QUEUE_LOOP_SLEEP)

    def _verb_pause(self, verb: Verb, doc_url: str | None) -> None:
        """https://www.twilio.com/docs/voice/twiml/pause: ``length`` seconds, default 1."""
        length = float(verb.attr("length", "1") or 1)
        self.vclock += length
        self._event("pause", length=length)
        if self._queue is not None:
            self._idle(QUEUE_LOOP_SLEEP)

    def _verb_hangup(self, verb: Verb, doc_url: str | None) -> None:
        raise _TwimlHangup()

    def _verb_reject(self, verb: Verb, doc_url: str | None) -> None:
        raise _TwimlHangup()

    def _verb_leave(self, verb: Verb, doc_url: str | None) -> None:
        """https://www.twilio.com/docs/voice/twiml/leave: only means something in a queue."""
        if self._queue is not None:
            raise _Leave()
        self._event("unsupported", verb="Leave (not in a queue)")

    def _verb_redirect(self, verb: Verb, doc_url: str | None) -> _Next:
        """https://www.twilio.com/docs/voice/twiml/redirect: relative to the document, POST
        unless ``method`` says otherwise."""
        url = self._resolve(verb.text, doc_url)
        self._event("redirect", url=url, source="twiml")
        return _Next(url, (verb.attr("method") or "POST").upper())

    def _verb_gather(self, verb: Verb, doc_url: str | None) -> _Next | None:
        """https://www.twilio.com/docs/voice/twiml/gather: digits until ``finishOnKey`` ('#'),
        ``numDigits`` or ``timeout`` (5 s); the action defaults to the current document;
        with no input the next verb runs, unless ``actionOnEmptyResult`` is true."""
        for child in verb.children:
            if child.name in ("Say", "Play", "Pause"):
                getattr(self, f"_verb_{child.name.lower()}")(child, doc_url)
        num_digits = int(verb.attr("numDigits") or 0)
        finish_key = verb.attr("finishOnKey", "#")
        timeout = float(verb.attr("timeout", "5") or 5)
        action = self._resolve(verb.attr("action"), doc_url) or doc_url
        method = (verb.attr("method") or "POST").upper()
        on_empty = (verb.attr("actionOnEmptyResult") or "false").lower() == "true"
        self._event(
            "gather",
            num_digits=num_digits or None,
            finish_on_key=finish_key,
            timeout=timeout,
            action=action,
        )
        auto = self.sim.auto_keys(self.to) if self.direction != "inbound" else None
        msg: tuple | None
        if self.outcome == "machine":
            msg = ("no_input",)  # a voicemail never presses keys, whether detected or not
        elif auto is not None:
            msg = ("input", auto)  # a simulated agent answering its phone
            self._event("input_auto", digits=auto)
        else:
            msg = self._wait_input()
        digits, finished_on = "", None
        if msg is not None and msg[0] == "input":
            for ch in msg[1]:
                if finish_key and ch == finish_key:
                    finished_on = ch
                    break
                digits += ch
                if num_digits and len(digits) >= num_digits:
                    break
        if digits:
            self._event("input", digits=digits, finished_on_key=finished_on)
        else:
            self.vclock += timeout
            self._event("input", digits="", no_input=True)
        if not digits and not on_empty:
            return None
        params = {"Digits": digits}
        if finished_on:
            params["FinishedOnKey"] = finished_on
        return _Next(action, method, params)

    def _wait_input(self) -> tuple | None:
        with self.sim.cond:
            self._waiting = True
            self.sim.cond.notify_all()
        deadline = time.monotonic() + GATHER_REAL_TIMEOUT
        try:
            while (left := deadline - time.monotonic()) > 0:
                msg = self._next_msg(left)
                if msg is not None and msg[0] in ("input", "no_input"):
                    return msg
            return None
        finally:
            with self.sim.cond:
                if self._waiting:  # woken by hang-up/dequeue/timeout, not by input
                    self._prompt_mark = len(self.said)
                self._waiting = False
                self.sim.cond.notify_all()

    # queue ----------------------------------------------------------------------
    def _verb_enqueue(self, verb: Verb, doc_url: str | None) -> _Next | None:
        """https://www.twilio.com/docs/voice/twiml/enqueue: the caller waits, looping the
        waitUrl document, until dequeued, ``<Leave>``, hang-up or an error; ``action`` gets
        ``QueueResult`` at once for a leave, and only "when the bridged parties disconnect"
        after a ``<Dial><Queue>``."""
        if self._queue is not None:
            self._event("unsupported", verb="Enqueue (nested)")
            return None
        name = verb.text.strip()
        action = self._resolve(verb.attr("action"), doc_url)
        method = (verb.attr("method") or "POST").upper()
        wait_url = self._resolve(verb.attr("waitUrl"), doc_url)
        wait_method = (verb.attr("waitUrlMethod") or "POST").upper()
        q = self.sim.get_queue(name)
        with self.sim.cond:
            if len(q.members) >= q.max_size:
                full = True
            else:
                full = False
                q.members.append(self)
                self._queue = q
                self._enqueued_at = self.vclock
                self.date_enqueued = datetime.now(UTC)
            position = len(q.members)
            self.sim.cond.notify_all()
        if full:
            self._event("enqueue", queue=name, queue_sid=q.sid, result="queue-full")
            return _Next(action, method, {"QueueResult": "queue-full"}) if action else None
        self._event("enqueue", queue=name, queue_sid=q.sid, position=position)
        result, dequeued, hung, error = "", None, None, False
        try:
            self._queue_wait(wait_url, wait_method)
        except _Leave:
            result = "leave"
        except _Dequeued as d:
            result, dequeued = "bridged", d
        except CallerHangup as h:
            result, hung = "hangup", h
        except _AppError:
            result, error = "error", True
        finally:
            qtime = int(self.vclock - self._enqueued_at)
            with self.sim.cond:
                if self in q.members:
                    q.members.remove(self)
                self._queue = None
                q.record_wait(qtime)
                self.sim.cond.notify_all()
        if dequeued is not None:
            result, hung = self._connect_to_dequeuer(dequeued, q, qtime)
        qparams = {"QueueResult": result, "QueueSid": q.sid, "QueueTime": str(qtime)}
        self._event("dequeue", queue=name, result=qparams["QueueResult"])
        if error:
            if action:
                self._post(action, {**self._base_params(), **qparams}, method)
            raise _AppError("error in queue wait TwiML")
        if hung is not None:
            if action:  # Twilio still tells the app; the TwiML answer is ignored
                self._post(action, {**self._base_params(), **qparams}, method)
            raise hung
        if action:
            return _Next(action, method, qparams)
        return None

    def _connect_to_dequeuer(self, d: _Dequeued, q: SimQueue,
                             qtime: int) -> tuple[str, CallerHangup | None]:
        """Taken out of the queue by ``d.agent``: run the ``<Queue url>`` document on this
        (the queued caller's) leg, then stay bridged. Returns the QueueResult, and the
        hang-up if this caller hung up ("hangup" before the bridge, "bridged" after it)."""
        agent = d.agent
        self._event("dequeued", by=agent.sid)
        if d.url:
            params = {**self._base_params(), "QueueSid": q.sid, "QueueTime": str(qtime),
                      "DequeingCallSid": agent.sid}
            self._hearing_queue_url = True
            try:
                self._run_queue_url(d.url, d.method, params)
            except CallerHangup as h:
                agent._inbox.put(("gone", self))
                return "hangup", h
            except _AgentLeft:
                return DEQUEUER_GONE_RESULT, None
            finally:
                self._hearing_queue_url = False
        if agent.ended:
            return DEQUEUER_GONE_RESULT, None
        agent._inbox.put(("connected", self))
        try:
            self._bridge(agent, dequeued=True)
        except CallerHangup as h:
            return "bridged", h
        except _Redirect:
            return "redirected-from-bridged", None
        return "bridged", None

    def _run_queue_url(self, url: str, method: str, params: dict[str, str]) -> None:
        """The url document and the documents it redirects to, with only the verbs the docs
        allow there (others are an error and skipped)."""
        nxt: _Next | None = _Next(url, method, params)
        hops = 0
        while nxt is not None and hops < 10:
            res = self._post(nxt.url or "", {**self._base_params(), **nxt.params}, nxt.method)
            if not res.ok:
                self._event("error", status=res.status, url=res.url,
                            message="queue url document failed")
                return
            try:
                verbs = parse_twiml(res.body)
            except TwimlError as exc:
                self._event("error", status=res.status, url=res.url, message=str(exc))
                return
            nxt = self._execute(verbs, nxt.url, allowed=QUEUE_URL_VERBS)
            if nxt is not None:
                nxt = _Next(nxt.url, nxt.method, params)
            hops += 1

    def _queue_wait(self, wait_url: str | None, wait_method: str) -> None:
        last_position = None
        while True:
            position = self._queue_params()["QueuePosition"]
            if position != last_position:
                self._event("queue", position=int(position))
                last_position = position
            if wait_url is None:  # Twilio's hold music
                self.vclock += 1.0
                self._idle(QUEUE_IDLE_SLEEP)
                continue
            before = self.vclock
            verbs, doc_url = self._fetch_twiml(_Next(wait_url, wait_method))
            nxt = self._execute(verbs, doc_url, allowed=WAIT_URL_VERBS)
            hops = 0
            while nxt is not None and hops < 20:  # Redirect / Gather action inside wait
                verbs, doc_url = self._fetch_twiml(nxt)
                nxt = self._execute(verbs, doc_url, allowed=WAIT_URL_VERBS)
                hops += 1
            if self.vclock == before:  # empty wait TwiML: don't spin
                self.vclock += 1.0
                self._idle(QUEUE_IDLE_SLEEP)
            else:
                self._idle(QUEUE_LOOP_SLEEP)

    # dial / bridge ----------------------------------------------------------------
    def _bridge(self, peer: SimCall, *, dequeued: bool = False) -> str:
        """Stay connected to ``peer`` until one side hangs up. Returns "peer" when the other
        side ended it; raises CallerHangup when this side hung up.

        A simulated agent (an outbound leg that dialled or was dialled) hangs up after
        ``auto_agent_hangup_after``; a ``dequeued`` caller is the customer, also when the
        service called them (a callback), and stays until the agent leaves, as does a
        number answered in a terminal phone (a person decides)."""
        with self.sim.cond:
            self.peer = peer
        self._event("bridge", with_sid=peer.sid, to=peer.to, from_=peer.from_)
        started = time.monotonic()
        auto = None if dequeued or self.direction == "inbound" else self.sim.hangup_after(
            self.to)
        try:
            while True:
                if peer.ended:
                    return "peer"
                wait = 0.05
                if auto is not None:
                    left = started + auto - time.monotonic()
                    if left <= 0:
                        raise CallerHangup("auto-agent")
                    wait = min(wait, left)
                try:
                    msg = self._next_msg(wait)
                except (_Redirect, CallerHangup, _Stop):
                    peer._inbox.put(("unbridged", self))
                    raise
                if msg is not None and msg[0] in ("unbridged", "gone"):
                    return "peer"
        finally:
            self.vclock += time.monotonic() - started
            with self.sim.cond:
                self.peer = None
            self._event("unbridge", with_sid=peer.sid)

    def _verb_dial(self, verb: Verb, doc_url: str | None) -> _Next | None:
        """https://www.twilio.com/docs/voice/twiml/dial: the action gets DialCallStatus,
        DialCallSid, DialCallDuration and DialBridged (plus QueueSid and QueueTime after a
        ``<Queue>``); without an action the next verb runs."""
        action = self._resolve(verb.attr("action"), doc_url)
        method = (verb.attr("method") or "POST").upper()
        timeout = int(verb.attr("timeout", str(DIAL_TIMEOUT_DEFAULT)) or DIAL_TIMEOUT_DEFAULT)
        timeout = min(max(timeout, DIAL_TIMEOUT_MIN), DIAL_TIMEOUT_MAX)
        nouns = [c for c in verb.children if c.name in ("Number", "Client", "Queue", "Sip")]
        if not nouns and verb.text:
            nouns = [Verb("Number", text=verb.text)]
        if not nouns:
            self._event("unsupported", verb="Dial without a noun")
            return None
        noun = nouns[0]
        started = self.vclock
        hung: CallerHangup | None = None
        other: SimCall | None = None
        extra: dict[str, str] = {}
        try:
            if noun.name == "Queue":
                status, other, extra = self._dial_queue(noun, timeout, doc_url)
            else:
                caller_id = verb.attr("callerId") or self.to
                status, other = self._dial_number(noun, caller_id, timeout, doc_url)
        except CallerHangup as h:
            hung, status, other = h, "completed", self._dial_peer
        self._dial_peer = None
        params = {"DialCallStatus": status, "DialBridged": "true" if (
            other is not None and status == "completed") else "false", **extra}
        if other is not None:
            params["DialCallSid"] = other.sid
            params["DialCallDuration"] = str(math.ceil(self.vclock - started))
        self._event("dial_end", status=status, dial_call_sid=params.get("DialCallSid"))
        if hung is not None:
            if action:
                self._post(action, {**self._base_params(), **params}, method)
            raise hung
        if action:
            return _Next(action, method, params)
        return None

    def _dial_queue(self, noun: Verb, timeout: int,
                    doc_url: str | None) -> tuple[str, SimCall | None, dict[str, str]]:
        """https://www.twilio.com/docs/voice/twiml/queue: take the first caller of the queue;
        "If the queue is empty, Dial will wait until the next person joins the queue or until
        the <Dial> timeout duration is reached. If the queue does not exist, Dial will post an
        error status to its action URL" (``failed``; a timeout is ``no-answer``)."""
        name = noun.text.strip()
        q = self.sim.existing_queue(name)
        if q is None:
            self._event("dial", queue=name, dequeued=None, error="no such queue")
            return "failed", None, {}
        url = self._resolve(noun.attr("url"), doc_url)
        method = (noun.attr("method") or "POST").upper()
        deadline = time.monotonic() + (timeout + DIAL_TIMEOUT_BUFFER) * self.sim.wait_scale
        while True:
            caller = self._take_front(q)
            if caller is not None:
                self._event("dial", queue=name, dequeued=caller.sid)
                caller._inbox.put(("dequeued", self, url, method))
                answer = self._await_connected(caller)
                extra = {"QueueSid": q.sid,
                         "QueueTime": str(int(caller.vclock - caller._enqueued_at))}
                if answer != "connected":
                    return "no-answer", caller, extra
                self._dial_peer = caller
                self._bridge(caller)
                return "completed", caller, extra
            if time.monotonic() >= deadline:
                self._event("dial", queue=name, dequeued=None, error="timeout")
                self.vclock += timeout
                return "no-answer", None, {"QueueSid": q.sid}
            with self.sim.cond:
                self.sim.cond.wait_for(lambda q=q: bool(q.members) or self.ended,
                                       min(0.05, max(0.0, deadline - time.monotonic())))
            self._poll()

    def _take_front(self, q: SimQueue) -> SimCall | None:
        """Remove and return the first live member: no other dequeuer can take it now."""
        with self.sim.cond:
            while q.members:
                candidate = q.members.pop(0)
                if not candidate.ended:
                    self.sim.cond.notify_all()
                    return candidate
        return None

    def _await_connected(self, caller: SimCall) -> str:
        """Wait (silence on this line) while the caller hears the ``<Queue url>`` document."""
        while True:
            try:
                msg = self._next_msg(0.05)
            except (CallerHangup, _Stop):
                caller._inbox.put(("agent_left", self))
                raise
            if msg is not None and msg[0] == "connected":
                return "connected"
            if msg is not None and msg[0] == "gone":
                return "gone"
            if caller.ended:
                return "gone"

    def _dial_number(
        self, noun: Verb, caller_id: str, timeout: int, doc_url: str | None
    ) -> tuple[str, SimCall | None]:
        target = noun.text.strip()
        if noun.name == "Client" and not target.startswith("client:"):
            target = "client:" + target
        events = (noun.attr("statusCallbackEvent") or "completed").split()
        child = self.sim.create_call(
            direction="outbound-dial",
            from_=caller_id,
            to=target,
            parent=self,
            status_callback=self._resolve(noun.attr("statusCallback"), doc_url),
            status_callback_method=noun.attr("statusCallbackMethod") or "POST",
            status_events=events,
            timeout=timeout,
        )
        self._event("dial", to=target, dial_call_sid=child.sid)
        while child.status in ("queued", "ringing") and not child.ended:
            try:
                self._idle(0.02)
            except CallerHangup:
                child.hang_up()
                raise
        if child.status != "in-progress":
            child.wait_ended(5)
            if child.status == "no-answer":
                self.vclock += timeout
            return child.status, child
        self._dial_peer = child
        self._bridge(child)
        return "completed", child


