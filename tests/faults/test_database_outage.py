"""PostgreSQL goes down with callers in flight, then comes back (the test's own cluster).

The service runs under gunicorn with the worker of ``callcenter worker`` and the sweep of
``callcenter scheduler``; the simulator plays Twilio. While the database is down a caller
hears the apology and is queued for an agent (the error turn), and a status callback cannot be
applied. Once it is back nobody may stay stuck: the queued caller can ask for a callback, is
routed to an agent who hears who it is, and ends with "anything else?" (P1.7); a call that
ended during the outage is settled and, if it dropped mid-flow, owed its callback (P2.2c).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select

from callcenter.models import Agent, Callback, Contact, Ticket, utcnow
from callcenter.statuses import CallStatus, QueueState
from callcenter.voice import agents
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.faults.conftest import AGENT_PHONE, Stack
from tests.support.waiting import eventually
from workers.call_status import settle_silent_calls, spool_key

pytestmark = pytest.mark.slow

SINTA_PHONE = "+6281298765432"
APOLOGY = "terjadi gangguan pada sistem kami"
SPACED = " ".join


def _customers_and_an_away_agent(stack: Stack) -> None:
    with stack.session() as session:
        make_customer(session)
        make_customer(session, order_id="20261002", name="Sinta Dewi", phone=SINTA_PHONE,
                      email="sinta@example.com")
        agents.add_agent(session, "Sari", phone=AGENT_PHONE, available=False)
        session.commit()


def _at_the_menu(stack: Stack):
    """Budi calls, chooses Indonesian and is verified: the menu waits for his key."""
    call = stack.sim.incoming_call(BUDI_PHONE)
    assert "Selamat datang" in call.wait_for_prompt()
    call.press("1")
    call.wait_for_prompt()
    call.press(BUDI_ORDER + "#")
    assert "Budi Santoso" in call.wait_for_prompt()
    call.press("1")
    assert "terverifikasi" in call.wait_for_prompt()
    return call


def _contact(stack: Stack, sid: str) -> Contact | None:
    with stack.session() as session:
        return session.scalars(select(Contact).where(Contact.external_id == sid)).first()


def _heard_since(call, mark: int) -> str:
    return " ".join(call.said[mark:])


def test_callers_queued_during_a_database_outage_are_served_when_it_returns(stack: Stack):
    _customers_and_an_away_agent(stack)
    stack.start("worker")
    stack.start("scheduler", "--interval", "1")
    budi = _at_the_menu(stack)

    stack.pg.stop()
    outage = time.monotonic()
    budi.press("3")  # the bill: the step fails, he hears the apology and is queued
    sinta = stack.sim.incoming_call(SINTA_PHONE)  # a new caller meanwhile
    assert "Selamat datang" in sinta.wait_for_prompt()
    sinta.press("1")
    for caller in (budi, sinta):
        caller.wait_for(lambda c: APOLOGY in " ".join(c.said), 10)
    time.sleep(1.5)  # the wait music is requested (and fails) during the outage
    stack.pg.start()
    down_for = time.monotonic() - outage

    # The wait music held them without anything Twilio refuses in a waitUrl document.
    assert budi.errors() == [] and sinta.errors() == [], (budi.errors(), sinta.errors())
    # Both are written down and counted as waiting; nobody is free, so both are offered a
    # callback.
    for caller in (budi, sinta):
        assert "Tekan 1 agar kami menelepon Anda kembali" in caller.wait_for_prompt(20)
    with stack.session() as session:
        waiting = agents.callers_waiting(session)
    assert waiting == 2

    # Sinta (never verified: the outage came first) asks for the callback; her promise is
    # kept, to her registered number.
    mark = len(sinta.said)
    sinta.press("1")
    sinta.wait_ended(10)
    closing = _heard_since(sinta, mark)
    assert "Kami akan menelepon Anda kembali" in closing
    with stack.session() as session:
        owed = session.scalars(select(Callback)).all()
        assert [(c.phone, c.reason) for c in owed] == [(SINTA_PHONE, "more_explanation")]
        ticket = session.get(Ticket, owed[0].ticket_id)
        assert SPACED(ticket.number) in closing

    # Sari becomes available: the sweep routes Budi to her; she hears whose call it is.
    with stack.session() as session:
        sari = session.scalars(select(Agent)).one()
        agents.choose_presence(session, sari, "available", actor="test")
        session.commit()
    agent_leg = stack.sim.wait_for_call(to=AGENT_PHONE, timeout=20)
    budi.wait_for(lambda c: c.bridged, 20)
    whisper = " ".join(agent_leg.said)
    budi_contact = _contact(stack, budi.sid)
    assert budi_contact is not None and budi_contact.ticket_id is not None
    with stack.session() as session:
        budi_ticket = session.get(Ticket, budi_contact.ticket_id)
    assert "Panggilan tanpa tiket" not in whisper
    assert f"Tiket {SPACED(budi_ticket.number)}" in whisper
    assert "Pelanggan terverifikasi: Budi Santoso" in whisper

    # The agent hangs up (after 1.5 s): Budi is asked "anything else?" and closes the call.
    after = budi.wait_for_prompt(20)
    assert "berbicara dengan petugas" in after and "hal lain" in after  # P1.7
    mark = len(budi.said)
    budi.press("2")
    budi.wait_ended(10)
    assert SPACED(budi_ticket.number) in _heard_since(budi, mark)
    leg = eventually(lambda: _contact(stack, agent_leg.sid), timeout=10)
    eventually(lambda: _contact(stack, agent_leg.sid).queue_state == QueueState.DONE)
    assert leg.kind == "agent_leg"
    print(f"database down for {down_for:.1f} s")


def test_a_status_callback_lost_to_the_outage_is_applied_when_the_database_returns(
        stack: Stack):
    """Budi hangs up mid-menu while the database is down: the status callback cannot be
    applied then. It is kept (Redis) and applied by the sweep once the database answers:
    the call is closed and his dropped-call callback is owed within seconds, not hours."""
    _customers_and_an_away_agent(stack)
    stack.start("scheduler", "--interval", "1")
    budi = _at_the_menu(stack)
    stack.pg.stop()
    budi.hang_up()
    budi.wait_ended(10)
    [status_request] = [r for r in budi.requests if "/twilio/voice/status" in r[0]]
    assert status_request[2] == 204  # received: Twilio must not (and would not) retry
    assert Redis.from_url(stack.settings.effective_redis_url).llen(spool_key(stack.settings))
    stack.pg.start()
    returned = time.monotonic()

    def owed() -> list[Callback]:
        with stack.session() as session:
            return session.scalars(select(Callback)).all()

    [callback] = eventually(owed, timeout=20)
    waited = time.monotonic() - returned
    assert callback.reason == "dropped_call" and callback.phone == BUDI_PHONE
    contact = _contact(stack, budi.sid)
    assert contact.status == CallStatus.COMPLETED and contact.duration_s is not None
    assert not Redis.from_url(stack.settings.effective_redis_url).llen(
        spool_key(stack.settings))
    print(f"dropped-call callback owed {waited:.1f} s after the database returned")


def test_a_call_whose_status_callback_never_came_is_settled_within_minutes(stack: Stack):
    """The service is unreachable when Budi hangs up mid-menu (a restart), so Twilio's status
    callback is lost for good. The sweep asks Twilio's Calls API about calls silent for two
    minutes: the call is closed and the dropped-call callback owed, not two hours later."""
    _customers_and_an_away_agent(stack)
    budi = _at_the_menu(stack)
    stack.app.stop()
    budi.hang_up()
    budi.wait_ended(10)
    stack.app.start()
    assert _contact(stack, budi.sid).status == CallStatus.IN_PROGRESS
    assert settle_silent_calls(stack.settings) == 0  # just begun: it may well be live
    assert settle_silent_calls(stack.settings, now=utcnow() + timedelta(minutes=3)) == 1
    contact = _contact(stack, budi.sid)
    assert contact.status == CallStatus.COMPLETED
    with stack.session() as session:
        assert [c.reason for c in session.scalars(select(Callback))] == ["dropped_call"]
