"""Periodic safety nets: whatever a lost trigger missed, the next sweep catches."""

from __future__ import annotations

import logging
import signal
import time

from callcenter.config import Settings
from workers.queues import enqueue_dispatch_agents

log = logging.getLogger(__name__)


def sweep_once(settings: Settings) -> None:
    """Route waiting callers (a dispatch job lost with a Redis restart is re-created)."""
    base = settings.public_base_url or "http://127.0.0.1:5000"
    enqueue_dispatch_agents(settings, base)


def run_forever(interval: float) -> None:
    stop = False

    def _stop(*_args: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop:
        try:
            sweep_once(Settings.from_env())
        except Exception:
            log.exception("sweep failed; retrying at the next interval")
        slept = 0.0
        while slept < interval and not stop:
            time.sleep(0.5)
            slept += 0.5
