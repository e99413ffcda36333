"""An oral complaint not settled in its period continues as a written one, once.

POJK 18/2018 art. 34 (kept by POJK 22/2023). The calendar used (``holidays``, country ID,
default settings: collective leave counted as working days): a voice complaint on Tue 17 Mar
2026 10:00 WIB runs Wed 18 (joint leave, counted), [Thu 19 Nyepi], Fri 20, [Sat 21/Sun 22,
Idul Fitri], Mon 23, Tue 24, Wed 25: its oral period ends Wed 25 Mar 23:59:59. The written
period (10) then runs 26, 27, 30, 31 Mar, 1, 2 Apr, [Fri 3 Good Friday, weekend], 6, 7, 8, 9:
due Thu 9 Apr; the one extension (10 more) makes it Thu 23 Apr.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time

import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.compliance import complaint_kind, regulation
from callcenter.db import session_factory
from callcenter.models import (
    AuditEntry,
    OutboundEmail,
    OutboundMessage,
    RequiredDocument,
    Ticket,
)
from callcenter.tickets import lifecycle
from tests.domain.compliance.test_regulation import WIB, end_of, wib
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from workers.queues import queue
from workers.sweeps import convert_overdue_oral

OPENED = wib(2026, 3, 17, 10)
ORAL_DUE = end_of(2026, 3, 25)
WRITTEN_DUE = end_of(2026, 4, 9)
EXTENDED_DUE = end_of(2026, 4, 23)


def _voice_ticket(session: Session, **fields: object) -> Ticket:
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                                 category="payment_detail", now=OPENED)
    for name, value in fields.items():
        setattr(ticket, name, value)
    session.commit()
    return ticket


def _messages(session: Session) -> list[OutboundMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def _conversions(session: Session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.action == complaint_kind.ACTION)))


def test_open_ticket_stores_the_kind_from_the_channel(session):
    customer = make_customer(session)
    oral = lifecycle.open_ticket(session, channel="walk_in", customer_id=customer.id)
    written = lifecycle.open_ticket(session, channel="whatsapp", customer_id=customer.id)
    session.commit()
    session.expire_all()
    assert (oral.kind, written.kind) == ("oral", "written")
    assert oral.converted_at is None


def test_the_sweep_converts_after_the_weekend_and_holidays_and_tells_the_customer_once(
        session, settings, redis_conn):
    ticket = _voice_ticket(session)
    assert ticket.due_at == ORAL_DUE
    # The last evening of the oral period, and the night after it: nothing yet.
    with time_machine.travel(wib(2026, 3, 25, 19), tick=False):
        assert convert_overdue_oral(settings) == 0
    with time_machine.travel(wib(2026, 3, 26, 0, 30), tick=False):
        assert convert_overdue_oral(settings) == 0  # nobody gets the notice at night
    session.expire_all()
    assert session.get(Ticket, ticket.id).kind == "oral"

    morning = wib(2026, 3, 26, 8, 5)
    with time_machine.travel(morning, tick=False):
        assert convert_overdue_oral(settings) == 1
        assert convert_overdue_oral(settings) == 0  # the second sweep finds nothing to do
    session.expire_all()
    converted = session.get(Ticket, ticket.id)
    assert converted.kind == "written" and converted.channel == "voice"
    assert converted.converted_at == morning
    assert converted.due_at == WRITTEN_DUE  # counted from the end of the oral period
    assert converted.status == "open"  # the customer is told, not asked: no waiting state

    [notice] = _messages(session)
    assert notice.to_number == BUDI_PHONE and notice.status == "pending"
    assert ticket.number in notice.body and "pengaduan tertulis" in notice.body
    assert "9 April 2026" in notice.body
    queued = queue(settings, "default").get_job_ids()
    assert queued == [f"sms-{notice.id}"]  # its send job, enqueued once after the commit

    [entry] = _conversions(session)
    assert entry.actor == "system:sweep" and entry.subject == f"ticket:{ticket.number}"
    for personal in (BUDI_PHONE, BUDI_ORDER, "Budi", "0812"):
        assert personal not in (entry.detail or "")


def test_the_extension_is_allowed_for_a_converted_ticket(session, settings):
    ticket = _voice_ticket(session)
    before = regulation.extension_allowed(ticket, wib(2026, 3, 24), settings)
    assert not before.allowed and "oral" in before.reason
    assert complaint_kind.convert(session, settings, ticket, wib(2026, 3, 26, 9)) is not None
    session.commit()
    decision = regulation.extension_allowed(ticket, wib(2026, 4, 2), settings)
    assert decision.allowed, decision.reason
    assert decision.first_due_at == WRITTEN_DUE and decision.new_due_at == EXTENDED_DUE
    ticket.due_at = decision.new_due_at  # what actions.extend_deadline stores
    session.commit()
    assert regulation.is_extended(ticket, settings)
    regulation.refresh_due(ticket, settings)
    assert ticket.due_at == EXTENDED_DUE  # a converted ticket keeps its written clock
    again = regulation.extension_allowed(ticket, wib(2026, 4, 3), settings)
    assert not again.allowed and "already" in again.reason


def test_pojk18_gives_the_converted_ticket_twenty_working_days(session, settings):
    pojk18 = replace(settings, complaint_rules="pojk18_2018")
    ticket = _voice_ticket(session)
    done = complaint_kind.convert(session, pojk18, ticket, wib(2026, 3, 26, 9))
    session.commit()
    assert done is not None and ticket.due_at == end_of(2026, 4, 23)
    assert "23 April 2026" in _messages(session)[0].body


def test_outstanding_documents_hold_the_written_clock(session, settings):
    ticket = _voice_ticket(session, status="pending_documents")
    ticket.required_documents.append(RequiredDocument(
        ticket_id=ticket.id, name="Bukti transfer", requested_at=wib(2026, 3, 18)))
    session.commit()
    with time_machine.travel(wib(2026, 3, 26, 9), tick=False):
        assert convert_overdue_oral(settings) == 1
    session.expire_all()
    converted = session.get(Ticket, ticket.id)
    assert converted.kind == "written" and converted.due_at is None
    assert "10 hari kerja setelah dokumen" in _messages(session)[0].body
    # The document arrives on Wed 1 Apr: ten working days from then (Good Friday skipped).
    converted.required_documents[0].received_at = wib(2026, 4, 1, 14)
    converted.status = "open"
    regulation.refresh_due(converted, settings)
    assert converted.due_at == end_of(2026, 4, 16)


def test_settled_written_and_not_yet_due_tickets_are_left_alone(session, settings):
    customer = make_customer(session)
    settled = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                                  now=OPENED)
    settled.status, settled.resolved_at = "resolved", wib(2026, 3, 20)
    written = lifecycle.open_ticket(session, channel="email", customer_id=customer.id,
                                  now=wib(2026, 3, 2))
    fresh = lifecycle.open_ticket(session, channel="walk_in", customer_id=customer.id,
                                now=wib(2026, 3, 24))
    session.commit()
    now = wib(2026, 3, 26, 9)
    assert complaint_kind.candidates(session, now) == []
    assert convert_overdue_oral(settings, now=now) == 0
    session.expire_all()
    assert [t.kind for t in (settled, written, fresh)] == ["oral", "written", "oral"]
    assert _messages(session) == []


def test_two_sweeps_at_once_convert_and_notify_once(session, settings):
    ticket = _voice_ticket(session)
    other: Session = session_factory(settings.database_url)()
    try:
        stale = other.get(Ticket, ticket.id)  # loaded before the first sweep commits
        assert stale is not None and stale.kind == "oral"
        assert complaint_kind.convert(session, settings, ticket, wib(2026, 3, 26, 9))
        session.commit()
        assert complaint_kind.convert(other, settings, stale, wib(2026, 3, 26, 9)) is None
        other.commit()
    finally:
        other.close()
    assert len(_messages(session)) == 1 and len(_conversions(session)) == 1


def test_without_a_phone_the_notice_goes_by_email(session, settings):
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=None,
                                 category="unverified", now=OPENED)
    ticket.customer_email = "pelapor@example.com"
    session.commit()
    done = complaint_kind.convert(session, settings, ticket, wib(2026, 3, 26, 9))
    session.commit()
    assert done is not None and done.message_id is None
    email = session.scalars(select(OutboundEmail)).one()
    assert email.id == done.email_id and email.to_address == "pelapor@example.com"
    assert f"[Tiket {ticket.number}]" in email.subject and "9 April 2026" in email.body


def test_conversion_in_english_for_an_english_ticket(session, settings):
    ticket = _voice_ticket(session, language="en")
    complaint_kind.convert(session, settings, ticket, wib(2026, 3, 26, 9))
    session.commit()
    body = _messages(session)[0].body
    assert "written complaint" in body and "9 April 2026" in body


def test_a_due_date_stored_too_early_is_moved_not_converted(session, settings):
    """A company day off declared after the ticket was opened moves its oral deadline."""
    ticket = _voice_ticket(session)
    later = replace(settings, company_days_off=(date(2026, 3, 25),))
    now = datetime.combine(date(2026, 3, 26), time(9), tzinfo=WIB)
    assert complaint_kind.convert(session, later, ticket, now) is None
    session.commit()
    assert ticket.kind == "oral" and ticket.due_at == end_of(2026, 3, 26)
    assert complaint_kind.candidates(session, now) == []
