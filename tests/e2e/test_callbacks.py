"""Outbound callbacks end to end: RQ's scheduler, the Calls API, the callback flow.

The clock is moved to a Wednesday morning in Jakarta so the calling window is open
whatever day the suite runs on.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from callcenter.callbacks import policy
from callcenter.models import Callback, Contact, Ticket
from callcenter.tickets import lifecycle
from callcenter.voice import agents as agent_registry
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.waiting import eventually
from workers.queues import schedule_callback_job

WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
SPACED = " ".join
AGENT_PHONE = "+628110000001"


@pytest.fixture
def open_hours():
    with time_machine.travel(WEDNESDAY_MORNING, tick=True):
        yield


def _owe_callback(session, hotline, reason: str = "more_explanation") -> Callback:
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    ticket.reason = "wants the fee explained"
    callback, _ = policy.request_callback(session, hotline.settings, ticket, reason=reason)
    session.commit()
    schedule_callback_job(hotline.settings, callback)
    return callback


def _reload(session, callback: Callback) -> Callback:
    session.expire_all()
    return session.get(Callback, callback.id)


def test_answered_callback_greets_by_first_name_and_verifies_first(hotline, session,
                                                                   open_hours):
    callback = _owe_callback(session, hotline)
    hotline.run_jobs()
    call = hotline.sim.wait_for_call(to=BUDI_PHONE)
    greeting = call.wait_for_prompt()
    ticket = session.scalars(select(Ticket)).one()
    assert "Budi" in greeting and "Santoso" not in greeting
    assert SPACED(ticket.number) in greeting and "Order ID" in greeting
    assert "1.250.000" not in greeting
    call.press(BUDI_ORDER + "#")
    assert "Apakah Anda Budi Santoso" in call.wait_for_prompt()
    call.press("1")
    menu = call.wait_for_prompt()  # no agent free: the IVR answers instead
    assert "sibuk" in menu and "Tekan 3 untuk jumlah tagihan" in menu
    call.press("3")
    assert "1.250.000 rupiah" in call.wait_for_prompt()
    call.press("2")
    call.wait_ended()
    done = eventually(lambda: _reload(session, callback).status == "completed"
                      and _reload(session, callback))
    assert done.attempts == 1 and done.call_sid == call.sid
    contact = session.scalars(select(Contact).where(Contact.external_id == call.sid)).one()
    assert contact.direction == "outbound" and contact.ticket_id == ticket.id


def test_verified_callback_goes_to_a_free_agent_with_context(hotline, session, open_hours):
    agent_registry.add_agent(session, "Sari", phone="+628110000001", available=True)
    session.commit()
    _owe_callback(session, hotline)
    hotline.run_jobs()
    call = hotline.sim.wait_for_call(to=BUDI_PHONE)
    call.wait_for_prompt()
    call.press(BUDI_ORDER + "#")
    call.wait_for_prompt()
    call.press("1")
    eventually(lambda: (session.expire_all() or session.scalars(
        select(Contact).where(Contact.external_id == call.sid)).one()).queue_state == "waiting")
    hotline.run_jobs()
    agent_call = hotline.sim.wait_for_call(to="+628110000001")
    assert "Tekan 1 untuk menerima" in agent_call.wait_for_prompt()
    agent_call.press("1")
    agent_call.wait_for(lambda c: c.bridged)
    whisper = " ".join(agent_call.said)
    assert "Budi Santoso" in whisper and "callback: wants the fee explained" in whisper
    agent_call.hang_up()
    call.hang_up()


def test_a_callback_the_agent_leaves_returns_to_anything_else_and_the_summary(hotline, session,
                                                                             open_hours):
    """P1.7/P1.8 on a callback as on an inbound call: the agent hangs up first (the dev run's
    simulated agent, after a few seconds), the customer stays and is asked "anything else?",
    then hears the summary, the ticket number and the goodbye."""
    hotline.sim.auto_agents.add(AGENT_PHONE)
    hotline.sim.auto_agent_hangup_after = 0.5
    agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE, available=True)
    session.commit()
    _owe_callback(session, hotline)
    hotline.run_jobs()
    call = hotline.sim.wait_for_call(to=BUDI_PHONE)
    call.wait_for_prompt()
    call.press(BUDI_ORDER + "#")
    call.wait_for_prompt()
    call.press("1")
    eventually(lambda: (session.expire_all() or session.scalars(
        select(Contact).where(Contact.external_id == call.sid)).one()).queue_state == "waiting")
    hotline.run_jobs()
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    agent_call.wait_ended()  # accepted, bridged, and left
    after = call.wait_for_prompt()
    assert not call.ended
    assert "Terima kasih telah berbicara dengan petugas kami" in after and "hal lain" in after
    before = len(call.said)
    call.press("2")
    call.wait_ended()
    closing = " ".join(call.said[before:])
    ticket = session.scalars(select(Ticket)).one()
    assert "Ringkasan" in closing and "pembicaraan dengan petugas" in closing
    assert SPACED(ticket.number) in closing and "Terima kasih telah menghubungi" in closing
    assert call.errors() == [] and agent_call.errors() == []


def test_wrong_order_id_on_a_callback_discloses_nothing(hotline, session, open_hours):
    _owe_callback(session, hotline)
    hotline.run_jobs()
    call = hotline.sim.wait_for_call(to=BUDI_PHONE)
    call.wait_for_prompt()
    call.press("1234#")
    heard = call.wait_for_prompt()
    assert "tidak dapat kami verifikasi" in heard and "1.250.000" not in heard
    call.hang_up()


def test_answering_machine_gets_a_voicemail_and_a_later_attempt(hotline, session, open_hours):
    hotline.sim.set_outcome(BUDI_PHONE, "machine")
    callback = _owe_callback(session, hotline, reason="dropped_call")
    hotline.run_jobs()
    call = hotline.sim.wait_for_call(to=BUDI_PHONE)
    call.wait_ended()
    ticket = session.scalars(select(Ticket)).one()
    voicemail = " ".join(call.said)
    assert SPACED(ticket.number) in voicemail and "Budi" not in voicemail
    retried = eventually(lambda: _reload(session, callback).status == "scheduled"
                         and _reload(session, callback))
    assert retried.attempts == 1 and retried.last_error == "answering machine"
    assert retried.due_at > datetime.now(ZoneInfo("UTC"))


@pytest.mark.parametrize("outcome", ["no-answer", "busy", "failed"])
def test_unanswered_callback_is_retried_later(hotline, session, open_hours, outcome):
    hotline.sim.set_outcome(BUDI_PHONE, outcome)
    callback = _owe_callback(session, hotline)
    hotline.run_jobs()
    hotline.sim.wait_for_call(to=BUDI_PHONE).wait_ended()
    retried = eventually(lambda: _reload(session, callback).status == "scheduled"
                         and _reload(session, callback))
    assert retried.last_error == outcome and retried.attempts == 1
    contacts = session.scalars(select(Contact).where(Contact.callback_id == callback.id)).all()
    assert [c.status for c in contacts] == [outcome]  # X2: the attempt is on the ticket


def test_invalid_number_fails_the_callback_with_the_reason_on_the_ticket(hotline, session,
                                                                        open_hours):
    callback = _owe_callback(session, hotline)
    hotline.sim.fail_next(1, status=400, code=21211)
    hotline.run_jobs()
    failed = _reload(session, callback)
    assert failed.status == "failed" and "21211" in failed.last_error
    body = hotline.live.app.test_client().get(
        f"/api/tickets/{session.scalars(select(Ticket)).one().number}",
        headers={"Authorization": "Bearer test-api-token"}).get_json()
    shown = body["callbacks"][0]
    assert (shown["reason"], shown["status"], shown["attempts"]) == (
        "more_explanation", "failed", 1)
    assert "21211" in shown["last_error"]  # the reason is shown on the ticket


def test_caller_who_calls_in_and_continues_the_ticket_cancels_the_callback(hotline, session,
                                                                          open_hours):
    callback = _owe_callback(session, hotline)
    from tests.e2e.test_inbound_hotline import _verify

    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("1")  # continue the open ticket
    call.hang_up()
    assert eventually(lambda: _reload(session, callback).status == "cancelled")
    hotline.run_jobs()
    assert hotline.sim.find_calls(to=BUDI_PHONE, direction="outbound-api") == []


def test_the_terminal_phone_picks_up_a_callback(hotline, session, open_hours):
    """`callcenter call --answer`: the README's way to watch a callback in the dev run."""
    import io
    import threading

    from simulator.phone import answer_phone

    _owe_callback(session, hotline)
    keys = io.StringIO(f"{BUDI_ORDER}#\n1\n2\n")
    screen = io.StringIO()
    status: list[str] = []
    phone = threading.Thread(target=lambda: status.append(answer_phone(
        hotline.sim.control_url, BUDI_PHONE, stdin=keys, stdout=screen, timeout=20)))
    phone.start()
    hotline.run_jobs()
    phone.join(30)
    shown = screen.getvalue()
    assert status == ["completed"]
    assert "Incoming call from +622150001234" in shown
    assert "Halo Bapak/Ibu Budi" in shown and "Apakah Anda Budi Santoso" in shown
