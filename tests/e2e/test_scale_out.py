"""Several of each process behave as one: 2 gunicorns behind a load balancer, 3
``callcenter worker``s and 2 ``callcenter scheduler``s on one PostgreSQL and one Redis.

Every callback is dialled once, every waiting caller is routed to one agent once, and every
sweep effect (the conversion notice, the digest, the no-response callback, the lost email)
happens once, while both schedulers sweep every second for the whole run. The processes are
the real commands, each at the same moved clock (a Wednesday morning in Jakarta).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from redis import Redis
from rq import Worker
from sqlalchemy import select

from callcenter.callbacks import policy
from callcenter.config import PROJECT_ROOT, Settings
from callcenter.models import Callback, Ticket
from callcenter.tickets import lifecycle
from callcenter.voice import agents as agent_registry
from simulator import Simulator
from tests.factories import make_customer
from tests.support.balancer import Balancer
from tests.support.production import TEST_AUTH_TOKEN, production_environment
from tests.support.smtp import MailSink, free_port
from tests.support.sweep_world import owe_every_sweep_effect
from tests.support.waiting import eventually
from workers import heartbeats
from workers.queues import queue_names, schedule_callback_job

pytestmark = pytest.mark.slow

WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
HOTLINE = "+622150001234"
CALLBACKS = 24
CALLERS = 4
WEB_HOSTS, WORKERS, SCHEDULERS = 2, 3, 2


def _callback_phone(n: int) -> str:
    return f"+62813{n:07d}"


def _caller_phone(n: int) -> str:
    return f"+62815{n:07d}"


def _agent_phone(n: int) -> str:
    return f"+62811{n:07d}"


class Fleet:
    """The processes of the deployment, each a real command at the moved clock."""

    def __init__(self, env: dict[str, str], offset_s: float, logs: Path) -> None:
        self.env, self.offset_s, self.logs = env, offset_s, logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self.sinks: list[object] = []

    def start(self, name: str, module: str, *args: str) -> None:
        sink = (self.logs / f"{name}.log").open("wb")
        self.sinks.append(sink)
        self.processes.append(subprocess.Popen(
            [sys.executable, "-m", "tests.support.shifted_clock", str(self.offset_s), module,
             *args], cwd=PROJECT_ROOT, env=self.env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)
        for sink in self.sinks:
            sink.close()


def _seed(session, settings: Settings) -> tuple[list[Callback], object]:
    for n in range(CALLERS):
        agent_registry.add_agent(session, f"Agent {n}", phone=_agent_phone(n), available=True)
        make_customer(session, order_id=f"5{n:05d}", phone=_caller_phone(n),
                      name=f"Penelepon {n}", email=f"caller{n}@example.com")
    callbacks = []
    for n in range(CALLBACKS):
        customer = make_customer(session, order_id=f"7{n:05d}", phone=_callback_phone(n),
                                 name=f"Pelanggan {n}", email=f"cb{n}@example.com")
        ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
        callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                              earliest=WEDNESDAY_MORNING)
        callbacks.append(callback)
    world = owe_every_sweep_effect(session, WEDNESDAY_MORNING, index=7, lost_calls=False,
                                   waiting=False)
    session.commit()
    return callbacks, world


def _fleet_up(settings: Settings, web_ports: list[int]) -> bool:
    """Each web host answers, every worker and scheduler beats."""
    for port in web_ports:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
        except requests.RequestException:
            return False
    return (heartbeats.pulse(settings, heartbeats.Role.WORKER).alive >= WORKERS
            and heartbeats.pulse(settings, heartbeats.Role.SCHEDULER).alive >= SCHEDULERS)


def _ask_for_an_agent(sim: Simulator, n: int, routed: dict[int, object]) -> None:
    """A caller verifies with their Order ID and presses 0; they are routed when bridged."""
    call = sim.incoming_call(from_=_caller_phone(n))
    for keys in ("1", f"5{n:05d}#", "1", "0"):
        call.wait_for_prompt(timeout=60)
        call.press(keys)
    call.wait_for(lambda c: c.bridged, timeout=120)
    routed[n] = call


def test_two_web_hosts_three_workers_two_schedulers_do_everything_once(
        env, database_url, session, redis_conn, monkeypatch, tmp_path: Path):
    if not database_url.startswith("postgresql"):
        pytest.skip("several hosts share one PostgreSQL; SQLite is one machine's file")
    offset_s = (WEDNESDAY_MORNING - datetime.now(UTC)).total_seconds()
    mail = MailSink()
    mail.start()
    web_ports = [free_port() for _ in range(WEB_HOSTS)]
    balancer = Balancer([f"http://127.0.0.1:{port}" for port in web_ports])
    sim = Simulator(account_sid="AC" + "5" * 32, auth_token=TEST_AUTH_TOKEN,
                    service_url=balancer.url, hotline=HOTLINE, auto_agent_hangup_after=2,
                    auto_agents=[_agent_phone(n) for n in range(CALLERS)])
    world = None
    fleet: Fleet | None = None
    clock = time_machine.travel(WEDNESDAY_MORNING, tick=True)
    clock.start()
    try:
        balancer.start()
        sim.start()
        for n in range(CALLBACKS):
            sim.set_outcome(_callback_phone(n), "busy")
        process_env = production_environment(
            balancer.url, DATABASE_URL=env["DATABASE_URL"], REDIS_URL=env["REDIS_URL"],
            TWILIO_ACCOUNT_SID=sim.account_sid, TWILIO_API_URL=sim.api_url,
            SMTP_URL=mail.url, SUPERVISOR_EMAILS="spv@cankul.co.id", CALLBACK_DIAL_RATE="50")
        for name, value in process_env.items():
            monkeypatch.setenv(name, value)
        settings = Settings.from_env()
        callbacks, world = _seed(session, settings)
        # Half the callbacks queued by the web side as it writes them; the schedulers'
        # reconcilers find the other half (a job lost with Redis).
        for callback in callbacks[: CALLBACKS // 2]:
            schedule_callback_job(settings, callback)
        fleet = Fleet(process_env, offset_s, tmp_path)
        for i, port in enumerate(web_ports):
            fleet.start(f"web{i}", "gunicorn", "webhooks.wsgi:app", "--config",
                        "python:webhooks.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
                        "--workers", "2", "--no-control-socket")
        for i in range(WORKERS):
            fleet.start(f"worker{i}", "manage.cli", "worker")
        for i in range(SCHEDULERS):
            fleet.start(f"scheduler{i}", "manage.cli", "scheduler", "--interval", "1")

        eventually(lambda: _fleet_up(settings, web_ports), timeout=90, interval=0.3)
        routed: dict[int, object] = {}
        callers = [threading.Thread(target=_ask_for_an_agent, args=(sim, n, routed))
                   for n in range(CALLERS)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=180)

        def dialled(phone: str) -> int:
            return len(sim.find_calls(to=phone, direction="outbound-api"))

        silent_phone = world.phones[2]
        eventually(lambda: all(dialled(_callback_phone(n)) for n in range(CALLBACKS))
                   and dialled(silent_phone), timeout=120)
        eventually(lambda: len(mail.messages) >= 2, timeout=60)  # the digest, the lost email
        eventually(lambda: [m for m in sim.messages if m["to"] == world.phones[3]], timeout=60)
        time.sleep(8)  # both schedulers keep sweeping: a second effect would show now
        worker_jobs = {w.name: w.successful_job_count for w in Worker.all(
            connection=Redis.from_url(env["REDIS_URL"])) if set(w.queue_names())
            == set(queue_names(settings))}
    finally:
        if fleet is not None:
            fleet.stop()
        sim.stop()
        balancer.stop()
        mail.stop()
        clock.stop()

    # Every callback dialled exactly once (each ended busy: its next try is 10 minutes off).
    assert [dialled(_callback_phone(n)) for n in range(CALLBACKS)] == [1] * CALLBACKS
    # Every caller routed once: bridged to one agent, each agent to one caller.
    assert sorted(routed) == list(range(CALLERS))
    bridges = [e for call in routed.values() for e in call.events if e["type"] == "bridge"]
    assert len(bridges) == CALLERS
    assert len({e["with_sid"] for e in bridges}) == CALLERS
    agent_legs = [c for n in range(CALLERS) for c in sim.find_calls(to=_agent_phone(n))]
    assert sum(1 for leg in agent_legs if leg.bridged) == CALLERS
    # Every sweep effect once.
    session.expire_all()
    no_response = session.scalars(select(Callback).where(
        Callback.ticket_id == world.silent_ticket_id, Callback.reason == "no_response")).all()
    assert len(no_response) == 1 and dialled(silent_phone) == 1
    assert session.get(Ticket, world.oral_ticket_id).kind == "written"
    notices = [m for m in sim.messages if m["to"] == world.phones[3]]
    assert len(notices) == 1 and "tertulis" in notices[0]["body"]
    digests = [m for m in mail.messages if m["Subject"].startswith("[Pengaduan]")]
    lost_emails = [m for m in mail.messages if m["Subject"] == "Pertanyaan"]
    assert len(digests) == 1 and len(lost_emails) == 1
    # The work was shared: both web hosts answered Twilio, and more than one worker ran jobs.
    assert all(balancer.served[f"http://127.0.0.1:{port}"] > 0 for port in web_ports)
    assert sum(1 for count in worker_jobs.values() if count) >= 2, worker_jobs
    print(f"\nscale-out: {CALLBACKS} callbacks dialled once each, {CALLERS} callers routed "
          f"once each; web requests by host {dict(balancer.served)}; jobs by worker "
          f"{sorted(worker_jobs.values())}")
