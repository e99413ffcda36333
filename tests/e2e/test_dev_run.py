"""The README's promise: `callcenter dev` runs everything, a call hears the bill and a ticket
number, a process that dies comes back, and stopping it (Ctrl-C with the output piped into
`tee`, SIGTERM, a closed terminal) leaves nothing running and no port bound (not even the
embedded Redis)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from callcenter.config import PROJECT_ROOT
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not come up")


def _say_until_prompt(http: requests.Session, base: str, sid: str, seen: int) -> tuple[str, int]:
    deadline = time.monotonic() + 20
    said: list[str] = []
    while time.monotonic() < deadline:
        state = http.get(f"{base}/calls/{sid}", params={"after": seen}, timeout=5).json()
        seen = state["next"]
        said += [e["text"] for e in state["events"] if e.get("type") == "say"]
        if state["waiting"] or state["ended"]:
            return " ".join(said), seen
        time.sleep(0.05)
    raise AssertionError(f"no prompt; heard so far: {said}")


def test_dev_run_answers_a_call_and_stops_cleanly(tmp_path: Path):
    web, sim, mail = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "TWILIO_API_URL", "PUBLIC_BASE_URL",
                        "SMTP_URL", "EMAIL_WEBHOOK_AUTH")}
    env["CALLCENTER_INSTANCE"] = str(tmp_path)
    dev = subprocess.Popen(
        [sys.executable, "-m", "manage.cli", "dev", "--port", str(web),
         "--simulator-port", str(sim), "--mail-port", str(mail)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        _wait_up(f"http://127.0.0.1:{web}/api/health")
        _wait_up(f"http://127.0.0.1:{sim}/_sim/state")
        health = requests.get(f"http://127.0.0.1:{web}/api/health", timeout=5).json()
        assert {k: health[k] for k in ("db", "redis", "worker", "scheduler")} == {
            "db": "ok", "redis": "ok", "worker": "ok", "scheduler": "ok"}
        base = f"http://127.0.0.1:{sim}/_sim"
        with requests.Session() as http:
            sid = http.post(f"{base}/calls", json={"from": "0812-3456-7890"},
                            timeout=5).json()["sid"]
            heard, seen = _say_until_prompt(http, base, sid, 0)
            assert "Selamat datang" in heard
            for keys in ("1", "20261001#", "1", "3", "2"):
                http.post(f"{base}/calls/{sid}/input", json={"digits": keys}, timeout=5)
                heard, seen = _say_until_prompt(http, base, sid, seen)
                if keys == "3":
                    assert "1.250.000 rupiah" in heard
            assert "Nomor tiket Anda adalah 1 0 0" in heard
        children = psutil.Process(dev.pid).children(recursive=True)
        assert any("redis-server" in " ".join(c.cmdline()) for c in children)
        with socket.create_connection(("127.0.0.1", mail), timeout=5) as smtp:
            assert smtp.recv(100).startswith(b"220")  # the dev mail sink answers
    finally:
        os.killpg(dev.pid, signal.SIGINT)  # Ctrl-C in the terminal
        dev.wait(timeout=30)
    time.sleep(1)
    leftovers = [p for p in psutil.process_iter(["cmdline"])
                 if str(tmp_path) in " ".join(p.info["cmdline"] or [])
                 or f"127.0.0.1:{web}" in " ".join(p.info["cmdline"] or [])]
    assert leftovers == []
    assert not (tmp_path / "redis.sock").exists()


def test_a_second_dev_run_on_busy_ports_refuses_before_starting_anything(tmp_path: Path):
    """Two dev runs in one folder would share the embedded Redis socket: the second one says
    why it stops, and the first one is untouched."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        env = {**os.environ, "CALLCENTER_INSTANCE": str(tmp_path / "instance")}
        env.pop("REDIS_URL", None)
        result = subprocess.run(
            [sys.executable, "-m", "manage.cli", "dev", "--port", str(port),
             "--simulator-port", str(_free_port()), "--mail-port", str(_free_port())],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"port(s) {port} already in use" in result.stderr
    assert "another `callcenter dev`" in result.stderr
    assert not (tmp_path / "instance" / "redis.sock").exists()  # nothing was started


# -- stopping and restarting -------------------------------------------------------------------

def _dev_env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "TWILIO_API_URL", "PUBLIC_BASE_URL",
                        "SMTP_URL", "EMAIL_WEBHOOK_AUTH")}
    env["CALLCENTER_INSTANCE"] = str(instance)
    return env


def _start_piped(instance: Path, ports: tuple[int, int, int]) -> subprocess.Popen[bytes]:
    """``callcenter dev | tee dev.log`` as a terminal runs it: one process group (the
    terminal's foreground job), so Ctrl-C reaches the dev run and ``tee`` alike."""
    web, sim, mail = ports
    command = (f"{shlex.quote(sys.executable)} -m manage.cli dev --port {web} "
               f"--simulator-port {sim} --mail-port {mail} | tee {instance / 'dev.log'}")
    return subprocess.Popen(["/bin/bash", "-c", command], cwd=PROJECT_ROOT,
                            env=_dev_env(instance), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _dev_process(shell: subprocess.Popen[bytes]) -> psutil.Process:
    return eventually(lambda: next((p for p in psutil.Process(shell.pid).children()
                                    if "manage.cli" in " ".join(p.cmdline())), None))


def _everything_up(web: int) -> None:
    """Health is 200 once the database, Redis, a worker and a scheduler all answer."""
    _wait_up(f"http://127.0.0.1:{web}/api/health", timeout=90)


def _leftovers(instance: Path, ports: tuple[int, ...]) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if str(instance) in line or any(f"127.0.0.1:{port}" in line or f"--port {port}" in line
                                        for port in ports):
            found.append(line)
    return found


def _bound(ports: tuple[int, ...]) -> list[int]:
    """Ports a server could not listen on again (as the next dev run's servers do, with
    SO_REUSEADDR: the test's own closed connections in TIME_WAIT do not count)."""
    bound = []
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                bound.append(port)
    return bound


STOPS = {
    # Ctrl-C in the terminal: SIGINT to the foreground group (the dev run and tee).
    "ctrl-c piped": lambda shell, dev: os.killpg(shell.pid, signal.SIGINT),
    # A platform or `kill`: SIGTERM to the dev run alone.
    "sigterm": lambda shell, dev: dev.send_signal(signal.SIGTERM),
    # The terminal window closed: SIGHUP to the foreground group.
    "closed terminal": lambda shell, dev: os.killpg(shell.pid, signal.SIGHUP),
}


@pytest.mark.parametrize("stop", list(STOPS))
def test_stopping_the_dev_run_leaves_no_process_and_no_port(tmp_path: Path, stop: str):
    ports = (_free_port(), _free_port(), _free_port())
    shell = _start_piped(tmp_path, ports)
    try:
        dev = _dev_process(shell)
        _everything_up(ports[0])
        assert len(dev.children()) >= 5  # web, worker, scheduler, simulator, mail sink, redis
        STOPS[stop](shell, dev)
        shell.wait(timeout=60)
        gone = eventually(lambda: not dev.is_running() or dev.status() == psutil.STATUS_ZOMBIE,
                          timeout=30)
        assert gone
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
    eventually(lambda: _leftovers(tmp_path, ports) == [], timeout=15)
    assert _bound(ports) == []
    assert not (tmp_path / "redis.sock").exists()


def test_a_dev_process_that_dies_is_restarted(tmp_path: Path):
    """kill -9 of the worker (as the OOM killer would): the run does not stay half up; a new
    worker starts and beats, and the log says so."""
    ports = (_free_port(), _free_port(), _free_port())
    shell = _start_piped(tmp_path, ports)
    try:
        dev = _dev_process(shell)
        _everything_up(ports[0])

        def worker() -> psutil.Process | None:
            for child in dev.children():
                with contextlib.suppress(psutil.Error):  # the killed one, a zombie a moment
                    if "manage.cli worker" in " ".join(child.cmdline()):
                        return child
            return None

        first = eventually(worker)
        first.kill()
        second = eventually(lambda: (w := worker()) is not None and w.pid != first.pid and w,
                            timeout=30)
        assert second.is_running()
        log = (tmp_path / "dev.log").read_text(errors="replace")
        assert "worker stopped (exit -9); restarting" in log
        _everything_up(ports[0])
    finally:
        os.killpg(shell.pid, signal.SIGINT)
        shell.wait(timeout=60)
    eventually(lambda: _leftovers(tmp_path, ports) == [], timeout=15)
