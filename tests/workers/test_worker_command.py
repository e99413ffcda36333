"""``callcenter worker`` takes the jobs this deployment queues, prefix and all.

With ``CALLCENTER_RQ_PREFIX`` set, every job goes to ``<prefix>urgent`` or ``<prefix>default``.
The Procfile's worker and the dev run's used to listen on ``urgent default`` as written, so
with a prefix no SMS was sent and no agent rung. Both are started here as real processes, as
a deployment starts them, and the jobs the service queues must have their effect.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from callcenter.channels import messages
from callcenter.config import PROJECT_ROOT, Settings
from callcenter.tickets import lifecycle
from manage.dev import dev_processes
from tests.e2e.test_agent_routing import AGENT_PHONE, ask_for_an_agent
from tests.factories import BUDI_PHONE
from tests.support.production import production_environment
from tests.support.waiting import eventually
from workers.queues import send_soon

PREFIX = "cankul-a:"


@pytest.fixture
def env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The deployment shares its Redis with another one: its queues carry a prefix."""
    monkeypatch.setenv("CALLCENTER_RQ_PREFIX", PREFIX)
    return {**env, "CALLCENTER_RQ_PREFIX": PREFIX}


def procfile_worker(_settings: Settings) -> str:
    for line in (PROJECT_ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "worker":
            return command.strip()
    raise AssertionError("the Procfile has no worker")


def dev_run_worker(settings: Settings) -> str:
    return dev_processes(settings, port=5000, simulator_port=8081, mail_port=None)["worker"]


def _start(command: str) -> subprocess.Popen[bytes]:
    """As honcho or a platform runs a Procfile line: through the shell, with the
    environment (the virtualenv's commands on the PATH, as after installing)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.Popen(["/bin/sh", "-c", command], cwd=PROJECT_ROOT,
                            env=production_environment(PATH=path), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM as a platform does (RQ finishes the job at hand), then SIGKILL what is left
    of the process group (the worker's scheduler is a child process)."""
    os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.parametrize("worker_command", [procfile_worker, dev_run_worker],
                         ids=["Procfile", "dev run"])
def test_the_worker_sends_the_sms_and_rings_the_agent_the_service_queued_under_a_prefix(
        hotline, session, worker_command: Callable[[Settings], str]):
    assert hotline.settings.queue_prefix == PREFIX
    worker = _start(worker_command(hotline.settings))
    try:
        # The urgent queue: a verified caller asks for an agent; the webhook queues the
        # dispatcher, which rings the free agent.
        ask_for_an_agent(hotline, session)
        assert hotline.sim.wait_for_call(to=AGENT_PHONE, timeout=60)
        # The default queue: an outbox SMS, queued after its commit as the web side does.
        ticket = lifecycle.open_ticket(session, channel="sms", customer_id=None)
        sms = messages.queue_message(session, ticket_id=ticket.id, to_number=BUDI_PHONE,
                                     body=f"Cankul: tiket Anda {ticket.number}")
        session.commit()
        assert send_soon(hotline.settings, "sms", sms.id)
        eventually(lambda: [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE],
                   timeout=60)
    finally:
        _stop(worker)
