"""Nothing lost: an SMS whose job vanished with Redis is sent by the sweep, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from callcenter.channels import messages
from callcenter.models import OutboundMessage
from callcenter.tickets import lifecycle
from tests.factories import BUDI_PHONE, make_customer
from workers.messages import requeue_pending_messages
from workers.queues import enqueue_outbox


def _pending_sms(session) -> OutboundMessage:
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    message = messages.queue_message(session, ticket_id=ticket.id, to_number=BUDI_PHONE,
                                     body="Cankul: tiket Anda " + (ticket.number or ""))
    session.commit()
    return message


def test_sms_lost_with_redis_is_sent_by_the_sweep_exactly_once(hotline, session, redis_conn):
    message = _pending_sms(session)
    enqueue_outbox(hotline.settings, "sms", message.id)
    redis_conn.flushdb()  # the job is gone, the outbox row is not
    assert requeue_pending_messages() == 0  # too young: its job may still be running
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16)):
        assert requeue_pending_messages() == 1
        assert enqueue_outbox(hotline.settings, "sms", message.id) is False  # already queued
        hotline.run_jobs()
        assert requeue_pending_messages() == 0
    sent = [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE]
    assert len(sent) == 1
    session.expire_all()
    assert session.scalars(select(OutboundMessage)).one().status == "sent"


def test_a_message_failed_for_good_is_not_retried_forever(hotline, session):
    message = _pending_sms(session)
    message.attempts = 8
    session.commit()
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16)):
        assert requeue_pending_messages() == 0
    session.expire_all()
    assert session.get(OutboundMessage, message.id).status == "failed"


def test_a_lost_status_callback_is_recovered_and_the_dropped_call_owed(hotline, session):
    """The status callback of a dropped verified call never arrives: the sweep asks Twilio
    how the call ended, closes the contact and owes the dropped-call callback (P2.2c)."""
    from callcenter.models import Callback, Contact
    from tests.e2e.test_inbound_hotline import _verify
    from workers.call_status import settle_silent_calls

    make_customer(session)
    hotline.sim.status_url = None  # Twilio's status callbacks get lost
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.hang_up()
    call.wait_ended()
    session.expire_all()
    contact = session.scalars(select(Contact)).one()
    assert contact.status == "in-progress" and session.scalars(select(Callback)).all() == []
    assert settle_silent_calls(hotline.settings) == 0  # too recent to call it lost
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=3)):  # minutes, not hours
        assert settle_silent_calls(hotline.settings) == 1
        assert settle_silent_calls(hotline.settings) == 0
    session.expire_all()
    assert session.get(Contact, contact.id).status == "completed"
    assert [c.reason for c in session.scalars(select(Callback))] == ["dropped_call"]
