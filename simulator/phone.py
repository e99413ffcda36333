"""The interactive terminal phone: call the hotline from a shell and use the keypad.

It talks to a running simulator through its ``/_sim`` JSON control API, so it works
against ``python -m simulator serve`` or ``callcenter dev`` alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import requests

HELP = "Type digits and Enter to press keys; Enter alone = say nothing; q = hang up."


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
    """Print what the call says; hand the keypad to the user whenever a Gather waits."""
    seen = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = http.get(f"{base}/calls/{sid}", params={"after": seen}, timeout=10).json()
        seen = state["next"]
        for event in state["events"]:
            line = _describe(event, state.get("direction", "inbound"))
            if line:
                show(line)
        if state["ended"]:
            show(f"[call ended: {state['status']}]")
            return str(state["status"])
        if not state["waiting"]:
            time.sleep(poll_interval)
            continue
        print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
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
        http.post(f"{base}/calls/{sid}/input", json=payload, timeout=10)
    http.post(f"{base}/calls/{sid}/input", json={"hangup": True}, timeout=10)
    show("[call ended: timeout]")
    return "timeout"
