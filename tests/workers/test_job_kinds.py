"""Jobs are enqueued by name, and a job already in Redis outlives a release.

RQ stores each job's dotted function path and arguments in Redis; after a deploy the new
workers run what the old release enqueued. So the paths never change, and a job still accepts
the arguments older releases gave it (the base URL, which jobs now take from
``PUBLIC_BASE_URL``).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rq.utils import import_attribute

from callcenter.callbacks import policy
from callcenter.tickets import lifecycle
from tests.e2e.test_agent_routing import AGENT_PHONE, _accept, _wait_queued, ask_for_an_agent
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.waiting import eventually
from workers.queues import JOBS, URGENT, queue

WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
OLD_RELEASE_BASE_URL = "http://old-release.invalid"  # what jobs carried before; now ignored

# The job paths jobs already in Redis carry: renaming one strands them.
STORED_JOB_PATHS = {
    "workers.messages.send_message",
    "workers.email.send_email",
    "workers.media.fetch_media",
    "workers.agents.dispatch_agents",
    "workers.callbacks.place_callback",
}


def test_every_job_kind_names_a_job_function_the_worker_can_import():
    for kind, spec in JOBS.items():
        assert callable(import_attribute(spec.func)), kind


def test_job_paths_stay_those_that_jobs_already_in_redis_carry():
    assert {spec.func for spec in JOBS.values()} == STORED_JOB_PATHS


@pytest.fixture
def open_hours():
    with time_machine.travel(WEDNESDAY_MORNING, tick=True):
        yield


def test_a_callback_job_from_the_previous_release_still_calls_back(hotline, session,
                                                                   open_hours):
    """Its base URL argument is ignored: the call's webhooks go to PUBLIC_BASE_URL, so the
    customer hears the callback greeting."""
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    callback, _ = policy.request_callback(session, hotline.settings, ticket,
                                          reason="more_explanation")
    session.commit()
    queue(hotline.settings, URGENT).enqueue("workers.callbacks.place_callback", callback.id,
                                            OLD_RELEASE_BASE_URL)
    hotline.run_jobs()
    call = hotline.sim.wait_for_call(to=BUDI_PHONE)
    assert "Order ID" in call.wait_for_prompt()
    call.press(BUDI_ORDER + "#")
    assert "Apakah Anda Budi Santoso" in call.wait_for_prompt()


def test_an_agent_dispatch_from_the_previous_release_still_rings_the_agent(hotline, session,
                                                                           redis_conn):
    call = ask_for_an_agent(hotline, session)
    _wait_queued(session, call)
    redis_conn.flushdb()  # only the old release's job is left to route the caller
    queue(hotline.settings, URGENT).enqueue("workers.agents.dispatch_agents",
                                            OLD_RELEASE_BASE_URL)
    hotline.run_jobs()
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    _accept(agent_call)
    # The whisper's TwiML is fetched from PUBLIC_BASE_URL, not the old release's base URL.
    eventually(lambda: "Pelanggan terverifikasi: Budi Santoso" in " ".join(agent_call.said))
