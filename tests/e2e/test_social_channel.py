"""SMS and WhatsApp on the same tickets, through the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from callcenter.callbacks import policy
from callcenter.models import Contact, Document, Template, Ticket
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.factories import BUDI_PHONE, make_customer
from tests.support.twilio_client import sign
from tests.support.waiting import eventually

AGENT = ("sari", "long enough password")


def _ticket(session) -> Ticket:
    session.expire_all()
    return session.scalars(select(Ticket)).one()


def _agent(session) -> None:
    users.create_user(session, *AGENT, "agent")
    session.commit()


def _reply(hotline, number: str, **body):
    client = hotline.live.app.test_client()
    return client.post(f"/api/tickets/{number}/messages", json=body,
                       auth=AGENT)


def test_sms_lands_on_the_customers_ticket_and_is_answered_with_its_number(hotline, session):
    make_customer(session)
    replies = hotline.sim.send_sms(from_=BUDI_PHONE, body="Tagihan saya salah")
    ticket = _ticket(session)
    assert ticket.channel == "sms" and ticket.customer_id is not None
    assert len(replies) == 1 and ticket.number in replies[0]
    hotline.sim.send_sms(from_=BUDI_PHONE, body="Ini nomor VA saya 123")
    assert len(session.scalars(select(Ticket)).all()) == 1  # X1: one problem, one ticket
    inbound = session.scalars(select(Contact).where(Contact.direction == "inbound")
                              .order_by(Contact.id)).all()
    assert [c.body for c in inbound] == ["Tagihan saya salah", "Ini nomor VA saya 123"]


def test_whatsapp_threads_onto_the_open_ticket_from_a_call(hotline, session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    ticket.status = "pending_customer"
    session.commit()
    hotline.sim.send_sms(from_="whatsapp:" + BUDI_PHONE, body="Saya kirim detailnya")
    after = _ticket(session)
    assert after.id == ticket.id and after.status == "open"  # the customer answered
    contact = session.scalars(select(Contact).where(Contact.direction == "inbound")).one()
    assert contact.channel == "whatsapp" and contact.sender == BUDI_PHONE


def test_unknown_number_opens_an_unmatched_ticket_and_keeps_threading(hotline, session):
    hotline.sim.send_sms(from_="+6289912345678", body="Halo")
    hotline.sim.send_sms(from_="+6289912345678", body="Halo lagi")
    ticket = _ticket(session)
    assert ticket.customer_id is None and ticket.category == "unverified"
    assert len(session.scalars(select(Contact).where(Contact.direction == "inbound")).all()) == 2


def test_twilio_retry_of_a_message_is_taken_in_once(hotline, session):
    make_customer(session)
    client = hotline.live.app.test_client()
    params = {"MessageSid": "SM" + "a" * 32, "AccountSid": hotline.settings.twilio_account_sid,
              "From": BUDI_PHONE, "To": "+622150001234", "Body": "Halo", "NumMedia": "0"}
    path = "/twilio/messaging/incoming"
    answers = [client.post(path, data=params,
                           headers={"X-Twilio-Signature": sign(hotline.live.url + path, params)})
               for _ in range(2)]
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].get_data() == answers[1].get_data()
    assert len(session.scalars(select(Contact).where(Contact.direction == "inbound")).all()) == 1


@pytest.mark.parametrize(("params", "expected"), [
    ({"MessageSid": "bogus", "From": BUDI_PHONE}, 400),
    ({"MessageSid": "SM" + "b" * 32}, 400),
])
def test_malformed_messages_are_a_clear_400(hotline, session, params, expected):
    client = hotline.live.app.test_client()
    path = "/twilio/messaging/incoming"
    response = client.post(path, data=params, headers={
        "X-Twilio-Signature": sign(hotline.live.url + path, params)})
    assert response.status_code == expected and response.is_json


def test_unsigned_message_is_refused(hotline, session):
    response = hotline.live.app.test_client().post(
        "/twilio/messaging/incoming", data={"MessageSid": "SM" + "c" * 32, "From": BUDI_PHONE})
    assert response.status_code == 403


def test_agent_sms_reply_goes_out_and_starts_the_no_response_clock(hotline, session):
    """P2.2b: our question, then silence past the limit, owes a callback."""
    make_customer(session)
    _agent(session)
    hotline.sim.send_sms(from_=BUDI_PHONE, body="Tolong jelaskan denda saya")
    ticket = _ticket(session)
    response = _reply(hotline, ticket.number, channel="sms", text="Boleh kirim foto tagihan?")
    assert response.status_code == 202, response.get_json()
    hotline.run_jobs()
    sent = hotline.sim.wait_for_message(to=BUDI_PHONE)
    assert sent["body"] == "Boleh kirim foto tagihan?"
    ours = eventually(lambda: session.expire_all() or session.scalars(
        select(Contact).where(Contact.external_id == sent["sid"])).first())
    assert ours.asks_customer and _ticket(session).status == "pending_customer"
    eventually(lambda: (session.expire_all() or session.scalars(select(Contact).where(
        Contact.external_id == sent["sid"])).one()).status == "delivered")
    later = datetime.now(UTC) + timedelta(hours=hotline.settings.no_response_hours + 1)
    owed = policy.schedule_no_response(session, hotline.settings, now=later)
    assert [c.reason for c in owed] == ["no_response"]


def test_whatsapp_free_text_only_inside_the_24_hour_window(hotline, session):
    make_customer(session)
    _agent(session)
    hotline.sim.send_sms(from_="whatsapp:" + BUDI_PHONE, body="Halo")
    number = _ticket(session).number
    assert _reply(hotline, number, channel="whatsapp", text="Halo Budi").status_code == 202
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25)):
        closed = _reply(hotline, number, channel="whatsapp", text="Masih di sana?")
        assert closed.status_code == 409 and "24-hour" in closed.get_json()["message"]
        template = Template(key="follow_up", language="id", status="approved",
                            channel="whatsapp", body="Cankul: ada kabar tentang tiket Anda.",
                            twilio_content_sid="HX" + "1" * 32)
        draft = Template(key="draft", language="id", status="draft", channel="whatsapp",
                         body="x")
        session.add_all([template, draft])
        session.commit()
        assert _reply(hotline, number, channel="whatsapp",
                      template_id=draft.id).status_code == 400
        assert _reply(hotline, number, channel="whatsapp",
                      template_id=template.id).status_code == 202
    hotline.run_jobs()
    bodies = [m["body"] for m in hotline.sim.messages if m["to"] == "whatsapp:" + BUDI_PHONE]
    assert bodies == ["Halo Budi", "Cankul: ada kabar tentang tiket Anda."]


def test_replies_need_an_agent(hotline, session):
    make_customer(session)
    hotline.sim.send_sms(from_=BUDI_PHONE, body="Halo")
    client = hotline.live.app.test_client()
    number = _ticket(session).number
    assert client.post(f"/api/tickets/{number}/messages", json={"text": "x"}).status_code == 401


def test_whatsapp_photo_is_kept_as_a_supporting_document(hotline, session):
    make_customer(session)
    photo = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    hotline.sim.send_sms(from_="whatsapp:" + BUDI_PHONE, body="Ini KTP saya",
                         media=[("image/png", photo)])
    hotline.run_jobs()
    document = eventually(lambda: session.expire_all() or session.scalars(
        select(Document)).first())
    assert document.data == photo and document.content_type == "image/png"
    assert document.source == "whatsapp" and document.ticket_id == _ticket(session).id


def test_status_keyword_answers_the_customer_and_nobody_else(hotline, session):
    """A customer may ask for the status at any time (POJK 18/2018): by SMS keyword."""
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.commit()
    answer = hotline.sim.send_sms(from_=BUDI_PHONE, body=f"status {ticket.number}")[0]
    assert ticket.number in answer and "sedang kami proses" in answer
    assert "paling lambat" in answer.lower()
    stranger = hotline.sim.send_sms(from_="+6289912345678", body=f"CEK {ticket.number}")[0]
    assert "tidak menemukan" in stranger and ticket.number not in stranger
    mistyped = hotline.sim.send_sms(from_=BUDI_PHONE, body="status 1234567")[0]
    assert "tidak menemukan" in mistyped
    assert len(session.scalars(select(Ticket)).all()) == 1  # a query opens no ticket
    queries = session.scalars(select(Contact).where(Contact.direction == "inbound")).all()
    assert [c.ticket_id for c in queries] == [ticket.id]  # X2: logged on its ticket
