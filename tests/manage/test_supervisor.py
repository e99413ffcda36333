"""The dev run's supervisor on small programs, as real processes: what ignores SIGTERM is
killed after the grace period, a program that dies is restarted, and one that cannot stay up
stops the whole run (never half up)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from callcenter.config import PROJECT_ROOT
from tests.support.waiting import eventually

PY = sys.executable


def _supervise(tmp_path: Path, programs: dict[str, str], **options: float) -> subprocess.Popen:
    script = (
        "import json, sys\n"
        "from manage.supervisor import Program, Supervisor\n"
        "programs, options = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n"
        "sys.exit(Supervisor([Program(n, c) for n, c in programs.items()], **options).run())\n")
    with (tmp_path / "out.log").open("wb") as sink:  # the child keeps its own copy
        return subprocess.Popen([PY, "-c", script, json.dumps(programs), json.dumps(options)],
                                cwd=PROJECT_ROOT, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _marked(marker: str, supervisor: subprocess.Popen | None = None) -> list[psutil.Process]:
    """The programs carrying ``marker`` (the supervisor's own command line names them too)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if supervisor is not None and process.pid == supervisor.pid:
            continue
        if marker in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


def test_sigterm_stops_everything_and_kills_what_ignores_it(tmp_path: Path):
    marker = f"stubborn-{os.getpid()}-{time.monotonic_ns()}"
    ready = tmp_path / "ignoring"
    stubborn = (f"{PY} -c \"import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, "
                f"signal.SIG_IGN); pathlib.Path(sys.argv[1]).touch(); time.sleep(600)\" "
                f"{ready} {marker}")
    polite = f"{PY} -c \"import time; time.sleep(600)\" {marker}"
    supervisor = _supervise(tmp_path, {"stubborn": stubborn, "polite": polite}, grace_s=1.0)
    eventually(lambda: ready.exists() and len(_marked(marker, supervisor)) == 2, timeout=20)
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=20) == 128 + signal.SIGTERM
    assert _marked(marker) == []
    log = (tmp_path / "out.log").read_text()
    assert "stubborn did not stop in time: killed" in log
    assert "polite did not stop" not in log


def test_a_program_that_dies_is_restarted(tmp_path: Path):
    flag = tmp_path / "died-once"
    marker = f"phoenix-{os.getpid()}-{time.monotonic_ns()}"
    phoenix = (f"{PY} -c \"import pathlib, sys, time; f = pathlib.Path(sys.argv[1]); "
               f"died = f.exists(); f.touch(); sys.exit(3) if not died else time.sleep(600)\" "
               f"{flag} {marker}")
    supervisor = _supervise(tmp_path, {"phoenix": phoenix}, first_delay_s=0.2)
    try:
        eventually(lambda: flag.exists() and len(_marked(marker, supervisor)) == 1, timeout=20)
        time.sleep(0.5)
        assert supervisor.poll() is None  # the run goes on
        log = (tmp_path / "out.log").read_text()
        assert "phoenix stopped (exit 3); restarting in 0 s" in log
    finally:
        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=20) == 128 + signal.SIGINT
    assert _marked(marker) == []


def test_a_program_that_cannot_stay_up_stops_the_whole_run(tmp_path: Path):
    marker = f"sidekick-{os.getpid()}-{time.monotonic_ns()}"
    supervisor = _supervise(tmp_path, {
        "broken": f"{PY} -c \"import sys; sys.exit(2)\"",
        "sidekick": f"{PY} -c \"import time; time.sleep(600)\" {marker}",
    }, first_delay_s=0.05, max_delay_s=0.1, max_quick_exits=3, grace_s=2.0)
    assert supervisor.wait(timeout=30) == 1
    log = (tmp_path / "out.log").read_text()
    assert log.count("broken started") == 3
    assert "broken stopped (exit 2) 3 times in a row; stopping everything" in log
    assert _marked(marker) == []  # not left half up
