"""The README's promise: `callcenter dev` runs everything, a call hears the bill and a ticket
number, and stopping it leaves nothing running (not even the embedded Redis)."""

from __future__ import annotations

import os
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
        assert requests.get(f"http://127.0.0.1:{web}/api/health", timeout=5).json() == {
            "db": "ok", "redis": "ok"}
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
