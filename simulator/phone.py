"""The interactive terminal phone: call the hotline from a shell and use the keypad.

It talks to a running simulator through its ``/_sim`` JSON control API, so it works
against ``python -m simulator serve`` or ``callcenter dev`` alike.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

import requests

KEYPAD_WAIT_S = 0.2  # how long the phone waits for a key before it looks at the call again
HELP = "Type digits and Enter to press keys; Enter alone = say nothing; q = hang up."


class _Keypad:
    """The user's lines, read on a thread of their own as soon as they are typed.

    A line typed while no ``<Gather>`` waits would otherwise sit in the terminal's buffer and
    be sent to the next one: keys pressed while talking to the agent (a ``<Dial>``: "the two
    parties can communicate until one hangs up", Twilio's <Dial> docs) would replay into the
    IVR afterwards. Reading them at once lets the phone drop them (:meth:`discard`).
    """

    def __init__(self, stdin: TextIO) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._ended = False  # EOF: the user walked away
        self._stdin = stdin
        threading.Thread(target=self._read, name="terminal-keypad", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                line = self._stdin.readline()
            except (OSError, ValueError):  # the terminal was closed under us
                line = ""
            self._lines.put(line)
            if line == "":
                return

    def next_line(self, timeout: float | None = None) -> str | None:
        """The next line typed ("" at EOF), waiting at most ``timeout`` seconds for it (None
        when nothing was typed by then)."""
        if self._ended and self._lines.empty():
            return ""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line == "":
            self._ended = True
        return line

    def discard(self) -> list[str]:
        """Drop what was typed until now (EOF is kept: it still hangs up)."""
        dropped: list[str] = []
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return dropped
            if line == "":
                self._ended = True
                return dropped
            if line.strip():
                dropped.append(line.strip())


def _describe(event: dict, direction: str = "inbound") -> str | None:
    """One line of what this phone's user hears or sees happen."""
    kind = event.get("type")
    other = "agent" if direction == "inbound" else "caller"
    if kind == "say":
        return f"IVR: {event['text']}"
    if kind == "queue":
        return f"[in queue, position {event['position']}]"
    if kind == "bridge":
        return f"[connected to {other}]"
    if kind == "unbridge":
        return f"[{other} left the call]"
    if kind == "error":
        return f"[application error: {event.get('message')}]"
    if kind == "play":
        return "[music playing]"
    return None


def run_phone(
    control_url: str,
    from_number: str,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    poll_interval: float = 0.05,
    timeout: float = 600.0,
) -> str:
    """Place a call to the hotline and hand the keypad to the user; returns the final status."""
    stdin, stdout, show = _terminal(stdin, stdout)
    base = _control_base(control_url)
    with _session() as http:
        sid = http.post(f"{base}/calls", json={"from": from_number}, timeout=10).json()["sid"]
        show(f"Calling the hotline from {from_number} ... ({HELP})")
        return _converse(http, base, sid, stdin, show, stdout, poll_interval, timeout)


def answer_phone(
    control_url: str,
    number: str,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    poll_interval: float = 0.2,
    timeout: float = 3600.0,
) -> str:
    """Wait for the service to call ``number`` (a callback) and pick it up in this terminal."""
    stdin, stdout, show = _terminal(stdin, stdout)
    base = _control_base(control_url)
    with _session() as http:
        # This terminal answers the number itself (a simulated agent on it stands aside).
        http.put(f"{base}/answering/{number}", timeout=10)
        try:
            show(f"Waiting for a call to {number} ... (Ctrl-C to stop)")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                calls = http.get(f"{base}/state", timeout=10).json()["calls"]
                ringing = [c for c in calls if c["to"] == number
                           and c["direction"] == "outbound-api"
                           and c["status"] in ("queued", "ringing", "in-progress")]
                if ringing:
                    show(f"Incoming call from {ringing[-1]['from']}. ({HELP})")
                    return _converse(http, base, ringing[-1]["sid"], stdin, show, stdout,
                                     poll_interval=0.05, timeout=timeout)
                time.sleep(poll_interval)
            show("[no call came]")
            return "timeout"
        finally:
            http.delete(f"{base}/answering/{number}", timeout=10)


def _terminal(stdin: TextIO | None,
              stdout: TextIO | None) -> tuple[TextIO, TextIO, Callable[[str], None]]:
    """The keypad and the loudspeaker: the process's terminal unless tests pass others."""
    out = stdout or sys.stdout

    def show(line: str) -> None:
        print(line, file=out, flush=True)

    return stdin or sys.stdin, out, show


def _session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # the simulator is local: never through a proxy
    return http


def _control_base(control_url: str) -> str:
    base = control_url.rstrip("/")
    return base if base.endswith("/_sim") else base + "/_sim"


def _converse(http: requests.Session, base: str, sid: str, stdin: TextIO, show: Any,
              stdout: TextIO, poll_interval: float, timeout: float) -> str:
    """Print what the call says; hand the keypad to the user whenever a Gather waits. Keys
    typed while connected to the other party are theirs to hear, never the next menu's."""
    keypad = _Keypad(stdin)
    seen = 0
    connected = hang_up = prompted = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = http.get(f"{base}/calls/{sid}", params={"after": seen}, timeout=10).json()
        seen = state["next"]
        direction = state.get("direction", "inbound")
        for event in state["events"]:
            line = _describe(event, direction)
            if line:
                show(line)
            if event.get("type") in ("bridge", "unbridge"):
                hang_up = _drop_keys(keypad, show, direction) or hang_up
                connected = event["type"] == "bridge"
        if connected or hang_up:
            hang_up = _drop_keys(keypad, show, direction) or hang_up
            if hang_up:
                http.post(f"{base}/calls/{sid}/input", json={"hangup": True}, timeout=10)
                hang_up = False
        if state["ended"]:
            show(f"[call ended: {state['status']}]")
            return str(state["status"])
        if not state["waiting"]:
            prompted = False
            time.sleep(poll_interval)
            continue
        if not prompted:
            print("> ", end="", file=stdout, flush=True)
            prompted = True
        # Wait for the user only a moment, then look at the call again: a Gather can end
        # without them (the hold music's "press 1" ends when an agent takes the call), and
        # what happens next must reach the screen without a key being typed first.
        line = keypad.next_line(timeout=KEYPAD_WAIT_S)
        if line is None:
            continue
        prompted = False
        if line == "":  # EOF: the user walked away
            payload: dict = {"hangup": True}
        else:
            text = line.strip()
            if text.lower() in ("q", "quit", "hangup"):
                payload = {"hangup": True}
            elif text == "":
                payload = {"no_input": True}
            else:
                payload = {"digits": text.replace(" ", "")}
        answer = http.post(f"{base}/calls/{sid}/input", json=payload, timeout=10)
        if answer.status_code == 409 and "digits" in payload:
            # the menu ended between the look and the key (e.g. an agent took the call)
            show(f"[keys {payload['digits']} not heard: no menu was waiting]")
    http.post(f"{base}/calls/{sid}/input", json={"hangup": True}, timeout=10)
    show("[call ended: timeout]")
    return "timeout"


def _drop_keys(keypad: _Keypad, show: Any, direction: str) -> bool:
    """Keys typed during the bridge went to the other party; True if one of the lines was a
    hang-up (``q``), which works at any moment."""
    other = "agent" if direction == "inbound" else "caller"
    hang_up = False
    for line in keypad.discard():
        if line.lower() in ("q", "quit", "hangup"):
            hang_up = True
        else:
            show(f"[keys {line} heard by the {other} only, not sent to the menu]")
    return hang_up
