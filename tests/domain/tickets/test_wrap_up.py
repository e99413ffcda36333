"""Wrap-up (P1.7, P1.8) through the real routing: an agent whose call ended is skipped by
:func:`agents.claim_agents` until they finish the card or ``WRAP_UP_SECONDS`` pass, and the
card's next step is one of the ticket actions (resolve, callback, documents)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.content import Content
from callcenter.models import Agent, AuditEntry, Callback, Contact, OutboundMessage, utcnow
from callcenter.people import users
from callcenter.tickets import actions, lifecycle
from callcenter.tickets.actions import ActionRefused
from callcenter.voice import agents, calls, wrap_up
from tests.factories import BUDI_PHONE, make_customer

PASSWORD = "a long enough password"


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


def _waiting_caller(session, customer, ticket=None) -> Contact:
    ticket = ticket or lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    caller = Contact(channel="voice", direction="inbound", external_id=_sid(),
                     from_number=BUDI_PHONE, verified=True, ticket_id=ticket.id,
                     queue_state="waiting", queued_at=utcnow(),
                     ivr_state={"lang": "id", "customer_id": customer.id})
    session.add(caller)
    session.commit()
    return caller


def _talk_and_hang_up(session, settings, agent: Agent) -> calls.StatusEffects:
    """The dispatcher rings the agent, they accept, are bridged, and the call ends (the
    agent leg's final status callback, as Twilio sends it)."""
    claimed = agents.claim_agents(session)
    assert [a for a, _ in claimed] == [agent.id]
    session.commit()
    leg_sid = _sid()
    agents.agent_leg_placed(session, agent.id, claimed[0][1], leg_sid)
    leg = agents.find_leg(session, leg_sid)
    caller = agents.offer_next_caller(session, settings, leg)
    assert caller is not None
    agents.connect(session, caller.external_id, leg_sid)
    session.commit()
    effects = calls.record_status(session, settings, {
        "CallSid": leg_sid, "CallStatus": "completed", "SequenceNumber": "3",
        "CallDuration": "95"})
    session.commit()
    session.expire_all()
    return effects


@pytest.fixture
def floor(session):
    budi = make_customer(session)
    agent = agents.add_agent(session, "Sari", phone="+628110000001", available=True)
    user = users.create_user(session, "sari", PASSWORD, "agent")
    user.agent_id = agent.id
    session.commit()
    return budi, agent, user


def test_an_agent_in_wrap_up_is_skipped_by_routing_until_they_finish(session, settings, floor):
    budi, agent, user = floor
    _waiting_caller(session, budi)
    effects = _talk_and_hang_up(session, settings, agent)
    agent = session.get(Agent, agent.id)
    assert agent.wrap_up_until is not None
    assert timedelta(seconds=55) < agent.wrap_up_until - utcnow() <= timedelta(seconds=60)
    assert effects.dispatch_at == agent.wrap_up_until  # ring again when it times out

    second = _waiting_caller(session, budi)  # another caller waits meanwhile
    assert agents.claim_agents(session) == []
    assert not agents.any_agent_free(session)
    session.rollback()

    done = wrap_up.finish(session, settings, Content.load(), user, agent, wrap_up.Answers(
        note="Tanya tagihan, sudah dijelaskan.", next_step="wait"))
    session.commit()
    assert done.dispatch and session.get(Agent, agent.id).wrap_up_until is None
    assert [a for a, _ in agents.claim_agents(session)] == [agent.id]
    assert second.queue_state == "waiting"


def test_a_forgotten_wrap_up_times_out_and_the_agent_is_offered_calls_again(session, settings,
                                                                          floor):
    budi, agent, _user = floor
    quick = dataclasses.replace(settings, wrap_up_s=1)
    _waiting_caller(session, budi)
    _talk_and_hang_up(session, quick, agent)
    _waiting_caller(session, budi)
    assert agents.claim_agents(session) == []
    session.rollback()
    time.sleep(1.2)
    assert [a for a, _ in agents.claim_agents(session)] == [agent.id]
    # The card is still there to finish (the record is not lost), it just no longer holds.
    card = wrap_up.current_card(session, session.get(Agent, agent.id))
    assert card is not None and not card.held


def test_a_missed_offer_is_no_call_to_wrap_up(session, settings, floor):
    budi, agent, _user = floor
    _waiting_caller(session, budi)
    claimed = agents.claim_agents(session)
    session.commit()
    leg_sid = _sid()
    agents.agent_leg_placed(session, agent.id, claimed[0][1], leg_sid)
    session.commit()
    calls.record_status(session, settings, {"CallSid": leg_sid, "CallStatus": "no-answer",
                                            "SequenceNumber": "2"})
    session.commit()
    session.expire_all()
    assert session.get(Agent, agent.id).wrap_up_leg_id is None


def test_the_card_shows_the_customers_other_open_tickets_and_contacts_on_every_channel(
        session, settings, floor):
    budi, agent, _user = floor
    older = lifecycle.open_ticket(session, channel="email", customer_id=budi.id)
    session.add(Contact(ticket_id=older.id, channel="email", direction="inbound",
                        status="received", subject="Bukti transfer", sender="budi@example.com"))
    settled = lifecycle.open_ticket(session, channel="sms", customer_id=budi.id)
    lifecycle.resolve(session, settled, "Selesai.")
    session.commit()
    _waiting_caller(session, budi)
    _talk_and_hang_up(session, settings, agent)
    card = wrap_up.current_card(session, session.get(Agent, agent.id))
    assert card is not None and card.customer.id == budi.id
    assert [t.number for t in card.other_tickets] == [older.number]  # not the resolved one
    channels = {contact.channel for contact, _number in card.recent}
    assert {"email", "voice"} <= channels
    assert older.number in {number for _contact, number in card.recent}


def test_resolving_in_the_wrap_up_needs_anything_else_asked_and_writes_nothing_if_refused(
        session, settings, floor):
    budi, agent, user = floor
    caller = _waiting_caller(session, budi)
    _talk_and_hang_up(session, settings, agent)
    agent = session.get(Agent, agent.id)
    with pytest.raises(ActionRefused, match="anything else"):
        wrap_up.finish(session, settings, Content.load(), user, agent, wrap_up.Answers(
            note="Catatan", summary="Sudah dijelaskan.", next_step="resolve"))
    session.rollback()
    with pytest.raises(ActionRefused, match="summary"):
        wrap_up.finish(session, settings, Content.load(), user, agent, wrap_up.Answers(
            note="Catatan", anything_else_asked=True, next_step="resolve"))
    session.rollback()
    session.expire_all()
    agent = session.get(Agent, agent.id)
    assert agent.wrap_up_leg_id is not None  # the card stays
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "add_note")).all() == []

    done = wrap_up.finish(session, settings, Content.load(), user, agent, wrap_up.Answers(
        note="Nasabah tanya denda.", category="interest_penalty", anything_else_asked=True,
        summary="Denda dihapus, tagihan Rp 1.250.000.", next_step="resolve"))
    session.commit()
    session.expire_all()
    ticket = session.get(Contact, caller.id).ticket
    assert done.resolved is not None and ticket.status == "resolved"
    # resolving from the card tells the customer, as the ticket page's resolve does (P1.8)
    assert done.resolved.notice is not None, done.resolved.why_not
    assert ticket.summary == "Denda dihapus, tagihan Rp 1.250.000."
    assert ticket.category == "interest_penalty"
    assert [n.text for n in ticket.notes] == ["Nasabah tanya denda."]
    actions_done = [e.action for e in session.scalars(
        select(AuditEntry).where(AuditEntry.actor == "user:sari").order_by(AuditEntry.id))]
    assert actions_done == ["add_note", "set_category", "resolve_ticket", "finish_wrap_up"]
    leg = session.get(Contact, session.get(Agent, agent.id).wrap_up_leg_id or 0)
    assert leg is None  # the card is finished


def test_the_next_step_can_be_a_callback_or_documents(session, settings, floor):
    budi, agent, user = floor
    caller = _waiting_caller(session, budi)
    _talk_and_hang_up(session, settings, agent)
    done = wrap_up.finish(session, settings, Content.load(), user,
                          session.get(Agent, agent.id),
                          wrap_up.Answers(next_step="callback", anything_else_asked=True))
    session.commit()
    assert done.callback is not None and done.callback.created
    assert session.scalars(select(Callback)).one().reason == "more_explanation"

    _waiting_caller(session, budi, ticket=session.get(Contact, caller.id).ticket)
    _talk_and_hang_up(session, settings, agent)
    done = wrap_up.finish(session, settings, Content.load(), user,
                          session.get(Agent, agent.id),
                          wrap_up.Answers(next_step="documents", documents=["KTP"]))
    session.commit()
    assert done.documents is not None and done.documents.missing == ["KTP"]
    assert session.get(Contact, caller.id).ticket.status == "pending_documents"
    sms = session.scalars(select(OutboundMessage)).one()
    assert "KTP" in sms.body
    assert actions.category_choices()[0] != "unverified"


def test_the_floor_does_not_count_an_agent_wrapping_up_as_available(session, settings, floor):
    from callcenter.floor_stats import floor_stats

    budi, agent, _user = floor
    assert floor_stats(session, settings).agents_available == 1
    _waiting_caller(session, budi)
    _talk_and_hang_up(session, settings, agent)
    assert floor_stats(session, settings).agents_available == 0
