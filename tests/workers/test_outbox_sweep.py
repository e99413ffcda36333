"""Nothing lost: an SMS whose job vanished with Redis is sent by the sweep, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from callcenter import messages, tickets
from callcenter.models import OutboundMessage
from tests.factories import BUDI_PHONE, make_customer
from workers.messages import requeue_pending_messages
from workers.queues import enqueue_send_message


def _pending_sms(session) -> OutboundMessage:
    customer = make_customer(session)
    ticket = tickets.open_ticket(session, channel="voice", customer_id=customer.id)
    message = messages.queue_message(session, ticket_id=ticket.id, to_number=BUDI_PHONE,
                                     body="Cankul: tiket Anda " + (ticket.number or ""))
    session.commit()
    return message


def test_sms_lost_with_redis_is_sent_by_the_sweep_exactly_once(hotline, session, redis_conn):
    message = _pending_sms(session)
    enqueue_send_message(hotline.settings, message.id)
    redis_conn.flushdb()  # the job is gone, the outbox row is not
    assert requeue_pending_messages() == 0  # too young: its job may still be running
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16)):
        assert requeue_pending_messages() == 1
        assert enqueue_send_message(hotline.settings, message.id) is False  # already queued
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
