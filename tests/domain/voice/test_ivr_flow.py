"""The IVR state machine played without HTTP (ARCHITECTURE: runnable in a Python shell)."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.config import Settings
from callcenter.content import Content
from callcenter.models import Callback, OutboundMessage, Ticket
from callcenter.tickets import lifecycle
from callcenter.voice import calls
from callcenter.voice.ivr import Ivr, Turn
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer, make_ticket


class Phone:
    """Plays one call against the state machine, committing like the web layer does."""

    def __init__(self, session, settings: Settings, caller_id: str | None, sid: str = "CA1"):
        self.session = session
        self.ivr = Ivr(session, settings, Content.load())
        self.contact, _ = calls.begin_inbound(session, sid, caller_id, "+622150001234")
        self.turn = self.ivr.start(self.contact)
        session.commit()

    def press(self, digits: str | None) -> Turn:
        self.turn = self.ivr.handle(self.contact, digits)
        self.session.commit()
        return self.turn

    @property
    def heard(self) -> str:
        return self.turn.text()


def test_known_caller_verifies_with_order_id_then_name(session, settings):
    make_customer(session)
    phone = Phone(session, settings, BUDI_PHONE)
    assert "Order ID" in phone.press("1").text()
    assert "Budi Santoso" in phone.press(BUDI_ORDER).text()
    turn = phone.press("1")
    assert "terverifikasi" in turn.text()
    assert "Tekan 3 untuk jumlah tagihan" in turn.text()
    assert phone.contact.verified


def test_bill_amount_in_rupiah_with_due_date_then_anything_else(session, settings):
    make_customer(session)
    phone = Phone(session, settings, BUDI_PHONE)
    for keys in ("1", BUDI_ORDER, "1"):
        phone.press(keys)
    text = phone.press("3").text()
    assert "1.250.000 rupiah" in text
    assert "5 Desember 2026" in text
    assert "hal lain" in text  # P1.7


def test_closing_summarises_reads_ticket_and_resolves_inquiry(session, settings):
    make_customer(session)
    phone = Phone(session, settings, BUDI_PHONE)
    for keys in ("2", BUDI_ORDER, "1", "3"):
        phone.press(keys)
    turn = phone.press("2")
    ticket = session.scalars(select(Ticket)).one()
    spoken = turn.text()
    assert "summary of your call" in spoken
    assert "a bill of 1,250,000 rupiah due on 5 December 2026" in spoken
    assert " ".join(ticket.number) in spoken  # digit by digit (P1.6)
    assert turn.end == "hangup"
    assert ticket.status == "resolved"
    assert "1,250,000" in (ticket.summary or "")


def test_wrong_order_id_three_times_goes_to_agent_without_saying_why(session, settings):
    make_customer(session)
    phone = Phone(session, settings, BUDI_PHONE)
    phone.press("1")
    for _attempt in range(3):
        turn = phone.press("99999")
        assert "Budi" not in turn.text()
        assert "Order ID tidak" not in turn.text()
    assert turn.end == "enqueue"
    assert not phone.contact.verified
    ticket = session.scalars(select(Ticket)).one()
    assert ticket.category == "unverified" and ticket.customer_id is None


def test_unknown_caller_is_asked_for_phone_first(session, settings):
    make_customer(session)
    phone = Phone(session, settings, "+6289999999999")
    assert "nomor telepon" in phone.press("1").text()
    assert "Order ID" in phone.press("081234567890").text()
    assert "Budi Santoso" in phone.press(BUDI_ORDER).text()


def test_payment_detail_problem_goes_to_email_with_sms(session, settings):
    make_customer(session)
    phone = Phone(session, settings, BUDI_PHONE)
    for keys in ("1", BUDI_ORDER, "1"):
        phone.press(keys)
    turn = phone.press("6")
    ticket = session.scalars(select(Ticket)).one()
    assert settings.support_email in turn.text()
    assert " ".join(ticket.number) in turn.text()
    sms = session.scalars(select(OutboundMessage)).one()
    assert sms.to_number == BUDI_PHONE and ticket.number in sms.body
    assert ticket.category == "payment_detail" and ticket.status == "pending_customer"
    assert turn.message_ids == [sms.id]


def test_repeat_caller_continues_open_ticket_with_agent(session, settings):
    make_customer(session)
    first = Phone(session, settings, BUDI_PHONE, sid="CA1")
    for keys in ("1", BUDI_ORDER, "1", "7", "2"):
        first.press(keys)
    ticket = session.scalars(select(Ticket)).one()
    second = Phone(session, settings, BUDI_PHONE, sid="CA2")
    for keys in ("1", BUDI_ORDER):
        second.press(keys)
    assert ticket.number in second.press("1").text().replace(" ", "")
    turn = second.press("1")
    assert turn.end == "enqueue"
    assert second.contact.ticket_id == ticket.id
    assert session.scalars(select(Ticket)).all() == [ticket]


def test_a_call_that_has_its_own_ticket_when_verified_keeps_it(session, settings):
    """The call's ticket becomes the customer's as they are verified, and is then their most
    recent open ticket: no older one is offered (the step writes the ticket before it looks
    for one, though it writes the contact only once)."""
    customer = make_customer(session)
    make_ticket(session, channel="voice", customer=customer)  # an older open ticket
    session.commit()
    phone = Phone(session, settings, BUDI_PHONE)
    phone.press("1")
    own = lifecycle.open_ticket(session, channel="voice", customer_id=None,
                                category="unverified")
    phone.contact.ticket, phone.contact.ticket_id = own, own.id
    session.commit()
    phone.press(BUDI_ORDER)
    turn = phone.press("1")
    assert "Tekan 3 untuk jumlah tagihan" in turn.text()  # the menu, not "continue ticket …"
    session.expire_all()
    assert own.customer_id == customer.id and phone.contact.ticket_id == own.id


def test_callback_request_is_recorded_once(session, settings):
    make_customer(session)
    phone = Phone(session, settings, BUDI_PHONE)
    for keys in ("1", BUDI_ORDER, "1", "9", "1", "9"):
        phone.press(keys)
    callbacks = session.scalars(select(Callback)).all()
    assert len(callbacks) == 1
    assert callbacks[0].reason == "more_explanation" and callbacks[0].phone == BUDI_PHONE


def test_silence_is_asked_again_then_handed_to_agent(session, settings):
    make_customer(session)
    phone = Phone(session, settings, BUDI_PHONE)
    phone.press(None)  # language: silence means Indonesian
    assert "tidak menerima" in phone.press(None).text()
    phone.press(None)
    assert phone.press(None).end == "enqueue"
