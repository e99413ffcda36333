"""``POST /api/tickets/<n>/resolve`` says where the customer's notice went (CONTRACT
"Resolving tells the customer"; the ``notice`` field is an addition)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.models import OutboundEmail, OutboundMessage
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.factories import BUDI_PHONE, make_customer
from webhooks.app import create_app

PASSWORD = "long enough password"
SARI = ("sari", PASSWORD)


@pytest.fixture
def client(settings, session):
    users.create_user(session, "sari", PASSWORD, "agent")
    session.commit()
    return create_app(settings).test_client()


def test_the_answer_names_the_channel_of_the_notice(client, session, settings):
    budi = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id,
                                   language="en", settings=settings)
    session.commit()
    answer = client.post(f"/api/tickets/{ticket.number}/resolve", auth=SARI,
                         json={"summary": "The fee is waived."})
    assert answer.status_code == 200
    body = answer.get_json()
    sms = session.scalars(select(OutboundMessage)).one()
    assert body["notice"] == {"channel": "sms", "id": sms.id} and body["notice_missing"] is None
    assert sms.to_number == BUDI_PHONE and sms.body.startswith("Cankul: your complaint")
    assert body["status"] == "resolved"


def test_no_customer_no_notice_and_the_answer_says_why(client, session, settings):
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=None,
                                   settings=settings)
    ticket.customer_email = "orang.lain@example.net"
    session.commit()
    answer = client.post(f"/api/tickets/{ticket.number}/resolve", auth=SARI,
                         json={"summary": "Bukan nasabah kami."})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["notice"] is None
    assert body["notice_missing"] == "The ticket has no verified customer, so nobody was told."
    assert not session.scalars(select(OutboundEmail)).all()
    assert not session.scalars(select(OutboundMessage)).all()
