"""One simulated phone call, driven through TwiML by its own thread.

Everything the caller (a test, or the terminal phone) does arrives through the
call's inbox queue: digits, "no input", hang-up, a REST redirect, or an agent
bridging it out of a queue. The call thread blocks only on that inbox, so a
hang-up or a bridge can happen at any moment, including mid-Gather.
Time inside TwiML (Say, Pause, gather timeouts) runs on a virtual
clock so tests stay fast.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import phonenumbers

from simulator.signing import WebhookResult, send_webhook
from simulator.twiml import TwimlError, Verb, parse_twiml

if TYPE_CHECKING:
    from simulator.server import Simulator

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
APP_ERROR_TEXT = "We are sorry, an application error has occurred. Goodbye."
SAY_SECONDS_PER_CHAR = 0.07
FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}
# How long the call thread waits for an answer to a Gather in real time before
# treating it as "no input" (tests answer in milliseconds; people are slower).
GATHER_REAL_TIMEOUT = 300.0
QUEUE_LOOP_SLEEP = 0.02
QUEUE_IDLE_SLEEP = 0.1


class CallEnded(RuntimeError):
    """Input was sent to a call that has already ended."""


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


class _Bridged(Exception):
    def __init__(self, peer: SimCall) -> None:
        super().__init__(peer.sid)
        self.peer = peer


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


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters + 32 hex digits."""
    return prefix + uuid.uuid4().hex


def rfc2822(dt: datetime | None = None) -> str:
    """Twilio's date format in JSON and callbacks (``Mon, 01 Jan 2024 10:00:00 +0000``)."""
    return format_datetime(dt or datetime.now(UTC))


def country_of(number: str | None) -> str:
    """ISO country of an E.164 number ('' for client:, anonymous, garbage)."""
    if not number or not number.startswith("+"):
        return ""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except phonenumbers.NumberParseException:
        return ""


class SimCall:
    """A call leg: inbound to the hotline, outbound via REST, or a ``<Dial>`` child leg."""

    def __init__(
        self,
        sim: Simulator,
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
        self._queue: Any = None  # SimQueue while waiting in a queue
        self._enqueued_at = 0.0
        self._answered_at_real: float | None = None
        self._skip_callbacks = False
        self._dial_peer: SimCall | None = None
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
        q = self._queue
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
        """Send one webhook and record it on the call."""
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
        """Wait for one inbox message; hang-up/stop/redirect/bridge become exceptions."""
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
        if kind == "bridged":
            if self._queue is not None:
                raise _Bridged(msg[1])
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
        """Sleep in real time while still reacting to hang-up/bridge/redirect."""
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
            if self.outcome == "no-answer":
                self.vclock += 0  # not answered: duration stays 0
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
            extra = {}
            if final == "completed" or self.start_time is not None:
                extra = {"CallDuration": str(self.duration), "Duration": str(self._minutes())}
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
        if self.direction == "inbound":
            url = self.sim.status_url if event == "completed" else None
            method = "POST"
        else:
            url = self.status_callback if event in self.status_events else None
            method = self.status_callback_method
        if not url:
            return
        params = self._base_params()
        params.pop("QueueSid", None)
        params["CallStatus"] = status or self.status
        params["SequenceNumber"] = str(self._seq)
        params["Timestamp"] = rfc2822()
        params["CallbackSource"] = "call-progress-events"
        params.update(extra or {})
        self._seq += 1
        self._post(url, params, method)

    # ------------------------------------------------------------------- verbs
    def _execute(self, verbs: list[Verb], doc_url: str | None) -> _Next | None:
        for verb in verbs:
            self._poll()
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
        if self._queue is not None:
            raise _Leave()

    def _verb_redirect(self, verb: Verb, doc_url: str | None) -> _Next:
        url = self._resolve(verb.text, doc_url)
        self._event("redirect", url=url, source="twiml")
        return _Next(url, (verb.attr("method") or "POST").upper())

    def _verb_gather(self, verb: Verb, doc_url: str | None) -> _Next | None:
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
        if self.answered_by and self.answered_by.startswith("machine"):
            msg: tuple | None = ("no_input",)  # an answering machine never presses keys
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
        params = {"Digits": digits, "msg": "Gather End"}
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
                if self._waiting:  # woken by hang-up/bridge/timeout, not by input
                    self._prompt_mark = len(self.said)
                self._waiting = False
                self.sim.cond.notify_all()

    # queue ----------------------------------------------------------------------
    def _verb_enqueue(self, verb: Verb, doc_url: str | None) -> _Next | None:
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
            q.members.append(self)
            self._queue = q
            self._enqueued_at = self.vclock
            position = len(q.members)
        self._event("enqueue", queue=name, queue_sid=q.sid, position=position)
        result, peer, hung, error = "", None, None, False
        try:
            self._queue_wait(wait_url, wait_method)
        except _Leave:
            result = "leave"
        except _Bridged as b:
            result, peer = "bridged", b.peer
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
        qparams = {"QueueResult": result, "QueueSid": q.sid, "QueueTime": str(qtime)}
        self._event("dequeue", queue=name, result=result)
        if peer is not None:
            try:
                self._bridge(peer)
            except CallerHangup as h:
                hung = h
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
            nxt = self._execute(verbs, doc_url)
            hops = 0
            while nxt is not None and hops < 20:  # Redirect / Gather action inside wait
                verbs, doc_url = self._fetch_twiml(nxt)
                nxt = self._execute(verbs, doc_url)
                hops += 1
            if self.vclock == before:  # empty wait TwiML: don't spin
                self.vclock += 1.0
                self._idle(QUEUE_IDLE_SLEEP)
            else:
                self._idle(QUEUE_LOOP_SLEEP)

    # dial / bridge ----------------------------------------------------------------
    def _bridge(self, peer: SimCall) -> str:
        """Stay connected to ``peer`` until one side hangs up. Returns "peer" when the other
        side ended it; raises CallerHangup when this side hung up."""
        with self.sim.cond:
            self.peer = peer
        self._event("bridge", with_sid=peer.sid, to=peer.to, from_=peer.from_)
        started = time.monotonic()
        auto = self.sim.auto_agent_hangup_after if self.direction != "inbound" else None
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
                except _Redirect:
                    peer._inbox.put(("unbridged", self))
                    raise
                except (CallerHangup, _Stop):
                    peer._inbox.put(("unbridged", self))
                    raise
                if msg is not None and msg[0] == "unbridged":
                    return "peer"
        finally:
            self.vclock += time.monotonic() - started
            with self.sim.cond:
                self.peer = None
            self._event("unbridge", with_sid=peer.sid)

    def _verb_dial(self, verb: Verb, doc_url: str | None) -> _Next | None:
        action = self._resolve(verb.attr("action"), doc_url)
        method = (verb.attr("method") or "POST").upper()
        timeout = int(verb.attr("timeout", "30") or 30)
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
        try:
            if noun.name == "Queue":
                status, other = self._dial_queue(noun, doc_url)
            else:
                caller_id = verb.attr("callerId") or self.to
                status, other = self._dial_number(noun, caller_id, timeout, doc_url)
        except CallerHangup as h:
            hung, status, other = h, "completed", self._dial_peer
        self._dial_peer = None
        params = {"DialCallStatus": status}
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

    def _dial_queue(self, noun: Verb, doc_url: str | None) -> tuple[str, SimCall | None]:
        name = noun.text.strip()
        caller: SimCall | None = None
        with self.sim.cond:
            q = self.sim.queues.get(name)
            while q is not None and q.members:
                candidate = q.members.pop(0)
                if not candidate.ended:
                    caller = candidate
                    break
        self._event("dial", queue=name, dequeued=caller.sid if caller else None)
        if caller is None or q is None:
            return "no-answer", None  # empty queue: the Dial ends at once (documented choice)
        url = self._resolve(noun.attr("url"), doc_url)
        try:
            if url:
                qtime = int(caller.vclock - caller._enqueued_at)
                params = {
                    **caller._base_params(),
                    "QueueSid": q.sid,
                    "QueueTime": str(qtime),
                    "DequeingCallSid": self.sid,
                    "CallSid": caller.sid,
                }
                for k in ("QueuePosition", "CurrentQueueSize", "AvgQueueTime", "MaxQueueSize"):
                    params.pop(k, None)
                method = (noun.attr("method") or "POST").upper()
                res = self._post(url, params, method)
                if not res.ok:
                    self._event("error", status=res.status, url=res.url, message="whisper failed")
                else:
                    try:
                        for v in parse_twiml(res.body):
                            if v.name in ("Say", "Play", "Pause"):
                                getattr(self, f"_verb_{v.name.lower()}")(v, url)
                    except TwimlError as exc:
                        self._event("error", status=res.status, url=res.url, message=str(exc))
        finally:
            caller._inbox.put(("bridged", self))
        self._dial_peer = caller
        self._bridge(caller)
        return "completed", caller

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
