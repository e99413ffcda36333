"""What a caller in the agent queue hears: "all our agents are busy" only when
it is true: not while an agent is already being rung for them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.models import Contact, utcnow
from callcenter.voice import agents
from tests.support.twilio_client import signed_post
from webhooks.app import create_app

BUSY = "Semua petugas kami sedang sibuk"
CALLER = "CA" + "a" * 32


@pytest.fixture
def client(settings, session):
    session.add(Contact(channel="voice", direction="inbound", kind="customer",
                        external_id=CALLER, queue_state="waiting", queued_at=utcnow(),
                        ivr_state={"lang": "id"}))
    session.commit()
    return create_app(settings).test_client()


def _hold(client, position: int) -> str:
    """The wait music's request; Twilio's QueuePosition is 1 in a caller's own queue, so the
    position the caller hears is counted in our books."""
    reply = signed_post(client, "/twilio/voice/queue/wait",
                        {"CallSid": CALLER, "QueuePosition": "1", "QueueTime": "5",
                         "QueueSid": "QU" + "b" * 32})
    assert reply.status_code == 200
    said = reply.get_data(as_text=True)
    assert BUSY in said or f"antrean nomor {position}" in said
    return said


def _caller_ahead(session) -> None:
    """Someone who has waited longer than CALLER."""
    ours = session.scalars(select(Contact).where(Contact.external_id == CALLER)).one()
    session.add(Contact(channel="voice", direction="inbound", kind="customer",
                        external_id="CA" + "c" * 32, queue_state="waiting",
                        queued_at=ours.queued_at - timedelta(seconds=30),
                        ivr_state={"lang": "id"}))
    session.commit()


def _ring_an_agent(session, name: str, phone: str) -> None:
    agent = agents.add_agent(session, name, phone=phone, available=True)
    session.commit()
    [(agent_id, token)] = agents.claim_agents(session)
    agents.agent_leg_placed(session, agent_id, token, "CA" + agent.phone[-8:] * 4)
    session.commit()


def test_nobody_free_and_nobody_ringing_offers_a_callback(client):
    assert BUSY in _hold(client, 1)


def test_an_agent_ringing_for_the_first_caller_means_keep_waiting(client, session):
    _ring_an_agent(session, "Sari", "+628110000001")
    said = _hold(client, 1)
    assert BUSY not in said and "antrean nomor 1" in said


def test_the_second_caller_with_one_agent_ringing_is_offered_the_callback(client, session):
    _caller_ahead(session)
    _ring_an_agent(session, "Sari", "+628110000001")
    assert BUSY in _hold(client, 2)


def test_the_position_counts_the_callers_ahead_in_our_books(client, session):
    _caller_ahead(session)
    _ring_an_agent(session, "Sari", "+628110000001")
    _ring_an_agent(session, "Dewi", "+628110000002")
    assert "antrean nomor 2" in _hold(client, 2)
