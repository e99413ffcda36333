"""What a caller in the agent queue hears: "all our agents are busy" only when
it is true: not while an agent is already being rung for them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.models import Contact, Ticket, utcnow
from callcenter.statuses import QueueState
from callcenter.tickets import lifecycle
from callcenter.voice import agents
from tests.factories import make_customer
from tests.support.twilio_client import signed_post
from webhooks.app import create_app

BUSY = "Semua petugas kami sedang sibuk"
CALLER = "CA" + "a" * 32


@pytest.fixture
def client(settings, session):
    """Verified Budi waits in the queue (his ticket names him: a callback can reach him)."""
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.add(Contact(channel="voice", direction="inbound", kind="customer",
                        external_id=CALLER, queue_state="waiting", queued_at=utcnow(),
                        ivr_state={"lang": "id", "customer_id": customer.id}, verified=True,
                        ticket_id=ticket.id))
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


def test_a_caller_nobody_can_call_back_is_never_promised_a_callback(client, session):
    """A callback goes only to a customer's registered number (P2.1): a caller whose ticket
    names no customer (never verified, an unknown number) keeps hearing their place."""
    ours = session.scalars(select(Contact).where(Contact.external_id == CALLER)).one()
    session.get(Ticket, ours.ticket_id).customer_id = None
    ours.verified = False
    session.commit()
    said = _hold(client, 1)
    assert BUSY not in said and "antrean nomor 1" in said


def test_a_caller_queued_by_the_error_turn_gets_the_ticket_of_their_caller_id(
        client, session):
    """The error turn queued someone nothing was written for: their first wait-music request
    writes them down with a ticket for the one customer whose registered phone called, so the
    callback offer can be kept (to that registered number); the caller stays unverified."""
    sid = "CA" + "e" * 32
    reply = signed_post(client, "/twilio/voice/queue/wait",
                        {"CallSid": sid, "QueuePosition": "1", "QueueTime": "5",
                         "QueueSid": "QU" + "f" * 32, "From": "+6281234567890",
                         "To": "+622150001234"})
    assert BUSY in reply.get_data(as_text=True)
    session.expire_all()
    caller = session.scalars(select(Contact).where(Contact.external_id == sid)).one()
    ticket = session.get(Ticket, caller.ticket_id)
    assert caller.queue_state == QueueState.WAITING and not caller.verified
    assert ticket.customer_id is not None and ticket.reason == "error on our side"
