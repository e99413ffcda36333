"""The screen pop's query and presence kept consistent with routing.

The pop is polled by every agent every 2 s: the number of SQL statements is part of its
behaviour (pages answer in < 100 ms with 100,000 tickets), so it is counted here.
"""

from __future__ import annotations

import uuid

from callcenter.models import Agent, Contact, utcnow
from callcenter.tickets import lifecycle
from callcenter.voice import agents, calls, screen_pop
from tests.factories import BUDI_PHONE, make_customer
from tests.support.queries import counted


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


def _waiting_caller(session, *, verified: bool = True) -> tuple[Contact, str]:
    """A caller the IVR queued for an agent: verified (or not), with a ticket and a reason."""
    budi = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id if verified
                                 else None, category="inquiry" if verified else "unverified")
    ticket.reason = "asked for an agent"
    sid = _sid()
    state = {"lang": "id", "told": [{"topic": "balance", "summary": "Tagihan Rp 1.250.000"}]}
    if verified:
        state["customer_id"] = budi.id
    caller = Contact(channel="voice", direction="inbound", external_id=sid, from_number=BUDI_PHONE,
                     verified=verified, ivr_state=state, ticket_id=ticket.id,
                     queue_state="waiting", queued_at=utcnow())
    session.add(caller)
    session.commit()
    return caller, sid


def _ring(session, agent: Agent) -> str:
    """What the dispatcher does: claim the free agent, place their leg (ringing)."""
    claimed = agents.claim_agents(session)
    assert [agent_id for agent_id, _ in claimed] == [agent.id]
    leg_sid = _sid()
    session.commit()  # as workers/agents.py does, before placing the call
    session.expire_all()  # its session has no stale Agent rows (ours has: no expire on commit)
    agents.agent_leg_placed(session, agent.id, claimed[0][1], leg_sid)
    session.commit()
    return leg_sid


def test_no_call_is_one_query(session):
    agent = agents.add_agent(session, "Sari", phone="+628110000001", available=True)
    session.commit()
    with counted(session) as statements:
        assert screen_pop.current_pop(session, agent.id) is None
    assert len(statements) == 1


def test_a_ringing_leg_shows_no_identity_until_connect_links_it(session):
    _, caller_sid = _waiting_caller(session)
    agent = agents.add_agent(session, "Sari", phone="+628110000001", available=True)
    session.commit()
    leg_sid = _ring(session, agent)
    agent_id = agent.id
    session.expire_all()
    with counted(session) as statements:
        ringing = screen_pop.current_pop(session, agent_id)
    assert len(statements) == 1
    assert ringing is not None and not ringing.linked and not ringing.shows_identity
    assert ringing.verified_name is None and ringing.ticket is None

    agents.connect(session, caller_sid, leg_sid)  # the whisper: before the bridge
    session.commit()
    session.expire_all()
    with counted(session) as statements:
        pop = screen_pop.current_pop(session, agent_id)
    # leg+ticket+customer, the ticket's recent contacts, then the verified customer's tickets
    # and their last contacts on every channel
    assert len(statements) == 4
    assert pop is not None and pop.linked and pop.shows_identity
    assert pop.verified_name == "Budi Santoso" and pop.order_id == "20261001"
    assert pop.ticket is not None and pop.ticket.reason == "asked for an agent"
    assert pop.masked_phone.endswith("7890") and "12345" not in pop.masked_phone
    assert pop.told == ["Tagihan Rp 1.250.000"]
    assert pop.caller is not None and pop.caller.external_id == caller_sid
    assert pop.leg_sid == leg_sid


def test_a_verified_caller_pops_with_their_other_open_ticket_and_its_email(session):
    """The caller wrote to us last week about something else: the agent sees that ticket and
    that email while the phone is still at their ear, not only after the call (X1)."""
    caller, caller_sid = _waiting_caller(session)
    budi_id = caller.ivr_state["customer_id"]
    earlier = lifecycle.open_ticket(session, channel="email", customer_id=budi_id,
                                    category="complaint")
    session.add(Contact(channel="email", direction="inbound", ticket_id=earlier.id,
                        subject="Denda keterlambatan", started_at=utcnow()))
    settled = lifecycle.open_ticket(session, channel="voice", customer_id=budi_id)
    lifecycle.resolve(session, settled, "Sudah dijelaskan.")
    session.commit()
    agent = agents.add_agent(session, "Sari", phone="+628110000001", available=True)
    session.commit()
    agents.connect(session, caller_sid, _ring(session, agent))
    session.commit()
    pop = screen_pop.current_pop(session, agent.id)
    assert pop is not None and pop.verified_name == "Budi Santoso"
    assert [t.number for t in pop.other_tickets] == [earlier.number]  # open ones, not this one
    shown = [(contact.subject, number) for contact, number in pop.history]
    assert ("Denda keterlambatan", earlier.number) in shown
    assert any(contact.external_id == caller_sid for contact, _ in pop.history)


def test_an_unverified_caller_pops_without_a_name(session):
    _, caller_sid = _waiting_caller(session, verified=False)
    agent = agents.add_agent(session, "Sari", phone="+628110000001", available=True)
    session.commit()
    agents.connect(session, caller_sid, _ring(session, agent))
    session.commit()
    pop = screen_pop.current_pop(session, agent.id)
    assert pop is not None and pop.linked and pop.verified_name is None
    assert pop.order_id is None and pop.ticket is not None
    assert pop.other_tickets == []  # nobody's other tickets for a caller who did not verify
    assert [number for _, number in pop.history] == [pop.ticket.number]


def test_the_pop_is_only_for_the_agent_of_the_leg_and_ends_with_the_leg(session, settings):
    _, caller_sid = _waiting_caller(session)
    sari = agents.add_agent(session, "Sari", phone="+628110000001", available=True)
    dewi = agents.add_agent(session, "Dewi", phone="+628110000002", available=False)
    session.commit()
    leg_sid = _ring(session, sari)
    agents.connect(session, caller_sid, leg_sid)
    session.commit()
    assert screen_pop.current_pop(session, dewi.id) is None
    calls.record_status(session, settings, {"CallSid": leg_sid, "CallStatus": "completed",
                                            "SequenceNumber": "3", "CallDuration": "42"})
    session.commit()
    assert screen_pop.current_pop(session, sari.id) is None


def test_presence_drives_routing_and_a_missed_call_sets_away(session, settings):
    agent = agents.add_agent(session, "Sari", phone="+628110000001")
    assert agent.presence == "away" and not agent.available
    assert agents.set_presence(agent, "available") is True  # just became available
    assert agent.available and agents.any_agent_free(session)
    assert agents.set_presence(agent, "available") is False  # already was
    agents.set_presence(agent, "busy")
    assert agent.presence == "busy" and not agents.any_agent_free(session)
    agents.set_available(session, "Sari", True, actor="cli:ops")  # the CLI
    assert agent.presence == "available" and agent.available
    session.commit()
    _, _caller_sid = _waiting_caller(session)
    leg_sid = _ring(session, agent)
    calls.record_status(session, settings, {"CallSid": leg_sid, "CallStatus": "no-answer",
                                            "SequenceNumber": "2"})
    session.commit()
    session.expire_all()
    missed = session.get(Agent, agent.id)
    assert missed.presence == "away" and not missed.available
    agents.set_available(session, "Sari", False, actor="cli:ops")
    assert missed.presence == "away"


def test_a_placed_agent_leg_holds_the_agent_even_when_the_session_loaded_them_before(session):
    """The claim and the Call SID are conditional UPDATEs; a stale Agent object in the same
    session must not leave the claim token behind (the agent would never be released)."""
    agent = agents.add_agent(session, "Rina", phone="+628110000009", available=True)
    session.add(Contact(channel="voice", direction="inbound", kind="customer",
                        external_id="CA" + "1" * 32, queue_state="waiting"))
    session.commit()
    assert session.get(Agent, agent.id).current_call_sid is None  # loaded in this session
    [(agent_id, token)] = agents.claim_agents(session)
    agents.agent_leg_placed(session, agent_id, token, "CA" + "2" * 32)
    session.commit()
    session.expire_all()
    assert session.get(Agent, agent.id).current_call_sid == "CA" + "2" * 32
    agents.release_agent(session, agent.id, "CA" + "2" * 32)
    session.commit()
    session.expire_all()
    assert session.get(Agent, agent.id).current_call_sid is None
