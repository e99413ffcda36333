"""The email channel end to end (P3.1–P3.5, X1, X2): the service's app, a real RQ worker, a
real SMTP server (aiosmtpd), the real database; nothing of ours is mocked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.callbacks import policy
from callcenter.channels import templates
from callcenter.config import Settings
from callcenter.models import AuditEntry, Contact, OutboundEmail, Ticket, utcnow
from callcenter.people import users
from callcenter.tickets import lifecycle
from callcenter.tickets.numbers import number_for
from tests.factories import make_customer
from tests.support.smtp import (  # noqa: F401 (fixtures)
    email_app_fixture,
    free_port,
    inbound_form,
    mail_sink_fixture,
    post_email,
    run_jobs,
)
from workers.email import TransientSmtpError, send_email

AGENT = ("sari", "long enough password")
QA = ("qori", "long enough password")


def _tickets(session) -> list[Ticket]:
    session.expire_all()
    return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def _new_email_with_ack(email_app, session, mail_sink, **form):
    """A customer's first email, its acknowledgement sent; returns (ticket, ack message)."""
    answer = post_email(email_app.test_client(), inbound_form(**form))
    assert answer.status_code == 200
    run_jobs(Settings.from_env())
    ack = mail_sink.wait_for(1)[-1]
    return _tickets(session)[-1], ack


def test_a_new_email_is_acknowledged_over_smtp_with_the_ticket_number(email_app, session,
                                                                     mail_sink):
    """P3.5: the ticket number is the output, threaded to the customer's email."""
    make_customer(session)
    ticket, ack = _new_email_with_ack(email_app, session, mail_sink)
    assert f"[Tiket {ticket.number}]" in ack["Subject"]
    assert ack["Subject"].startswith("Re: Tagihan saya salah")
    assert ack["In-Reply-To"] == "<cust-1@mail.example.com>"
    assert "<cust-1@mail.example.com>" in ack["References"]
    assert ack["To"] == "budi@example.com" and "cs@cankul.co.id" in ack["From"]
    assert ack["Message-ID"].startswith(f"<t{ticket.id}.")
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ticket.number in ack.get_content()
    session.expire_all()
    outbox = session.scalars(select(OutboundEmail)).one()
    assert outbox.status == "sent" and outbox.sent_at is not None
    sent = session.scalars(select(Contact).where(Contact.direction == "outbound")).one()
    assert (sent.channel, sent.external_id) == ("email", ack["Message-ID"])
    assert sent.body == outbox.body and sent.asks_customer is False


def test_a_reply_to_our_acknowledgement_threads_by_its_headers(email_app, session, mail_sink):
    """X1: In-Reply-To names our signed Message-ID → same ticket, even without a number."""
    make_customer(session)
    ticket, ack = _new_email_with_ack(email_app, session, mail_sink)
    post_email(email_app.test_client(), inbound_form(
        subject="Re: something else entirely", message_id="<cust-2@mail.example.com>",
        in_reply_to=ack["Message-ID"], references=f"<cust-1@mail.example.com> {ack['Message-ID']}"))
    assert len(_tickets(session)) == 1
    second = session.scalars(select(Contact).where(
        Contact.external_id == "<cust-2@mail.example.com>")).one()
    assert second.ticket_id == ticket.id and second.sender_verified is True
    assert second.in_reply_to == ack["Message-ID"]


def test_a_forged_message_id_for_another_ticket_is_not_trusted(email_app, session, mail_sink):
    """The token is signed: the ticket id alone does not thread."""
    make_customer(session)
    ticket, ack = _new_email_with_ack(email_app, session, mail_sink)
    forged = ack["Message-ID"].replace(f"<t{ticket.id}.", f"<t{ticket.id + 1}.")
    other = lifecycle.open_ticket(session, channel="voice", customer_id=None)
    session.commit()
    assert other.id == ticket.id + 1
    post_email(email_app.test_client(), inbound_form(
        subject="Halo", message_id="<cust-2@mail.example.com>", in_reply_to=forged,
        sender="x@attacker.test"))
    contact = session.scalars(select(Contact).where(
        Contact.external_id == "<cust-2@mail.example.com>")).one()
    assert contact.ticket_id not in (ticket.id, other.id)


def test_the_ticket_number_in_the_subject_threads_a_new_conversation(email_app, session,
                                                                      mail_sink):
    """X1: the customer quotes the number given on the phone (P1.3/P1.6)."""
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.commit()
    post_email(email_app.test_client(),
               inbound_form(subject=f"Bukti transfer tiket {ticket.number}"))
    assert len(_tickets(session)) == 1
    contact = session.scalars(select(Contact)).one()
    assert contact.ticket_id == ticket.id and contact.sender_verified is True
    run_jobs(Settings.from_env())
    assert mail_sink.messages == []  # the customer's own follow-up needs no acknowledgement


def test_a_subject_number_with_a_wrong_check_digit_opens_a_new_ticket(email_app, session,
                                                                      mail_sink):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.commit()
    wrong = ticket.number[:-1] + str((int(ticket.number[-1]) + 1) % 10)
    post_email(email_app.test_client(), inbound_form(subject=f"Tiket {wrong}"))
    found = _tickets(session)
    assert len(found) == 2 and found[1].channel == "email"
    assert session.scalars(select(Contact)).one().ticket_id == found[1].id


def test_a_stranger_quoting_a_ticket_number_lands_unverified_and_learns_nothing(
        email_app, session, mail_sink):
    """FACTS "Email threading": lands on the ticket, marked unverified; the one generic reply
    names no ticket and echoes nothing; the customer's no-response clock is not stopped."""
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    ticket.status = "pending_customer"
    session.commit()
    post_email(email_app.test_client(), inbound_form(
        sender="Kakak <kakak.budi@other.test>", subject=f"[Tiket {ticket.number}] tolong"))
    contact = session.scalars(select(Contact)).one()
    assert contact.ticket_id == ticket.id and contact.sender_verified is False
    assert _tickets(session)[0].status == "pending_customer"
    run_jobs(Settings.from_env())
    reply = mail_sink.wait_for(1)[0]
    assert reply["To"] == "kakak.budi@other.test"
    text = reply.get_content()
    assert "Email Anda sudah kami terima" in text and "We have received your email" in text
    for secret in (ticket.number, "tolong", "Budi", "budi@example.com", "1.250.000",
                   "8808123456", "BCA", "20261001"):
        assert secret not in text and secret not in reply["Subject"]
    assert not reply["Message-ID"].startswith(f"<t{ticket.id}.")  # no key to the ticket


def test_the_customers_reply_on_a_pending_ticket_reopens_it(email_app, session, mail_sink):
    """The customer answered: pending_customer → open (the P2.2b clock stops)."""
    make_customer(session)
    ticket, ack = _new_email_with_ack(email_app, session, mail_sink)
    ticket.status = "pending_customer"
    session.commit()
    post_email(email_app.test_client(), inbound_form(
        message_id="<cust-2@mail.example.com>", in_reply_to=ack["Message-ID"]))
    assert _tickets(session)[0].status == "open"


def _approved_template(session, body: str, language: str = "id", key: str = "bill_info"):
    agent = users.create_user(session, *AGENT, "agent")
    qa = users.create_user(session, *QA, "qa")
    template = templates.create_draft(session, agent, key=key, language=language, body=body,
                                      subject="Informasi tagihan")
    templates.approve(session, qa, template, read=templates.digest(template))
    session.commit()
    return template


def test_a_template_reply_arrives_threaded_asks_anything_else_and_waits_for_the_customer(
        email_app, session, mail_sink):
    """P3.3 (approved template, customer's data), P3.4 (anything else?), P2.2b (clock)."""
    make_customer(session)
    ticket, _ack = _new_email_with_ack(email_app, session, mail_sink)
    template = _approved_template(
        session, "Yth. {name}, tagihan Anda Rp {amount} jatuh tempo {due_date}. "
                 "Bayar ke VA {bank} {va}.")
    answer = email_app.test_client().post(f"/api/tickets/{ticket.number}/replies",
                                          json={"template_id": template.id}, auth=AGENT)
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["ticket_status"] == "pending_customer"
    run_jobs(Settings.from_env())
    reply = mail_sink.wait_for(2)[1]
    text = reply.get_content()
    assert "Yth. Budi Santoso, tagihan Anda Rp 1.250.000 jatuh tempo 5 Desember 2026" in text
    assert "VA BCA 8808123456" in text
    assert "Apakah ada hal lain yang bisa kami bantu?" in text
    assert reply["In-Reply-To"] == "<cust-1@mail.example.com>"
    assert f"[Tiket {ticket.number}]" in reply["Subject"] and "Auto-Submitted" not in reply
    session.expire_all()
    assert _tickets(session)[0].status == "pending_customer"
    sent = session.scalars(select(Contact).where(
        Contact.external_id == reply["Message-ID"])).one()
    assert sent.asks_customer is True
    assert sent.body == text  # stored as sent
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "send_email")).one()
    assert entry.actor == "user:sari" and entry.subject == f"ticket:{ticket.number}"
    # P2.2b: silence after our question → a no-response callback is owed.
    later = utcnow() + timedelta(hours=25)
    due = policy.tickets_without_response(session, Settings.from_env(), now=later)
    assert [t.id for t in due] == [ticket.id]


def test_a_reply_by_template_key_uses_the_approved_version_in_english(email_app, session,
                                                                      mail_sink):
    make_customer(session)
    ticket, _ack = _new_email_with_ack(email_app, session, mail_sink)
    _approved_template(session, "Dear {name}, your ticket is {ticket}.", language="en")
    answer = email_app.test_client().post(
        f"/api/tickets/{ticket.number}/replies",
        json={"template_key": "bill_info", "language": "en"}, auth=AGENT)
    assert answer.status_code == 202, answer.get_json()
    run_jobs(Settings.from_env())
    text = mail_sink.wait_for(2)[1].get_content()
    assert f"Dear Budi Santoso, your ticket is {ticket.number}." in text
    assert "Is there anything else we can help you with?" in text


def test_a_draft_template_cannot_be_sent(email_app, session, mail_sink):
    """P3.3: only templates approved by QA go to customers."""
    make_customer(session)
    ticket, _ack = _new_email_with_ack(email_app, session, mail_sink)
    agent = users.create_user(session, *AGENT, "agent")
    draft = templates.create_draft(session, agent, key="x", language="id", body="Halo {name}")
    session.commit()
    answer = email_app.test_client().post(f"/api/tickets/{ticket.number}/replies",
                                          json={"template_id": draft.id}, auth=AGENT)
    assert answer.status_code == 409
    assert len(session.scalars(select(OutboundEmail)).all()) == 1  # only the acknowledgement


def test_a_reply_is_refused_for_a_ticket_without_an_email_address(email_app, session,
                                                                  mail_sink):
    customer = make_customer(session, email=None)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.commit()
    template = _approved_template(session, "Halo {name}")
    answer = email_app.test_client().post(f"/api/tickets/{ticket.number}/replies",
                                          json={"template_id": template.id}, auth=AGENT)
    assert answer.status_code == 400 and "email address" in answer.get_json()["message"]
    assert session.scalars(select(OutboundEmail)).all() == []


def test_qa_cannot_send_replies_only_agents_and_supervisors(email_app, session, mail_sink):
    make_customer(session)
    ticket, _ack = _new_email_with_ack(email_app, session, mail_sink)
    template = _approved_template(session, "Halo {name}")
    answer = email_app.test_client().post(f"/api/tickets/{ticket.number}/replies",
                                          json={"template_id": template.id}, auth=QA)
    assert answer.status_code == 403


def test_a_permanent_smtp_refusal_marks_the_email_failed_with_the_reason(email_app, session,
                                                                         mail_sink):
    make_customer(session)
    mail_sink.refuse = "550 5.1.1 mailbox unavailable"
    post_email(email_app.test_client(), inbound_form())
    run_jobs(Settings.from_env())
    session.expire_all()
    outbox = session.scalars(select(OutboundEmail)).one()
    assert outbox.status == "failed" and outbox.attempts == 1
    assert outbox.last_error.startswith("550") and "mailbox unavailable" in outbox.last_error
    assert session.scalars(select(Contact).where(Contact.direction == "outbound")).all() == []


def test_a_transient_smtp_refusal_retries_and_keeps_the_email(email_app, session, mail_sink):
    make_customer(session)
    mail_sink.refuse = "451 4.3.0 try again later"
    post_email(email_app.test_client(), inbound_form())
    email_id = session.scalars(select(OutboundEmail)).one().id
    with pytest.raises(TransientSmtpError):
        send_email(email_id)
    session.expire_all()
    outbox = session.get(OutboundEmail, email_id)
    assert outbox.status == "pending" and outbox.last_error.startswith("451")
    mail_sink.refuse = None
    assert send_email(email_id) == outbox.message_id
    assert len(mail_sink.wait_for(1)) == 1


def test_smtp_down_the_job_retries_and_nothing_is_lost(email_app, session, mail_sink,
                                                       monkeypatch, redis_conn):
    """A refused connection is transient: RQ schedules a retry, the outbox row stays pending,
    and once the server is back the email goes out."""
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    make_customer(session)
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody listens
    post_email(email_app.test_client(), inbound_form())
    settings = Settings.from_env()
    run_jobs(settings)
    session.expire_all()
    outbox = session.scalars(select(OutboundEmail)).one()
    assert outbox.status == "pending" and outbox.attempts == 1 and outbox.last_error
    scheduled = ScheduledJobRegistry(queue=Queue("default", connection=redis_conn))
    assert f"email-{outbox.id}" in scheduled.get_job_ids()  # RQ Retry: tried again later
    monkeypatch.setenv("SMTP_URL", mail_sink.url)  # the server is back
    assert send_email(outbox.id) == outbox.message_id
    assert mail_sink.wait_for(1)[0]["Message-ID"] == outbox.message_id
    session.expire_all()
    assert session.get(OutboundEmail, outbox.id).status == "sent"
    assert number_for(1)  # ticket numbers stay well-formed (sanity)


def test_a_pending_email_whose_job_was_lost_is_sent_by_the_safety_net(email_app, session,
                                                                      mail_sink, redis_conn):
    """Nothing is lost even if Redis is flushed: the outbox row is the promise."""
    from workers.email import requeue_pending

    make_customer(session)
    post_email(email_app.test_client(), inbound_form())
    redis_conn.flushdb()  # the job is gone
    outbox = session.scalars(select(OutboundEmail)).one()
    outbox.created_at = utcnow() - timedelta(hours=1)
    session.commit()
    assert requeue_pending() == 1
    run_jobs(Settings.from_env())
    assert mail_sink.wait_for(1)[0]["Message-ID"] == outbox.message_id


def test_ticket_timeline_shows_email_html_only_sanitised(hotline, session):
    """The API never hands raw customer HTML to a browser."""
    from callcenter.models import Contact, Ticket
    from callcenter.tickets import lifecycle as ticket_ops

    ticket = ticket_ops.open_ticket(session, channel="email", customer_id=None)
    session.add(Contact(ticket_id=ticket.id, channel="email", direction="inbound",
                        external_id="<x@example.com>", sender="x@example.com",
                        body="hi",
                        body_html='<p onclick="steal()">hi<script>alert(1)</script></p>'))
    session.commit()
    body = hotline.live.app.test_client().get(
        f"/api/tickets/{ticket.number}",
        headers={"Authorization": "Bearer test-api-token"}).get_json()
    html = body["contacts"][0]["body_html"]
    assert html == "<p>hi</p>"
    assert session.get(Ticket, ticket.id) is not None


def test_an_email_we_asked_for_lands_on_the_waiting_ticket_without_its_number(
        email_app, session, mail_sink):
    """X1 after P1.3: the caller was told to email the details; they forgot the ticket
    number. The email continues the waiting ticket (and stops its no-response clock)."""
    customer = make_customer(session)
    waiting = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    waiting.status = "pending_customer"
    session.commit()
    answer = post_email(email_app.test_client(), inbound_form(subject="Detail pembayaran"))
    assert answer.status_code == 200 and answer.get_json()["threaded_by"] == "awaited"
    assert [t.id for t in _tickets(session)] == [waiting.id]
    assert _tickets(session)[0].status == "open"
