"""Resolving tells the customer (P1.8, P3.4; CONTRACT "Resolving tells the customer"): the
summary with the ticket number, on the ticket's channel, in its language, only to the verified
customer's registered address, written to the outbox once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.channels import email_inbound, inbox, social
from callcenter.channels.email_inbound import ParsedEmail
from callcenter.content import Content
from callcenter.models import AuditEntry, OutboundEmail, OutboundMessage, Template, Ticket, utcnow
from callcenter.tickets import actions, lifecycle, resolution_notice
from tests.factories import BUDI_PHONE, make_customer

ACTOR = "user:sari"


@pytest.fixture
def content():
    return Content.load()


def _ticket(session, settings, channel="voice", language="id", customer=True) -> Ticket:
    budi = make_customer(session) if customer else None
    ticket = lifecycle.open_ticket(session, channel=channel,
                                   customer_id=budi.id if budi else None, language=language,
                                   settings=settings)
    session.commit()
    return ticket


def _mail(session, settings, sender: str, subject: str = "Tagihan saya salah"):
    parsed = ParsedEmail(
        sender=sender, subject=subject, text="Mohon dicek.", html=None,
        message_id=f"<{utcnow().timestamp()}@mail.example>", in_reply_to=None,
        references=None, to=["cs@cankul.co.id"], auto_generated=False, attachments=[],
        spf="pass")
    taken = email_inbound.take_in(session, settings, parsed)
    session.commit()
    return taken.contact


def _whatsapp_in(session, settings, at=None):
    params = {"MessageSid": "SM" + utcnow().strftime("%H%M%S%f").ljust(32, "0"),
              "From": f"whatsapp:{BUDI_PHONE}", "To": "whatsapp:+622150001234",
              "Body": "Halo", "NumMedia": "0"}
    taken = social.take_in(session, settings, params)
    if at is not None:
        taken.contact.started_at = at
    session.commit()
    return taken.ticket


def test_a_phone_ticket_is_settled_with_an_indonesian_sms_to_the_registered_number(
        session, settings, content):
    ticket = _ticket(session, settings)
    done = actions.resolve(session, settings, content, ticket, "Tagihan sudah kami koreksi.",
                           actor=ACTOR)
    session.commit()
    assert done.notice is not None and done.notice.kind == "sms" and done.why_not is None
    sms = session.scalars(select(OutboundMessage)).one()
    assert sms.to_number == BUDI_PHONE and sms.channel == "sms"
    assert sms.body.startswith(f"Cankul: pengaduan Anda dengan nomor tiket {ticket.number} "
                               "telah selesai. Ringkasan: Tagihan sudah kami koreksi.")
    assert not sms.asks_customer  # the ticket stays resolved, no P2.2b clock
    assert session.get(Ticket, ticket.id).status == "resolved"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "resolve_ticket")).one()
    assert audit.detail == f"notice sms:{sms.id}"


def test_resolving_twice_is_refused_and_the_customer_hears_once(session, settings, content):
    ticket = _ticket(session, settings)
    actions.resolve(session, settings, content, ticket, "Sudah dijelaskan.", actor=ACTOR)
    session.commit()
    with pytest.raises(actions.ActionRefused, match="already resolved"):
        actions.resolve(session, settings, content, ticket, "Sekali lagi.", actor=ACTOR)
    assert len(session.scalars(select(OutboundMessage)).all()) == 1


def test_an_english_ticket_is_told_in_english(session, settings, content):
    ticket = _ticket(session, settings, language="en")
    actions.resolve(session, settings, content, ticket, "We corrected the bill", actor=ACTOR)
    sms = session.scalars(select(OutboundMessage)).one()
    assert sms.body.startswith(f"Cankul: your complaint with ticket number {ticket.number} is "
                               "settled. Summary: We corrected the bill")


def test_an_email_ticket_is_answered_in_its_thread_to_the_registered_address(
        session, settings, content):
    make_customer(session)
    inbound = _mail(session, settings, "budi@example.com")
    ticket = inbound.ticket
    session.query(OutboundEmail).delete()  # the acknowledgement (P3.5) is not our subject
    done = actions.resolve(session, settings, content, ticket, "Denda sudah dihapus.",
                           actor=ACTOR)
    session.commit()
    assert done.notice is not None and done.notice.kind == "email"
    email = session.scalars(select(OutboundEmail)).one()
    assert email.to_address == "budi@example.com"
    assert email.subject == f"Re: Tagihan saya salah [Tiket {ticket.number}]"
    assert email.in_reply_to == inbound.external_id
    assert f"nomor tiket {ticket.number} telah selesai" in email.body
    assert "Denda sudah dihapus." in email.body
    assert not session.scalars(select(OutboundMessage)).all()


def test_a_stranger_who_opened_the_ticket_is_told_nothing(session, settings, content):
    """An email from an unknown address opens a ticket without a customer: resolving it sends
    nothing, and the person resolving learns why."""
    inbound = _mail(session, settings, "orang.lain@example.net")
    ticket = inbound.ticket
    before = len(session.scalars(select(OutboundEmail)).all())
    done = actions.resolve(session, settings, content, ticket, "Bukan pelanggan.", actor=ACTOR)
    session.commit()
    assert done.notice is None and done.why_not == resolution_notice.NO_CUSTOMER
    assert len(session.scalars(select(OutboundEmail)).all()) == before
    assert not session.scalars(select(OutboundMessage)).all()
    assert session.get(Ticket, ticket.id).status == "resolved"


def test_whatsapp_inside_the_window_then_a_template_then_sms(session, settings, content):
    """Meta's 24-hour window (social's rule): free text inside it; outside it only an approved
    Content-SID template; with none the same registered number gets an SMS."""
    make_customer(session)
    fresh = _whatsapp_in(session, settings)
    inside = actions.resolve(session, settings, content, fresh, "Sudah dibayar.", actor=ACTOR)
    assert inside.notice.kind == "whatsapp" and inside.notice.row.to_number == BUDI_PHONE

    def stale_ticket() -> Ticket:
        ticket = lifecycle.open_ticket(session, channel="whatsapp",
                                       customer_id=fresh.customer_id, settings=settings)
        for contact in fresh.contacts:
            contact.started_at = utcnow() - timedelta(hours=25)
        session.commit()
        return ticket

    fallback = actions.resolve(session, settings, content, stale_ticket(), "Sudah dibayar.",
                               actor=ACTOR)
    assert fallback.notice.kind == "sms" and fallback.notice.row.channel == "sms"
    session.add(Template(key=resolution_notice.WHATSAPP_TEMPLATE_KEY, language="id",
                         version=1, status="approved", channel="whatsapp",
                         body="Pengaduan {ticket} telah selesai.",
                         twilio_content_sid="HX" + "0" * 32))
    session.commit()
    ticket = stale_ticket()
    templated = actions.resolve(session, settings, content, ticket, "Sudah dibayar.",
                                actor=ACTOR)
    row = templated.notice.row
    assert templated.notice.kind == "whatsapp" and row.content_sid == "HX" + "0" * 32
    assert row.body == f"Pengaduan {ticket.number} telah selesai."


def test_a_long_summary_still_fits_one_twilio_message(session, settings, content):
    ticket = _ticket(session, settings)
    actions.resolve(session, settings, content, ticket, "kata " * 399 + "akhir", actor=ACTOR)
    sms = session.scalars(select(OutboundMessage)).one()
    assert len(sms.body) <= resolution_notice.SMS_MAX_CHARS and "…" in sms.body
    assert ticket.number in sms.body


def test_closing_a_ticket_emptied_by_linking_tells_nobody(session, settings, content):
    """Housekeeping: the inbox moves an unmatched email to the customer's ticket and settles
    the empty one without a notice to anyone."""
    budi = make_customer(session)
    target = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id,
                                   settings=settings)
    unmatched = _mail(session, settings, "budi.kantor@example.net")
    source_id = unmatched.ticket_id
    emails_before = len(session.scalars(select(OutboundEmail)).all())
    linked = inbox.link_email(session, settings, unmatched, target, actor=ACTOR,
                              sender_confirmed=True)
    session.commit()
    assert linked.left_settled and session.get(Ticket, source_id).status == "resolved"
    assert len(session.scalars(select(OutboundEmail)).all()) == emails_before
    assert not session.scalars(select(OutboundMessage)).all()
