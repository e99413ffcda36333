"""The agent's leg, webhook by webhook: the offer, the key press, the bridge and its backstop.

The end-to-end behaviour through the simulator is in tests/e2e/test_agent_routing.py; these
pin what each answer to Twilio says.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.models import Agent, Contact, utcnow
from callcenter.statuses import QueueState
from callcenter.tickets import lifecycle
from callcenter.voice import agents
from tests.factories import BUDI_PHONE, make_customer
from tests.support.twilio_client import new_call_sid, signed_post
from webhooks.app import create_app


@pytest.fixture
def client(settings, session):
    return create_app(settings).test_client()


def _waiting_caller(session, lang: str = "id") -> Contact:
    budi = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id)
    ticket.reason = "asked for an agent"
    caller = Contact(channel="voice", direction="inbound", external_id=new_call_sid(),
                     from_number=BUDI_PHONE, verified=True, ticket_id=ticket.id,
                     ivr_state={"lang": lang, "customer_id": budi.id, "told": []},
                     queue_state=QueueState.WAITING, queued_at=utcnow())
    session.add(caller)
    session.commit()
    return caller


def _ringing_leg(session) -> tuple[Agent, str]:
    agent = agents.add_agent(session, "Sari", phone="+628110000001", available=True)
    session.commit()
    [(agent_id, token)] = agents.claim_agents(session)
    leg_sid = new_call_sid()
    agents.agent_leg_placed(session, agent_id, token, leg_sid)
    session.commit()
    return agent, leg_sid


def _post(client, path: str, params: dict[str, str]) -> str:
    reply = signed_post(client, path, params)
    assert reply.status_code == 200 and reply.mimetype == "application/xml"
    return reply.get_data(as_text=True)


def test_the_answered_agent_phone_asks_for_a_key_before_anything_else(client, session):
    _waiting_caller(session)
    _, leg_sid = _ringing_leg(session)
    xml = _post(client, "/twilio/voice/agent/answer", {"CallSid": leg_sid})
    assert '<Gather action="/twilio/voice/agent/accept"' in xml
    assert 'actionOnEmptyResult="true"' in xml and 'numDigits="1"' in xml
    assert "Tekan 1 untuk menerima panggilan" in xml
    assert "<Dial" not in xml and "Budi" not in xml  # nothing about the caller yet


def test_no_key_sets_the_agent_away_and_leaves_the_caller_waiting(client, session):
    caller = _waiting_caller(session)
    agent, leg_sid = _ringing_leg(session)
    xml = _post(client, "/twilio/voice/agent/accept", {"CallSid": leg_sid, "Digits": ""})
    assert "Panggilan tidak diterima" in xml and "<Hangup" in xml
    session.expire_all()
    assert not session.get(Agent, agent.id).available
    assert session.get(Contact, caller.id).queue_state == QueueState.WAITING


def test_the_whisper_then_the_bridge_to_the_callers_own_queue_with_a_short_timeout(client,
                                                                                   session):
    caller = _waiting_caller(session)
    _, leg_sid = _ringing_leg(session)
    whisper = _post(client, "/twilio/voice/agent/accept", {"CallSid": leg_sid, "Digits": "1"})
    assert "Pelanggan terverifikasi: Budi Santoso" in whisper
    assert '<Redirect method="POST">/twilio/voice/agent/bridge</Redirect>' in whisper
    bridge = _post(client, "/twilio/voice/agent/bridge", {"CallSid": leg_sid})
    assert '<Dial action="/twilio/voice/agent/done" method="POST" timeout="5">' in bridge
    assert (f'<Queue method="POST" url="/twilio/voice/queue/connecting">'
            f'support-{caller.external_id}</Queue>') in bridge


def test_a_dial_that_found_nobody_tells_the_agent_and_gives_up_the_caller(client, session):
    """The backstop: the caller vanished between the check and the bridge, Twilio's Dial
    timed out on their empty queue (or found it deleted)."""
    caller = _waiting_caller(session)
    _, leg_sid = _ringing_leg(session)
    _post(client, "/twilio/voice/agent/accept", {"CallSid": leg_sid, "Digits": "1"})
    for status in ("no-answer", "failed"):
        xml = _post(client, "/twilio/voice/agent/done",
                    {"CallSid": leg_sid, "DialCallStatus": status, "DialBridged": "false"})
        assert "Penelepon sudah menutup telepon" in xml and "<Hangup" in xml
    session.expire_all()
    assert session.get(Contact, caller.id).queue_state == QueueState.ABANDONED
    leg = session.scalars(select(Contact).where(Contact.external_id == leg_sid)).one()
    assert leg.queue_state == QueueState.NO_CALLER


def test_the_queue_url_speaks_to_the_caller_in_their_language_and_links_the_legs(client,
                                                                                 session):
    caller = _waiting_caller(session, lang="en")
    agent, leg_sid = _ringing_leg(session)
    xml = _post(client, "/twilio/voice/queue/connecting",
                {"CallSid": caller.external_id, "DequeingCallSid": leg_sid,
                 "QueueSid": "QU" + "1" * 32, "QueueTime": "12"})
    assert "You are now being connected" in xml and 'language="en-US"' in xml
    assert "<Hangup" not in xml and "<Gather" not in xml  # Play, Say, Pause, Redirect only
    session.expire_all()
    assert session.get(Contact, caller.id).queue_state == QueueState.BRIDGED
    assert session.get(Contact, caller.id).agent_id == agent.id


def test_billed_minutes_are_never_taken_for_seconds(client, session):
    """docs/voice/api/call-resource#statuscallback: CallDuration is seconds, Duration is billed
    minutes; a callback without CallDuration leaves the duration unknown."""
    sid = new_call_sid()
    for params, expected in (({"Duration": "1"}, None),
                             ({"Duration": "1", "CallDuration": "42"}, 42)):
        signed_post(client, "/twilio/voice/status", {
            "CallSid": sid, "CallStatus": "completed", "Direction": "inbound",
            "SequenceNumber": str(expected), **params})
        contact = session.scalars(select(Contact).where(Contact.external_id == sid)).one()
        session.refresh(contact)
        assert contact.duration_s == expected


def test_a_caller_queued_by_the_error_turn_is_counted_as_waiting(client, session):
    """An error on our side queues the caller before anything is written down: their first
    wait-music request puts them in our books, so an agent is rung for them."""
    sid = new_call_sid()
    xml = _post(client, "/twilio/voice/queue/wait",
                {"CallSid": sid, "From": BUDI_PHONE, "To": "+622150001234",
                 "QueueSid": "QU" + "2" * 32, "QueuePosition": "1", "QueueTime": "0"})
    assert "antrean nomor 1" in xml or "sibuk" in xml
    contact = session.scalars(select(Contact).where(Contact.external_id == sid)).one()
    assert contact.queue_state == QueueState.WAITING and agents.callers_waiting(session) == 1
    assert contact.ivr_state["queue_sid"] == "QU" + "2" * 32
