"""Resolving tells the customer, end to end (P1.8, P3.4; CONTRACT "Resolving tells the
customer"): an agent resolves through the API, a real RQ worker sends, and the customer's
phone (the local Twilio simulator) or mailbox (a real SMTP server) receives the summary with
the ticket number in the ticket's language. Nothing of ours is mocked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.config import Settings
from callcenter.models import OutboundMessage, Ticket
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.factories import BUDI_PHONE, make_customer
from tests.support.smtp import (  # noqa: F401 (fixtures)
    email_app_fixture,
    inbound_form,
    mail_sink_fixture,
    post_email,
    run_jobs,
)
from tests.support.waiting import eventually
from webhooks.app import create_app
from workers.messages import requeue_pending_messages

PASSWORD = "long enough password"
SARI = ("sari", PASSWORD)


def _phone_ticket(session, settings, language: str) -> Ticket:
    users.create_user(session, "sari", PASSWORD, "agent")
    budi = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id,
                                   language=language, settings=settings)
    session.commit()
    return ticket


@pytest.mark.parametrize(("language", "expected"), [
    ("id", "pengaduan Anda dengan nomor tiket {number} telah selesai. Ringkasan: {summary}"),
    ("en", "your complaint with ticket number {number} is settled. Summary: {summary}"),
])
def test_the_customer_receives_the_summary_by_sms_in_the_tickets_language(
        hotline, session, language, expected):
    ticket = _phone_ticket(session, hotline.settings, language)
    summary = "Denda keterlambatan sudah dihapus." if language == "id" else "The fee is waived."
    answer = hotline.live.app.test_client().post(
        f"/api/tickets/{ticket.number}/resolve", auth=SARI, json={"summary": summary})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["notice"]["channel"] == "sms"
    hotline.run_jobs()
    received = eventually(lambda: [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE])
    assert len(received) == 1
    assert expected.format(number=ticket.number, summary=summary) in received[0]["body"]
    again = hotline.live.app.test_client().post(
        f"/api/tickets/{ticket.number}/resolve", auth=SARI, json={"summary": summary})
    assert again.status_code == 409
    hotline.run_jobs()
    assert len([m for m in hotline.sim.messages if m["to"] == BUDI_PHONE]) == 1


def test_the_notice_reaches_the_customer_after_redis_was_down(hotline, session, monkeypatch):
    """The outbox row is the promise: resolved while Redis is unreachable, the notice is sent
    by the outbox sweep once Redis is back, exactly once."""
    ticket = _phone_ticket(session, hotline.settings, "id")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    no_redis = create_app(Settings.from_env())
    answer = no_redis.test_client().post(f"/api/tickets/{ticket.number}/resolve", auth=SARI,
                                         json={"summary": "Sudah kami koreksi."})
    assert answer.status_code == 200 and answer.get_json()["notice"]["channel"] == "sms"
    session.expire_all()
    assert session.scalars(select(OutboundMessage)).one().status == "pending"
    assert requeue_pending_messages(min_age_s=0, current=hotline.settings) == 1
    hotline.run_jobs()
    received = eventually(lambda: [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE])
    assert len(received) == 1 and ticket.number in received[0]["body"]
    hotline.run_jobs()
    session.expire_all()
    assert session.scalars(select(OutboundMessage)).one().status == "sent"


def test_an_email_ticket_is_answered_in_the_customers_thread(email_app, session, mail_sink):
    users.create_user(session, "sari", PASSWORD, "agent")
    make_customer(session)
    session.commit()
    client = email_app.test_client()
    assert post_email(client, inbound_form()).status_code == 200
    current = Settings.from_env()
    run_jobs(current)
    mail_sink.wait_for(1)  # the acknowledgement (P3.5)
    session.expire_all()
    ticket = session.scalars(select(Ticket)).one()
    answer = client.post(f"/api/tickets/{ticket.number}/resolve", auth=SARI,
                         json={"summary": "Tagihan sudah kami koreksi."})
    assert answer.get_json()["notice"]["channel"] == "email"
    run_jobs(current)
    notice = mail_sink.wait_for(2)[-1]
    assert notice["To"] == "budi@example.com"
    assert notice["Subject"] == f"Re: Tagihan saya salah [Tiket {ticket.number}]"
    assert notice["In-Reply-To"] == "<cust-1@mail.example.com>"
    body = notice.get_content()
    assert f"nomor tiket {ticket.number} telah selesai" in body
    assert "Tagihan sudah kami koreksi." in body
