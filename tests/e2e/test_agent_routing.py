"""Callers routed to agents and repeat contacts (P1.6, X1), through the simulator."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.models import Agent, Callback, Contact, Ticket
from callcenter.tickets import lifecycle
from callcenter.voice import agents as agent_registry
from tests.e2e.test_inbound_hotline import _closing, _verify
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.waiting import eventually
from workers.queues import enqueue_dispatch_agents

AGENT_PHONE = "+628110000001"
SPACED = " ".join


def _add_agent(session, available: bool = True) -> Agent:
    agent = agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE, available=available)
    session.commit()
    return agent


def ask_for_an_agent(hotline, session):
    """Verified Budi presses 0 while agent Sari is free; returns his call."""
    make_customer(session)
    _add_agent(session)
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("0")
    return call


def _caller_contact(session, sid: str) -> Contact | None:
    session.expire_all()
    return session.scalars(select(Contact).where(Contact.external_id == sid)).first()


def _wait_queued(session, call) -> None:
    eventually(lambda: (_caller_contact(session, call.sid) or Contact()).queue_state
               == "waiting")


def test_agent_hears_whisper_then_caller_is_asked_anything_else(hotline, session):
    make_customer(session)
    agent = _add_agent(session)
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("0")
    _wait_queued(session, call)
    hotline.run_jobs()  # the dispatcher rings the free agent
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    ticket = eventually(lambda: session.scalars(select(Ticket)).first())
    whisper = eventually(lambda: " ".join(agent_call.said))
    assert f"Tiket {SPACED(ticket.number)}" in whisper
    assert "Pelanggan terverifikasi: Budi Santoso" in whisper
    assert "Alasan: asked for an agent" in whisper
    assert "Budi Santoso" not in " ".join(call.said[-3:])  # the caller does not hear it
    agent_call.hang_up()
    after = call.wait_for_prompt()
    assert "berbicara dengan petugas" in after and "hal lain" in after  # P1.7
    call.press("2")
    call.wait_ended()
    leg = eventually(lambda: _caller_contact(session, agent_call.sid))
    assert leg.kind == "agent_leg" and leg.ticket_id == ticket.id and leg.agent_id == agent.id
    eventually(lambda: session.get(Agent, agent.id) and _released(session, agent.id))


def _released(session, agent_id: int) -> bool:
    session.expire_all()
    return session.get(Agent, agent_id).current_call_sid is None


def test_unverified_caller_reaches_agent_with_a_warning_in_the_whisper(hotline, session):
    make_customer(session)
    _add_agent(session)
    call = hotline.call(BUDI_PHONE)
    call.wait_for_prompt()
    call.press("1")
    call.wait_for_prompt()
    for wrong in ("1#", "2#", "3#"):
        call.press(wrong)
        if wrong != "3#":
            call.wait_for_prompt()
    _wait_queued(session, call)
    hotline.run_jobs()
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    whisper = eventually(lambda: " ".join(agent_call.said))
    assert "belum terverifikasi" in whisper and "Budi" not in whisper
    agent_call.hang_up()
    call.hang_up()


def test_no_free_agent_offers_a_callback_that_keeps_the_promise(hotline, session):
    make_customer(session)
    _add_agent(session, available=False)
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("0")
    offer = call.wait_for_prompt()
    assert "Tekan 1 agar kami menelepon Anda kembali" in offer
    closing = _closing(call, "1")
    assert "menelepon Anda kembali" in closing and "Nomor tiket Anda" in closing
    callback = session.scalars(select(Callback)).one()
    assert callback.reason == "more_explanation" and callback.phone == BUDI_PHONE


def test_repeat_caller_continues_the_open_ticket_without_explaining(hotline, session):
    """P1.6/X1: the second call lands on the first call's ticket, and the agent knows it."""
    make_customer(session)
    first = hotline.call(BUDI_PHONE)
    _verify(first)
    first.press("7")  # app failure: moved to email, ticket stays open
    first.wait_for_prompt()
    first.press("2")
    first.wait_ended()
    ticket = session.scalars(select(Ticket)).one()
    _add_agent(session)
    second = hotline.call(BUDI_PHONE)
    offer = _verify(second)
    assert SPACED(ticket.number) in offer
    # The status and the regulatory due date, at any time (POJK 18/2018).
    assert "Status: menunggu balasan Anda" in offer
    assert "paling lambat diselesaikan pada" in offer
    second.press("1")
    _wait_queued(session, second)
    hotline.run_jobs()
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    whisper = eventually(lambda: " ".join(agent_call.said))
    assert "app_failure" in whisper and "gangguan aplikasi" in whisper
    agent_call.hang_up()
    second.hang_up()
    session.expire_all()
    assert session.scalars(select(Ticket)).all() == [ticket]
    legs = session.scalars(select(Contact).where(Contact.ticket_id == ticket.id,
                                                 Contact.channel == "voice",
                                                 Contact.kind == "customer")).all()
    assert {c.external_id for c in legs} == {first.sid, second.sid}


def test_typed_ticket_number_is_checked_before_any_lookup(hotline, session):
    budi = make_customer(session)
    other = make_customer(session, order_id="777", phone="+6281311112222", name="Siti")
    own = lifecycle.open_ticket(session, channel="email", customer_id=budi.id)
    theirs = lifecycle.open_ticket(session, channel="email", customer_id=other.id)
    session.commit()
    call = hotline.call(BUDI_PHONE)
    menu = _verify(call)
    assert SPACED(own.number) in menu  # offered the open ticket first
    call.press("2")
    call.wait_for_prompt()
    call.press("8")
    call.wait_for_prompt()
    mistyped = own.number[:3] + str((int(own.number[3]) + 1) % 10) + own.number[4:]
    call.press(mistyped + "#")
    assert "tidak valid" in call.wait_for_prompt()
    call.press(theirs.number + "#")
    assert "tidak kami temukan" in call.wait_for_prompt()
    call.press("8")
    call.wait_for_prompt()
    call.press(own.number + "#")
    call.wait_for_prompt()
    contact = _caller_contact(session, call.sid)
    assert contact.ticket_id == own.id and contact.queue_state == "waiting"
    call.hang_up()
    assert BUDI_ORDER not in " ".join(call.said)


def test_a_caller_lost_from_our_books_does_not_ring_agents_forever(hotline, session):
    """A waiting caller whose status callback was lost: the agent finds the queue empty once,
    and the stale entry stops counting (no ringing storm)."""
    make_customer(session)
    _add_agent(session)
    ghost = Contact(channel="voice", direction="inbound", external_id="CA" + "9" * 32,
                    status="in-progress", queue_state="waiting")
    session.add(ghost)
    session.commit()
    enqueue_dispatch_agents(hotline.settings, hotline.live.url)  # as the periodic sweep does
    hotline.run_jobs()
    first = hotline.sim.wait_for_call(to=AGENT_PHONE)
    first.wait_ended()
    eventually(lambda: _caller_contact(session, ghost.external_id).queue_state == "abandoned")
    hotline.run_jobs()
    hotline.run_jobs()
    assert len(hotline.sim.find_calls(to=AGENT_PHONE)) == 1


def test_agent_who_does_not_answer_is_set_unavailable(hotline, session):
    make_customer(session)
    agent = _add_agent(session)
    hotline.sim.set_outcome(AGENT_PHONE, "no-answer")
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("0")
    _wait_queued(session, call)
    hotline.run_jobs()
    hotline.sim.wait_for_call(to=AGENT_PHONE).wait_ended()
    eventually(lambda: not _reload_agent(session, agent.id).available)
    hotline.run_jobs()
    assert len(hotline.sim.find_calls(to=AGENT_PHONE)) == 1
    assert "Tekan 1 agar kami menelepon" in call.wait_for_prompt()  # offered a callback
    call.hang_up()


def _reload_agent(session, agent_id: int) -> Agent:
    session.expire_all()
    return session.get(Agent, agent_id)
