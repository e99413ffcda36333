"""A customer phones the hotline, end to end through the local Twilio simulator.

Each test names the procedure requirement it proves (../shared/PROCEDURE.md).
"""

from __future__ import annotations

from sqlalchemy import select

from callcenter.models import Callback, Contact, OutboundMessage, Ticket
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.waiting import eventually

SPACED = " ".join


def _verify(call, order: str = BUDI_ORDER) -> str:
    """Language, Order ID, name confirmation; returns what the caller heard last."""
    assert "Selamat datang" in call.wait_for_prompt()
    call.press("1")
    assert "Order ID" in call.wait_for_prompt()
    call.press(order + "#")
    assert "Budi Santoso" in call.wait_for_prompt()
    call.press("1")
    return call.wait_for_prompt()


def _closing(call, keys: str) -> str:
    """Press ``keys`` and return everything heard until the call ended."""
    before = len(call.said)
    call.press(keys)
    call.wait_ended()
    return " ".join(call.said[before:])


def _ticket(session) -> Ticket:
    session.expire_all()
    return session.scalars(select(Ticket)).one()


def _no_application_error(call) -> None:
    assert not [e for e in call.events if e.get("type") == "error"], call.events[-5:]


def test_caller_hears_bill_amount_summary_and_ticket_number(hotline, session):
    """P1.1 verify, P1.4c bill amount, P1.7 anything else, P1.8 summary, P1.6 ticket number."""
    make_customer(session)
    call = hotline.call(BUDI_PHONE)
    menu = _verify(call)
    assert "terverifikasi" in menu and "jumlah tagihan" in menu
    call.press("3")
    answer = call.wait_for_prompt()
    assert "1.250.000 rupiah" in answer and "5 Desember 2026" in answer
    assert "hal lain" in answer
    closing = _closing(call, "2")
    ticket = eventually(lambda: _ticket(session))
    assert "Ringkasan" in closing and "tagihan 1.250.000 rupiah" in closing
    assert SPACED(ticket.number) in closing and "Terima kasih" in closing
    _no_application_error(call)
    contact = eventually(lambda: session.scalars(select(Contact)).one()
                         if _ended(session) else None)
    assert contact.external_id == call.sid and contact.ticket_id == ticket.id
    assert contact.duration_s is not None and contact.ended_at is not None
    assert contact.menu_path[-2:] == ["menu:3", "anything_else:2"]
    assert ticket.status == "resolved" and ticket.category == "inquiry"


def _ended(session) -> bool:
    session.expire_all()
    contact = session.scalars(select(Contact)).first()
    return contact is not None and contact.status == "completed"


def test_how_to_pay_reads_the_virtual_account_digit_by_digit(hotline, session):
    """P1.4a: the customer's own bank and VA."""
    make_customer(session)
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("1")
    answer = call.wait_for_prompt()
    assert "BCA" in answer and SPACED("8808123456") in answer
    call.hang_up()


def test_each_language_is_offered_in_its_own_voice(hotline, session):
    """An English speaker hears "For English, press 2" from the English voice, not read out
    by the Indonesian one; the rest of the greeting stays Indonesian."""
    call = hotline.call(BUDI_PHONE)
    call.wait_for_prompt()
    spoken = {e["text"]: (e["voice"], e["language"]) for e in call.heard("say")}
    assert spoken["Selamat datang di layanan pengaduan Cankul."] == (
        "Google.id-ID-Standard-A", "id-ID")
    assert spoken["Untuk Bahasa Indonesia, tekan 1."] == ("Google.id-ID-Standard-A", "id-ID")
    assert spoken["For English, press 2."] == ("Google.en-US-Standard-C", "en-US")
    call.press("2")
    assert "registered phone number" in call.wait_for_prompt()
    assert call.heard("say")[-1]["language"] == "en-US"
    call.hang_up()


def test_english_caller_gets_product_apply_and_status_answers(hotline, session):
    """P1.4b, d, e in English, from the content file."""
    make_customer(session)
    call = hotline.call(BUDI_PHONE)
    call.wait_for_prompt()
    call.press("2")
    assert "Order ID" in call.wait_for_prompt()
    call.press(BUDI_ORDER + "#")
    assert "Are you Budi Santoso" in call.wait_for_prompt()
    call.press("1")
    call.wait_for_prompt()
    expected = {"2": "Cankul Tunai is a cash loan", "4": "download the Cankul app",
                "5": "the funds have been paid out"}
    for key, text in expected.items():
        call.press(key)
        assert text in call.wait_for_prompt()
        call.press("1")  # anything else? -> back to the menu
        call.wait_for_prompt()
    call.hang_up()


def test_payment_detail_problem_is_moved_to_email_and_sms(hotline, session):
    """P1.3: told the address and ticket number, and gets both by SMS."""
    make_customer(session)
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("6")
    heard = call.wait_for_prompt()
    ticket = _ticket(session)
    assert hotline.settings.support_email in heard and SPACED(ticket.number) in heard
    hotline.run_jobs()
    sms = eventually(lambda: hotline.sim.messages)[0]
    assert sms["to"] == BUDI_PHONE
    assert ticket.number in sms["body"] and hotline.settings.support_email in sms["body"]
    session.expire_all()
    row = session.scalars(select(OutboundMessage)).one()
    assert row.status == "sent" and row.message_sid == sms["sid"]
    channels = {c.channel for c in session.scalars(select(Contact))}
    assert channels == {"voice", "sms"}  # X2: the SMS is on the ticket too
    call.hang_up()


def test_unknown_caller_id_is_asked_for_the_phone_number(hotline, session):
    """P1.1 with a withheld or unregistered caller ID."""
    make_customer(session)
    call = hotline.call("+6289911112222")
    call.wait_for_prompt()
    call.press("1")
    assert "nomor telepon" in call.wait_for_prompt()
    call.press("081234567890#")
    assert "Order ID" in call.wait_for_prompt()
    call.press(BUDI_ORDER + "#")
    assert "Budi Santoso" in call.wait_for_prompt()
    call.hang_up()


def test_wrong_order_ids_never_reveal_anything_and_end_with_an_agent(hotline, session):
    """P1.1: at most three attempts, no hint which part was wrong, no data before."""
    make_customer(session)
    call = hotline.call(BUDI_PHONE)
    call.wait_for_prompt()
    call.press("1")
    call.wait_for_prompt()
    for _ in range(2):
        call.press("11111#")
        heard = call.wait_for_prompt()
        assert "tidak dapat kami verifikasi" in heard and "Budi" not in heard
    call.press("22222#")
    # Queued for an agent, hearing their place: nobody is free, but a callback is not
    # offered, since it could go to no registered number of theirs (P2.1).
    call.wait_for(lambda c: "Anda berada di antrean nomor 1" in " ".join(c.said))
    said = " ".join(call.said)
    assert "Budi" not in said and "1.250.000" not in said and "BCA" not in said
    assert "petugas" in said and "sibuk" not in said
    ticket = _ticket(session)
    assert ticket.category == "unverified" and ticket.customer_id is None
    call.hang_up()


def test_caller_dropping_mid_menu_gets_a_dropped_call_callback(hotline, session):
    """P2.2c: a verified call that ends before the closing summary."""
    make_customer(session)
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.hang_up()
    callback = eventually(lambda: _callback(session))
    assert callback.reason == "dropped_call" and callback.status == "scheduled"
    assert callback.phone == BUDI_PHONE


def test_normal_end_and_unverified_calls_owe_no_callback(hotline, session):
    make_customer(session)
    finished = hotline.call(BUDI_PHONE)
    _verify(finished)
    finished.press("3")
    finished.wait_for_prompt()
    finished.press("2")
    finished.wait_ended()
    stranger = hotline.call("+6289911112222")
    stranger.wait_for_prompt()
    stranger.hang_up()
    eventually(lambda: _count_completed(session) == 2)
    assert _callback(session) is None


def _count_completed(session) -> int:
    session.expire_all()
    return len([c for c in session.scalars(select(Contact)) if c.status == "completed"])


def _callback(session) -> Callback | None:
    session.expire_all()
    return session.scalars(select(Callback)).first()


def test_caller_can_ask_for_a_callback(hotline, session):
    """P2.2a from the menu: recorded once, promised to the caller, summarised at the end."""
    make_customer(session)
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("9")
    assert "menelepon Anda kembali" in call.wait_for_prompt()
    closing = _closing(call, "2")
    callback = _callback(session)
    assert callback.reason == "more_explanation"
    assert "kami akan menelepon Anda kembali" in closing


def test_forged_simulator_token_is_refused_and_nothing_is_recorded(hotline, session):
    make_customer(session)
    hotline.sim.auth_token = "not-the-real-token"
    call = hotline.call(BUDI_PHONE)
    call.wait_ended()
    assert [e for e in call.events if e.get("type") == "error"]
    session.expire_all()
    assert session.scalars(select(Contact)).all() == []


def test_a_whole_call_logs_no_personal_data(hotline, session, caplog):
    """Privacy: no phone number, Order ID or name in any log record of a call and its jobs."""
    import logging

    caplog.set_level(logging.DEBUG)
    make_customer(session)
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("6")  # the SMS job runs too
    call.wait_for_prompt()
    hotline.run_jobs()
    _closing(call, "2")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged  # the run did log (requests, jobs)
    for secret in (BUDI_PHONE, BUDI_PHONE[1:], "081234567890", BUDI_ORDER, "Budi Santoso"):
        assert secret not in logged
