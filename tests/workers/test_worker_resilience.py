"""A Redis restart must not end ``callcenter worker``, and its silence must show on
``/api/health``.

The worker is the Procfile's, a real process; Redis is a private server started by the test
on a free port, stopped and started again empty (a restart without persistence). Before, RQ
left its loop ("found an unhandled exception, quitting") when Redis vanished in the middle
of a job, the process exited, and nothing queued afterwards ran.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from callcenter.channels import messages
from callcenter.config import PROJECT_ROOT
from callcenter.tickets import lifecycle
from tests.e2e.test_agent_routing import AGENT_PHONE, ask_for_an_agent
from tests.factories import BUDI_PHONE
from tests.support.private_redis import PrivateRedis
from tests.support.production import production_environment
from tests.support.waiting import eventually
from tests.workers.test_worker_command import _start, _stop, procfile_worker
from workers import heartbeats
from workers.queues import DEFAULT, JOBS, queue, send_soon

HEARTBEAT_LIMIT = 4

pytestmark = pytest.mark.slow


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        private_redis: PrivateRedis) -> dict[str, str]:
    """The deployment's Redis is the test's own; beats are due every second."""
    values = {"REDIS_URL": private_redis.url, "HEARTBEAT_LIMIT": str(HEARTBEAT_LIMIT)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**env, **values}


def _queue_sms(session) -> int:
    ticket = lifecycle.open_ticket(session, channel="sms", customer_id=None)
    sms = messages.queue_message(session, ticket_id=ticket.id, to_number=BUDI_PHONE,
                                 body=f"Cankul: tiket Anda {ticket.number}")
    session.commit()
    return sms.id


def _worker_beats(settings) -> bool:
    return heartbeats.pulse(settings, heartbeats.Role.WORKER).alive > 0


def test_a_redis_restart_in_the_middle_of_a_job_leaves_the_worker_taking_jobs(
        hotline, session, private_redis):
    worker = _start(procfile_worker(hotline.settings))
    try:
        eventually(lambda: _worker_beats(hotline.settings), timeout=30)
        # A job in flight: the dispatcher rings the agent and waits for Twilio's answer...
        hotline.sim.hold_call_responses()
        ask_for_an_agent(hotline, session)
        hotline.sim.wait_for_call(to=AGENT_PHONE, timeout=30)
        private_redis.stop()  # ...while Redis goes away,
        hotline.sim.release_call_responses()  # so the job ends against a dead Redis
        time.sleep(2)
        private_redis.start()  # back, empty
        assert send_soon(hotline.settings, "sms", _queue_sms(session))
        sent = eventually(lambda: [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE],
                          timeout=60)
        assert len(sent) == 1
        assert worker.poll() is None  # the same process, never exited
        eventually(lambda: _worker_beats(hotline.settings), timeout=30)
    finally:
        _stop(worker)


def test_after_a_redis_restart_while_idle_scheduled_jobs_still_run(hotline, session,
                                                                    private_redis):
    """Idle, the worker rides out the restart inside RQ's own dequeue loop, but RQ's scheduler
    process dies with Redis; it is started again within a minute (RQ alone: ten), so a job
    scheduled for later (a callback's dial, a retry) still runs."""
    worker = _start(procfile_worker(hotline.settings))
    try:
        eventually(lambda: _worker_beats(hotline.settings), timeout=30)
        time.sleep(3)  # past its start-up bookkeeping: waiting on the queues
        private_redis.stop()
        time.sleep(12)  # longer than the Redis client's own retries (~7 s)
        private_redis.start()
        sms_id = _queue_sms(session)
        queue(hotline.settings, DEFAULT).enqueue_in(timedelta(seconds=2), JOBS["sms"].func,
                                                    sms_id)
        sent = eventually(lambda: [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE],
                          timeout=90)
        assert len(sent) == 1 and worker.poll() is None
    finally:
        _stop(worker)


def _scheduler() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "manage.cli", "scheduler", "--interval", "1"],
                            cwd=PROJECT_ROOT, env=production_environment(),
                            start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _health(hotline) -> tuple[int, dict]:
    response = requests.get(f"{hotline.live.url}/api/health", timeout=5)
    return response.status_code, response.json()


def test_health_turns_503_once_a_killed_worker_stays_silent_past_the_limit(hotline, session):
    worker = _start(procfile_worker(hotline.settings))
    scheduler = _scheduler()
    try:
        eventually(lambda: _health(hotline)[0] == 200, timeout=30, interval=0.1)
        os.killpg(worker.pid, signal.SIGKILL)  # the host lost it: no goodbye
        worker.wait(timeout=10)
        killed = time.monotonic()
        code, body = eventually(lambda: (h := _health(hotline))[0] == 503 and h, timeout=30,
                                interval=0.1)
        silent_after = time.monotonic() - killed
        assert body["worker"] == "silent" and body["scheduler"] == "ok"
        assert body["worker_last_seen_s"] >= HEARTBEAT_LIMIT
        # Not before the limit less the last beat's age (one is due every second), and not
        # long after it (a loaded machine delays the check a little).
        assert HEARTBEAT_LIMIT - 2 <= silent_after <= HEARTBEAT_LIMIT + 5
        assert code == 503
    finally:
        with contextlib.suppress(ProcessLookupError):
            _stop(worker)
        _stop(scheduler)
