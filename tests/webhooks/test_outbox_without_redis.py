"""Nothing lost: with Redis down, a person's reply is still accepted and written to the
outbox; the outbox sweep sends it when Redis is back (tests/workers/test_outbox_sweep.py)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from callcenter.models import OutboundMessage
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.factories import make_customer
from webhooks.app import create_app

AGENT = ("sari", "long enough password")


def test_an_sms_reply_is_accepted_and_kept_while_redis_is_down(settings, session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="sms", customer_id=customer.id)
    users.create_user(session, *AGENT, "agent")
    session.commit()
    no_redis = replace(settings, redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    reply = create_app(no_redis).test_client().post(
        f"/api/tickets/{ticket.number}/messages", json={"channel": "sms", "text": "Halo Budi"},
        auth=AGENT)
    assert reply.status_code == 202, reply.get_data(as_text=True)
    session.expire_all()
    message = session.scalars(select(OutboundMessage)).one()
    assert message.body == "Halo Budi" and message.status == "pending"
