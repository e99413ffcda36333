"""URLs given to Twilio come from ``PUBLIC_BASE_URL``, never from a request's ``Host``
(CONTRACT "Additions", "Production settings"; issue 12 item 1).

Every request reaches the service through a proxy that passes on a forged
``Host: attacker.example``, as a stranger (or a careless proxy) would send it. Had any URL been
built from ``Host``, the simulator (Twilio) would fetch the callback's or the agent's TwiML
from the attacker's host: the placed calls' URLs in its records say where it went.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine

from callcenter.config import DEV_ACCOUNT_SID, Settings
from callcenter.people import users
from callcenter.tickets import lifecycle
from simulator import Simulator
from tests.conftest import HOTLINE, Hotline
from tests.e2e.test_agent_routing import AGENT_PHONE, _accept, _add_agent, _queued_caller
from tests.factories import BUDI_PHONE, make_customer
from tests.support.balancer import Balancer
from tests.support.live import LiveServer
from tests.support.production import TEST_AUTH_TOKEN
from webhooks.app import create_app

FORGED_HOST = "attacker.example"
WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
SARI = ("sari", "long enough password")


@pytest.fixture
def forged_host(env, session, monkeypatch) -> Iterator[tuple[Hotline, Balancer]]:
    """The service behind a proxy at ``PUBLIC_BASE_URL`` that forwards every request with
    ``Host: attacker.example``; the simulator (Twilio) knows only the proxy's address."""
    live = LiveServer()
    proxy = Balancer([live.url], host=FORGED_HOST)
    sim = Simulator(account_sid=DEV_ACCOUNT_SID, auth_token=TEST_AUTH_TOKEN,
                    service_url=proxy.url, hotline=HOTLINE)
    sim.start()
    proxy.start()
    monkeypatch.setenv("TWILIO_API_URL", sim.api_url)
    monkeypatch.setenv("PUBLIC_BASE_URL", proxy.url)
    settings = Settings.from_env()
    live.app = create_app(settings)
    live.start()
    try:
        yield Hotline(sim, live, settings), proxy
    finally:
        sim.stop()
        proxy.stop()
        live.stop()


def _placed_urls(hotline: Hotline) -> list[str]:
    """What the service gave Twilio for the calls it placed (TwiML and status callback URLs)
    and every URL Twilio then requested for them."""
    return [url for call in hotline.sim.find_calls(direction="outbound-api")
            for url in (call.url, call.status_callback, *(r[0] for r in call.requests))
            if url]


def test_a_callback_asked_for_with_a_forged_host_fetches_its_twiml_from_public_base_url(
        forged_host, session):
    hotline, proxy = forged_host
    customer = make_customer(session)
    users.create_user(session, *SARI, "agent")
    session.commit()
    with time_machine.travel(WEDNESDAY_MORNING, tick=True):
        ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
        session.commit()
        asked = requests.post(f"{proxy.url}/api/tickets/{ticket.number}/callbacks",
                              auth=SARI, json={}, timeout=10)
        assert asked.status_code == 201
        hotline.run_jobs()
        call = hotline.sim.wait_for_call(to=BUDI_PHONE)
        assert call.url.startswith(proxy.url + "/")
        assert "Budi" in call.wait_for_prompt()  # the callback's TwiML was fetched and heard
    assert _placed_urls(hotline) and all(url.startswith(proxy.url + "/")
                                         for url in _placed_urls(hotline))
    assert not any(FORGED_HOST in url for url in _placed_urls(hotline))


def test_an_agent_rung_for_a_caller_behind_a_forged_host_hears_twiml_from_public_base_url(
        forged_host, session):
    hotline, proxy = forged_host
    make_customer(session)
    _add_agent(session)
    call = _queued_caller(hotline, session)
    hotline.run_jobs()  # the dispatcher rings the free agent
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    assert agent_call.url.startswith(proxy.url + "/")
    _accept(agent_call)  # the whisper and the accept prompt came from the service
    agent_call.wait_for(lambda c: c.bridged)
    call.wait_for(lambda c: c.bridged)
    assert not any(FORGED_HOST in url for url in _placed_urls(hotline))
    assert proxy.served[hotline.live.url] > 0  # every webhook went through the proxy
