"""Callers routed to agents and repeat contacts (P1.6, X1), through the simulator.

The simulator follows Twilio's documentation (simulator/README.md): the ``<Queue url>``
document plays to the dequeued *caller*, a ``<Dial><Queue>`` on an empty queue waits, and a
voicemail answers like a person unless machine detection was asked for. These tests hold the
agent leg to that: the whisper on the agent's own leg, a key press to accept, and no bridge
into nothing.
"""

from __future__ import annotations

import io
import os
import threading
import time

from sqlalchemy import select

from callcenter.models import Agent, Callback, Contact, Ticket
from callcenter.statuses import QueueState
from callcenter.tickets import lifecycle
from callcenter.voice import agents as agent_registry
from simulator.phone import answer_phone, run_phone
from tests.e2e.test_inbound_hotline import _closing, _verify
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.waiting import eventually
from workers.queues import enqueue_dispatch_agents

AGENT_PHONE = "+628110000001"
SPACED = " ".join
ACCEPT_PROMPT = "Tekan 1 untuk menerima panggilan"


def _add_agent(session, available: bool = True, name: str = "Sari",
               phone: str = AGENT_PHONE) -> Agent:
    agent = agent_registry.add_agent(session, name, phone=phone, available=available)
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
               == QueueState.WAITING)


def _accept(agent_call) -> None:
    """The agent hears the offer on their phone and presses 1."""
    assert ACCEPT_PROMPT in agent_call.wait_for_prompt()
    agent_call.press("1")


def _routed(hotline, session, call):
    """The dispatcher rings the free agent, who accepts; returns the agent's leg, bridged."""
    _wait_queued(session, call)
    hotline.run_jobs()
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    _accept(agent_call)
    agent_call.wait_for(lambda c: c.bridged)
    return agent_call


def _queued_caller(hotline, session, phone: str = BUDI_PHONE, order: str = BUDI_ORDER):
    """A verified caller who pressed 0 for an agent and waits in the queue."""
    call = hotline.call(phone)
    call.wait_for_prompt()
    call.press("1")
    call.wait_for_prompt()
    call.press(order + "#")
    assert "Apakah Anda" in call.wait_for_prompt()
    call.press("1")
    call.wait_for_prompt()
    call.press("0")
    _wait_queued(session, call)
    return call


def test_agent_hears_whisper_then_caller_is_asked_anything_else(hotline, session):
    make_customer(session)
    agent = _add_agent(session)
    call = _queued_caller(hotline, session)
    hotline.run_jobs()  # the dispatcher rings the free agent
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    _accept(agent_call)
    ticket = eventually(lambda: session.scalars(select(Ticket)).first())
    agent_call.wait_for(lambda c: c.bridged)
    whisper = " ".join(agent_call.said)
    assert f"Tiket {SPACED(ticket.number)}" in whisper
    assert "Pelanggan terverifikasi: Budi Santoso" in whisper
    assert "Alasan: asked for an agent" in whisper
    call.wait_for(lambda c: c.bridged)
    assert "Budi Santoso" not in " ".join(call.said[-3:])  # the caller does not hear it
    assert "Anda akan segera tersambung" in call.said[-1]  # the queue's url: the caller's side
    agent_call.hang_up()
    after = call.wait_for_prompt()
    assert "berbicara dengan petugas" in after and "hal lain" in after  # P1.7
    call.press("2")
    call.wait_ended()
    leg = eventually(lambda: _caller_contact(session, agent_call.sid))
    assert leg.kind == "agent_leg" and leg.ticket_id == ticket.id and leg.agent_id == agent.id
    eventually(lambda: session.get(Agent, agent.id) and _released(session, agent.id))
    assert call.errors() == [] and agent_call.errors() == []


def test_the_whisper_is_in_the_agents_language_and_the_caller_hears_theirs(hotline, session):
    """An English call: the agent's whisper stays Indonesian (the floor's language) and says
    the caller chose English; the caller hears "being connected" in English, in an English
    voice, and never the whisper."""
    make_customer(session)
    _add_agent(session)
    call = hotline.call(BUDI_PHONE)
    call.wait_for_prompt()
    call.press("2")  # English
    call.wait_for_prompt()
    call.press(BUDI_ORDER + "#")
    call.wait_for_prompt()
    call.press("1")
    call.wait_for_prompt()
    call.press("0")
    agent_call = _routed(hotline, session, call)
    call.wait_for(lambda c: c.bridged)
    agent_says = agent_call.heard("say")
    assert {e["language"] for e in agent_says} == {"id-ID"}
    whisper = " ".join(e["text"] for e in agent_says)
    assert "Pelanggan memilih bahasa Inggris" in whisper and "Budi Santoso" in whisper
    connecting = call.heard("say")[-1]
    assert connecting["text"] == "You are now being connected to one of our agents."
    assert connecting["language"] == "en-US" and connecting["voice"].startswith("Google.en-US")
    assert not any("Tiket" in text or "terverifikasi" in text for text in call.said)
    agent_call.hang_up()
    call.hang_up()


def test_two_agents_accepting_at_once_each_get_the_caller_they_were_told_about(hotline,
                                                                                 session):
    """Both callers wait, both agents are rung and accept: each agent is bridged to exactly
    the caller their whisper named (a shared queue would hand out its front caller)."""
    make_customer(session)
    make_customer(session, order_id="777", phone="+6281311112222", name="Siti Aminah")
    _add_agent(session)
    _add_agent(session, name="Dewi", phone="+628110000002")
    budi = _queued_caller(hotline, session)
    siti = _queued_caller(hotline, session, phone="+6281311112222", order="777")
    hotline.run_jobs()
    legs = [hotline.sim.wait_for_call(to=AGENT_PHONE),
            hotline.sim.wait_for_call(to="+628110000002")]
    # Sari accepts first (Budi has waited longest) but her line is slow after the whisper:
    # Dewi accepts later and reaches the bridge first.
    slow = hotline.sim.hold_webhooks(legs[0].sid, "/agent/bridge")
    _accept(legs[0])
    legs[0].wait_for(lambda c: any("/agent/bridge" in e.get("url", "") for e in c.events
                                   if e["type"] == "redirect"))
    _accept(legs[1])
    legs[1].wait_for(lambda c: c.bridged)
    slow.set()
    legs[0].wait_for(lambda c: c.bridged)
    names = {budi.sid: "Budi Santoso", siti.sid: "Siti Aminah"}
    for leg in legs:
        peer = next(e["with_sid"] for e in leg.events if e["type"] == "bridge")
        whisper = " ".join(leg.said)
        assert names[peer] in whisper
        assert (set(names.values()) - {names[peer]}).pop() not in whisper
    for leg in legs:
        leg.hang_up()
    budi.hang_up()
    siti.hang_up()


def test_an_agent_who_answers_after_the_caller_left_hears_so_and_is_free(hotline, session):
    make_customer(session)
    agent = _add_agent(session)
    call = _queued_caller(hotline, session)
    hotline.sim.set_outcome(AGENT_PHONE, "human")
    call.hang_up()  # while the agent's phone rings
    eventually(lambda: _caller_contact(session, call.sid).queue_state == QueueState.ABANDONED)
    enqueue_dispatch_agents(hotline.settings)
    hotline.run_jobs()
    assert hotline.sim.find_calls(to=AGENT_PHONE) == []  # nobody waits: nobody is rung

    # The caller's status callback was lost: our books still say "waiting"; Twilio knows
    # better, and the agent who accepts is told at once instead of waiting on an empty queue.
    contact = _caller_contact(session, call.sid)
    contact.queue_state = QueueState.WAITING
    session.commit()
    enqueue_dispatch_agents(hotline.settings)
    hotline.run_jobs()
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    _accept(agent_call)
    started = time.monotonic()
    assert agent_call.wait_ended() == "completed"
    assert time.monotonic() - started < 3
    assert "Penelepon sudah menutup telepon" in agent_call.said[-1]
    assert not agent_call.bridged
    assert _caller_contact(session, call.sid).queue_state == QueueState.ABANDONED
    eventually(lambda: _released(session, agent.id))
    assert _reload_agent(session, agent.id).available  # free for the next caller


def test_an_agent_leg_answered_by_voicemail_never_reaches_the_caller(hotline, session):
    """No machine detection on the agent's leg: the voicemail answers like a person, but it
    never presses 1, so the caller stays in the queue and the agent is set away."""
    make_customer(session)
    agent = _add_agent(session)
    hotline.sim.set_outcome(AGENT_PHONE, "machine")
    call = _queued_caller(hotline, session)
    hotline.run_jobs()
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    assert agent_call.wait_ended() == "completed"
    assert ACCEPT_PROMPT in " ".join(agent_call.said)
    assert not agent_call.bridged and not call.bridged
    eventually(lambda: not _reload_agent(session, agent.id).available)
    assert _caller_contact(session, call.sid).queue_state == QueueState.WAITING
    assert "Tekan 1 agar kami menelepon" in call.wait_for_prompt()  # offered a callback
    call.hang_up()


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
    agent_call = _routed(hotline, session, call)
    whisper = " ".join(agent_call.said)
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
    agent_call = _routed(hotline, session, second)
    whisper = " ".join(agent_call.said)
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
    assert contact.ticket_id == own.id and contact.queue_state == QueueState.WAITING
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
    enqueue_dispatch_agents(hotline.settings)  # as the periodic sweep does
    hotline.run_jobs()
    first = hotline.sim.wait_for_call(to=AGENT_PHONE)
    _accept(first)
    first.wait_ended()
    assert "Penelepon sudah menutup telepon" in first.said[-1] and not first.bridged
    eventually(lambda: _caller_contact(session, ghost.external_id).queue_state
               == QueueState.ABANDONED)
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


class _Keypad:
    """A terminal's keyboard: lines typed by the test, read by the phone on its thread."""

    def __init__(self, call_of) -> None:
        read_fd, write_fd = os.pipe()
        self.stdin = os.fdopen(read_fd, "r")
        self._keys = os.fdopen(write_fd, "w")
        self._call_of = call_of

    def type(self, line: str) -> None:
        call = self._call_of()
        call.wait_for_prompt()
        before = len(call.heard("input"))
        self._keys.write(line + "\n")
        self._keys.flush()
        eventually(lambda: len(call.heard("input")) > before)

    def press_now(self, line: str) -> None:
        """Type a line whether or not the call waits for keys."""
        self._keys.write(line + "\n")
        self._keys.flush()

    def close(self) -> None:
        self._keys.close()

    def unplug(self) -> None:
        self.stdin.close()


def test_in_the_terminal_phones_only_the_agent_hears_the_whisper(hotline, session):
    """The caller and the agent each on a terminal phone (``callcenter call``, and
    ``callcenter call --answer`` on the agent's number)."""
    make_customer(session)
    _add_agent(session)
    caller_screen, agent_screen = io.StringIO(), io.StringIO()
    caller_keys = _Keypad(lambda: hotline.sim.find_calls(direction="inbound")[-1])
    agent_keys = _Keypad(lambda: hotline.sim.find_calls(to=AGENT_PHONE)[-1])
    phones = [
        threading.Thread(target=run_phone, args=(hotline.sim.control_url, BUDI_PHONE,
                                                 caller_keys.stdin, caller_screen)),
        threading.Thread(target=answer_phone, args=(hotline.sim.control_url, AGENT_PHONE,
                                                    agent_keys.stdin, agent_screen),
                         kwargs={"poll_interval": 0.05, "timeout": 30}),
    ]
    for phone in phones:
        phone.start()
    try:
        eventually(lambda: hotline.sim.find_calls(direction="inbound"))
        for keys in ("1", BUDI_ORDER + "#", "1", "0"):
            caller_keys.type(keys)
        call = hotline.sim.find_calls(direction="inbound")[-1]
        _wait_queued(session, call)
        hotline.run_jobs()
        eventually(lambda: hotline.sim.find_calls(to=AGENT_PHONE))
        agent_keys.type("1")
        agent_call = hotline.sim.find_calls(to=AGENT_PHONE)[-1]
        agent_call.wait_for(lambda c: c.bridged)
        agent_call.hang_up()
        # The caller answers what their screen shows: keys typed before it showed the agent
        # leaving were typed during the conversation and are dropped.
        eventually(lambda: "[agent left the call]" in caller_screen.getvalue())
        caller_keys.type("2")
        call.wait_ended()
    finally:
        caller_keys.close()
        agent_keys.close()
        for phone in phones:
            phone.join(10)
        caller_keys.unplug()
        agent_keys.unplug()
    heard_by_caller, heard_by_agent = caller_screen.getvalue(), agent_screen.getvalue()
    assert "[connected to agent]" in heard_by_caller
    assert "IVR: Anda akan segera tersambung dengan petugas kami." in heard_by_caller
    assert "Pelanggan terverifikasi" not in heard_by_caller and "Alasan:" not in heard_by_caller
    assert "IVR: Ada panggilan pelanggan untuk Anda. Tekan 1" in heard_by_agent
    assert "Pelanggan terverifikasi: Budi Santoso" in heard_by_agent
    assert heard_by_agent.index("Pelanggan terverifikasi") < heard_by_agent.index(
        "[connected to caller]")
    assert "tersambung dengan petugas" not in heard_by_agent


def test_keys_typed_while_talking_to_the_agent_do_not_replay_into_the_menu(hotline, session):
    """A caller on the terminal phone types 1 while talking to the agent (the agent hears the
    tone; Twilio's <Dial>). When the agent leaves, "anything else?" waits for a new key: the 1
    is not fed to it, so the caller's 2 ends the call with the summary."""
    make_customer(session)
    agent = _add_agent(session)
    screen = io.StringIO()
    keys = _Keypad(lambda: hotline.sim.find_calls(direction="inbound")[-1])
    phone = threading.Thread(target=run_phone, args=(hotline.sim.control_url, BUDI_PHONE,
                                                     keys.stdin, screen))
    phone.start()
    try:
        eventually(lambda: hotline.sim.find_calls(direction="inbound"))
        for line in ("1", BUDI_ORDER + "#", "1", "0"):
            keys.type(line)
        call = hotline.sim.find_calls(direction="inbound")[-1]
        agent_call = _routed(hotline, session, call)
        eventually(lambda: "[connected to agent]" in screen.getvalue())
        keys.press_now("1")  # during the conversation: no Gather waits
        eventually(lambda: "[keys 1 heard by the agent only" in screen.getvalue())
        agent_call.hang_up()
        assert "hal lain" in call.wait_for_prompt()
        eventually(lambda: "hal lain" in screen.getvalue().split("[agent left the call]")[-1])
        keys.type("2")
        call.wait_ended()
    finally:
        keys.close()
        phone.join(10)
        keys.unplug()
    after_agent = [e["digits"] for e in call.heard("input")][4:]
    assert after_agent == ["2"]  # the 1 never reached the IVR
    assert "Ringkasan panggilan Anda" in screen.getvalue()
    eventually(lambda: _released(session, agent.id))
