"""Runs the dev run's processes together: one that dies is restarted, and everything stops
on Ctrl-C, SIGTERM, a closed terminal (SIGHUP) or a closed output pipe.

Why not honcho (which ran them before): it stops the whole run when one process exits, and
its stop path prints before it signals, so with the output piped (``scripts/dev | tee
dev.log``) Ctrl-C killed ``tee`` first, the print raised ``BrokenPipeError`` and gunicorn, the
worker, the scheduler, the simulator and the mail sink were left running with their ports
bound (its relay processes ignore SIGTERM). supervisord treats SIGHUP as "reload".

Each process runs in a session of its own (its process group gets the signals, so a
gunicorn's workers or the worker's RQ scheduler go with it) and, on Linux, is told by the
kernel to stop if this process dies without cleaning up (``PR_SET_PDEATHSIG``). Stopping is
SIGTERM to every group, then SIGKILL to whatever is left after ``grace_s``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _find_prctl() -> ctypes._CFuncPtr | None:
    """libc's ``prctl``, looked up once here: the child between fork and exec must not load
    anything (another thread may hold the loader's lock)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _find_prctl()


def die_with_parent() -> None:
    """In a child before ``exec``: the kernel sends it SIGTERM when its parent dies (Linux;
    elsewhere nothing happens and the process groups are the only way out)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Program:
    """One process of the run: a shell command line, as a Procfile writes it."""

    name: str
    command: str
    env: Mapping[str, str] | None = None
    cwd: str | None = None


@dataclass
class _Slot:
    program: Program
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float | None = None
    delay_s: float = 0.0
    quick_exits: int = 0
    readers: list[threading.Thread] = field(default_factory=list)


class Supervisor:
    """Start ``programs``, restart any that exits (back-off from ``first_delay_s`` to
    ``max_delay_s``; a process that ran ``steady_after_s`` starts afresh), and give up, stopping
    everything, when one exits ``max_quick_exits`` times in a row without settling (a port
    taken, a broken setting): the run is all up or all down, never half up."""

    def __init__(self, programs: list[Program], output: IO[str] | None = None, *,
                 grace_s: float = 10.0, first_delay_s: float = 1.0, max_delay_s: float = 30.0,
                 steady_after_s: float = 30.0, max_quick_exits: int = 5) -> None:
        self.slots = [_Slot(program, delay_s=first_delay_s) for program in programs]
        self.output = output or sys.stdout
        self.grace_s = grace_s
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.steady_after_s = steady_after_s
        self.max_quick_exits = max_quick_exits
        self.width = max([len(p.name) for p in programs] + [len("system")])
        self.exit_code = 0
        self._stop = threading.Event()
        self._forced = threading.Event()
        self._write_lock = threading.Lock()
        self._output_lost = False

    # -- output ------------------------------------------------------------------------------

    def say(self, name: str, text: str) -> None:
        """One line on the output, prefixed with the time and the process's name. A closed
        output (the terminal gone, ``tee`` killed by Ctrl-C) stops the run."""
        line = f"{datetime.now():%H:%M:%S} {name:<{self.width}} | {text.rstrip()}\n"
        with self._write_lock:
            if self._output_lost:
                return
            try:
                self.output.write(line)
                self.output.flush()
            except (OSError, ValueError):
                self._lose_output()

    def _lose_output(self) -> None:
        self._output_lost = True
        # Nothing more can be shown; point stdout at /dev/null so the interpreter's own
        # flush at exit does not fail again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.output.fileno())
            os.close(devnull)
        self.request_stop(None)

    def _relay(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode(errors="replace"))
        stream.close()

    # -- signals -----------------------------------------------------------------------------

    def request_stop(self, signum: int | None) -> None:
        """Stop everything (a second request while stopping kills at once)."""
        if self._stop.is_set():
            self._forced.set()
            return
        if signum is not None:
            self.exit_code = 128 + signum
        self._stop.set()

    def _install_signal_handlers(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda signum, _frame: self.request_stop(signum))

    # -- processes ---------------------------------------------------------------------------

    def _start(self, slot: _Slot) -> None:
        program = slot.program
        process = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {program.command}"], cwd=program.cwd,
            env=dict(program.env) if program.env is not None else None,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent)
        slot.process, slot.started, slot.restart_at = process, time.monotonic(), None
        assert process.stdout is not None
        reader = threading.Thread(target=self._relay, args=(program.name, process.stdout),
                                  name=f"relay-{program.name}", daemon=True)
        reader.start()
        slot.readers = [r for r in slot.readers if r.is_alive()] + [reader]
        self.say("system", f"{program.name} started (pid {process.pid})")

    def _exited(self, slot: _Slot, code: int) -> None:
        """Plan the restart of a process that exited on its own."""
        name = slot.program.name
        self._signal_group(slot, signal.SIGKILL)  # what it left behind in its group
        if time.monotonic() - slot.started >= self.steady_after_s:
            slot.quick_exits, slot.delay_s = 0, self.first_delay_s
        slot.quick_exits += 1
        if slot.quick_exits >= self.max_quick_exits:
            self.say("system", f"{name} stopped (exit {code}) {slot.quick_exits} times in a "
                               "row; stopping everything")
            self.exit_code = self.exit_code or 1
            self.request_stop(None)
            return
        self.say("system", f"{name} stopped (exit {code}); restarting in {slot.delay_s:.0f} s")
        slot.restart_at = time.monotonic() + slot.delay_s
        slot.delay_s = min(slot.delay_s * 2, self.max_delay_s)

    @staticmethod
    def _signal_group(slot: _Slot, sig: int) -> bool:
        """Signal the process group of ``slot``; False when nothing is left in it."""
        if slot.process is None:
            return False
        try:
            os.killpg(slot.process.pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def run(self) -> int:
        """Run until asked to stop; returns the exit code (128 + the signal that stopped
        it, 1 when a process would not stay up, 0 when the output closed)."""
        self._install_signal_handlers()
        try:
            for slot in self.slots:
                if not self._stop.is_set():
                    self._start(slot)
            while not self._stop.wait(0.2):
                now = time.monotonic()
                for slot in self.slots:
                    if slot.restart_at is not None:
                        if now >= slot.restart_at:
                            self._start(slot)
                    elif slot.process is not None and slot.process.poll() is not None:
                        self._exited(slot, slot.process.returncode)
        finally:
            self._shutdown()
        return self.exit_code

    def _shutdown(self) -> None:
        self.say("system", "stopping everything")
        for slot in self.slots:
            self._signal_group(slot, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline and not self._forced.is_set():
            if not [slot for slot in self.slots if self._group_alive(slot)]:  # poll each
                break
            time.sleep(0.1)
        for slot in self.slots:
            if self._group_alive(slot) and self._signal_group(slot, signal.SIGKILL):
                self.say("system", f"{slot.program.name} did not stop in time: killed")
            if slot.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    slot.process.wait(timeout=5)
        for slot in self.slots:
            for reader in slot.readers:
                reader.join(timeout=2)
        self.say("system", "stopped")

    @staticmethod
    def _group_alive(slot: _Slot) -> bool:
        if slot.process is None:
            return False
        slot.process.poll()  # reap the leader, or its group looks alive forever
        try:
            os.killpg(slot.process.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
