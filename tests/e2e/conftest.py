"""Whole calls: the app on a real port, the local Twilio simulator calling it over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from rq import SimpleWorker

from callcenter.config import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, Settings
from simulator import Simulator
from tests.conftest import HOTLINE
from tests.support.live import LiveServer
from webhooks.app import create_app
from workers.queues import queue, queue_names, redis_connection


@dataclass
class Hotline:
    sim: Simulator
    live: LiveServer
    settings: Settings

    def call(self, caller: str | None):
        return self.sim.incoming_call(from_=caller)

    def run_jobs(self) -> None:
        """A real RQ worker, burst mode, with its scheduler (due scheduled jobs run too)."""
        names = [n.removeprefix(self.settings.queue_prefix) for n in queue_names(self.settings)]
        worker = SimpleWorker([queue(self.settings, n) for n in names],
                              connection=redis_connection(self.settings))
        worker.work(burst=True, with_scheduler=True)


@pytest.fixture
def hotline(env, session, monkeypatch) -> Iterator[Hotline]:
    live = LiveServer()
    sim = Simulator(account_sid=DEV_ACCOUNT_SID, auth_token=DEV_AUTH_TOKEN,
                    service_url=live.url, hotline=HOTLINE)
    sim.start()
    monkeypatch.setenv("TWILIO_API_URL", sim.api_url)
    monkeypatch.setenv("PUBLIC_BASE_URL", live.url)
    settings = Settings.from_env()
    live.app = create_app(settings)
    live.start()
    try:
        yield Hotline(sim, live, settings)
    finally:
        sim.stop()
        live.stop()
