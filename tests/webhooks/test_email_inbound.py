"""POST /email/inbound (P3.1, X1, X2; CONTRACT "EMAIL_WEBHOOK_AUTH"): real app, real DB."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from callcenter.channels import email_outbound
from callcenter.channels.sanitize import safe_html
from callcenter.config import Settings
from callcenter.models import Contact, Document, OutboundEmail, Ticket
from callcenter.tickets import documents, lifecycle, timeline
from tests.conftest import API_TOKEN
from tests.factories import make_customer
from tests.support.smtp import (  # noqa: F401 (fixtures)
    WEBHOOK_AUTH,
    email_app_fixture,
    inbound_form,
    mail_sink_fixture,
    post_email,
)
from webhooks.app import create_app


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def _nothing_written(session) -> bool:
    return all(_count(session, m) == 0 for m in (Ticket, Contact, Document, OutboundEmail))


@pytest.mark.parametrize("auth", [None, ("sendgrid", "wrong"), ("someone", "parse-secret")])
def test_post_without_the_right_basic_auth_is_refused_with_401(email_app, session, auth):
    answer = post_email(email_app.test_client(), inbound_form(), auth=auth)
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "Unauthorized"
    assert _nothing_written(session)


def test_without_email_webhook_auth_configured_every_post_is_refused(env, session,
                                                                       monkeypatch):
    """CONTRACT: EMAIL_WEBHOOK_AUTH unset → the hook refuses every post."""
    monkeypatch.delenv("EMAIL_WEBHOOK_AUTH", raising=False)
    app = create_app(Settings.from_env())
    assert post_email(app.test_client(), inbound_form()).status_code == 401
    assert _nothing_written(session)


def test_new_email_opens_an_email_ticket_on_the_customer_and_records_the_contact(
        email_app, session):
    """P3.1/P3.5/X2: a contact with sender, subject, bodies and Message-ID; ack in the outbox."""
    customer = make_customer(session, email="Budi@Example.com")
    answer = post_email(email_app.test_client(),
                        inbound_form(sender="BUDI <budi@EXAMPLE.com>", html="<p>Halo</p>"))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["new_ticket"] is True and body["sender_verified"] is True
    ticket = session.scalars(select(Ticket)).one()
    assert ticket.channel == "email" and ticket.customer_id == customer.id
    assert ticket.number == body["ticket"]
    contact = session.scalars(select(Contact)).one()
    assert (contact.channel, contact.direction) == ("email", "inbound")
    assert contact.external_id == "<cust-1@mail.example.com>"
    assert contact.sender == "budi@example.com" and contact.subject == "Tagihan saya salah"
    assert contact.body == "Halo, tagihan saya salah." and contact.body_html == "<p>Halo</p>"
    ack = session.scalars(select(OutboundEmail)).one()
    assert ack.status == "pending" and ack.in_reply_to == "<cust-1@mail.example.com>"
    assert ticket.number in ack.subject and ack.to_address == "budi@example.com"


def test_the_same_message_id_posted_twice_is_one_contact(email_app, session):
    """P3.1: the provider's repost returns 200 and changes nothing."""
    make_customer(session)
    client = email_app.test_client()
    first = post_email(client, inbound_form())
    second = post_email(client, inbound_form())
    assert first.status_code == second.status_code == 200
    assert second.get_json()["duplicate"] is True
    assert second.get_json()["ticket"] == first.get_json()["ticket"]
    assert _count(session, Contact) == 1 and _count(session, Ticket) == 1
    assert _count(session, OutboundEmail) == 1


def test_unknown_sender_opens_an_unmatched_ticket_for_an_agent_to_link(email_app, session):
    make_customer(session)
    post_email(email_app.test_client(), inbound_form(sender="Orang <orang@elsewhere.test>"))
    ticket = session.scalars(select(Ticket)).one()
    assert ticket.customer_id is None and ticket.customer_email == "orang@elsewhere.test"
    assert ticket.category == "unverified"


def test_attachments_are_kept_as_documents_of_the_ticket(email_app, session):
    make_customer(session)
    form = inbound_form()
    form.update({
        "attachments": "2",
        "attachment-info": '{"attachment1": {"filename": "bukti.pdf", "type": '
                           '"application/pdf"}, "attachment2": {"filename": "ktp.jpg", '
                           '"type": "image/jpeg"}}',
        "attachment1": (io.BytesIO(b"%PDF-1.4 bukti"), "bukti.pdf", "application/pdf"),
        "attachment2": (io.BytesIO(b"\xff\xd8\xff jpeg"), "ktp.jpg", "image/jpeg"),
    })
    answer = post_email(email_app.test_client(), form)
    assert answer.status_code == 200 and answer.get_json()["documents"] == 2
    contact = session.scalars(select(Contact)).one()
    docs = session.scalars(select(Document).order_by(Document.id)).all()
    assert [(d.filename, d.content_type, d.source) for d in docs] == [
        ("bukti.pdf", "application/pdf", "email"), ("ktp.jpg", "image/jpeg", "email")]
    assert docs[0].data == b"%PDF-1.4 bukti" and docs[0].size == len(b"%PDF-1.4 bukti")
    assert all(d.contact_id == contact.id and d.ticket_id == contact.ticket_id for d in docs)


def test_a_post_over_the_size_limit_gets_413_and_nothing_is_written(env, session,
                                                                    monkeypatch):
    monkeypatch.setenv("EMAIL_WEBHOOK_AUTH", ":".join(WEBHOOK_AUTH))
    monkeypatch.setenv("EMAIL_MAX_BYTES", str(200_000))
    app = create_app(Settings.from_env())
    form = inbound_form()
    form.update({"attachments": "1", "attachment-info": '{"attachment1": {"filename": "a.bin"}}',
                 "attachment1": (io.BytesIO(b"x" * 300_000), "a.bin")})
    answer = post_email(app.test_client(), form)
    assert answer.status_code == 413
    assert "EMAIL_MAX_BYTES" in answer.get_json()["message"]
    assert _nothing_written(session)


def test_an_attachment_over_the_per_file_cap_gets_413_and_nothing_is_written(env, session,
                                                                             monkeypatch):
    monkeypatch.setenv("EMAIL_WEBHOOK_AUTH", ":".join(WEBHOOK_AUTH))
    monkeypatch.setenv("EMAIL_MAX_ATTACHMENT_BYTES", str(10_000))
    app = create_app(Settings.from_env())
    form = inbound_form()
    form.update({"attachments": "1", "attachment-info": '{"attachment1": {"filename": "a.bin"}}',
                 "attachment1": (io.BytesIO(b"x" * 10_001), "a.bin")})
    answer = post_email(app.test_client(), form)
    assert answer.status_code == 413
    assert "a.bin" in answer.get_json()["message"]
    assert _nothing_written(session)


def test_an_email_over_the_apps_1mb_limit_but_under_the_email_limit_is_taken_in(email_app,
                                                                              session):
    make_customer(session)
    form = inbound_form()
    form.update({"attachments": "1", "attachment-info": '{"attachment1": {"filename": "s.png"}}',
                 "attachment1": (io.BytesIO(b"p" * 3_000_000), "s.png", "image/png")})
    assert post_email(email_app.test_client(), form).status_code == 200
    assert session.scalars(select(Document)).one().size == 3_000_000


@pytest.mark.parametrize(("change", "reason"), [
    ({"from": ""}, "from"),
    ({"from": "not an address"}, "from"),
    ({"headers": "this is no header block at all\n\nbody"}, "headers"),
    ({"headers": ""}, "headers"),
    ({"attachments": "1", "attachment-info": "{not json"}, "attachment-info"),
    ({"attachments": "1", "attachment-info": "{}"}, "attachment1"),
    ({"envelope": "[1, 2"}, "envelope"),
])
def test_a_malformed_post_gets_400_and_nothing_is_written(email_app, session, change, reason):
    make_customer(session)
    form = inbound_form()
    form.update(change)
    answer = post_email(email_app.test_client(), form)
    assert answer.status_code == 400
    assert reason in answer.get_json()["message"]
    assert _nothing_written(session)


def test_html_is_stored_raw_and_sanitised_for_display(email_app, session):
    raw = ('<p onclick="steal()">Halo <b>CS</b></p><script>alert(1)</script>'
           '<a href="javascript:alert(2)">klik</a><a href="https://cankul.co.id">ok</a>')
    make_customer(session)
    post_email(email_app.test_client(), inbound_form(html=raw))
    contact = session.scalars(select(Contact)).one()
    assert contact.body_html == raw
    shown = safe_html(contact.body_html)
    assert "<script" not in shown and "alert(1)" not in shown
    assert "onclick" not in shown and "javascript:" not in shown
    assert "<b>CS</b>" in shown and 'href="https://cankul.co.id"' in shown


def test_an_auto_reply_is_recorded_but_never_answered(email_app, session):
    """No mail loops: Auto-Submitted mail gets no acknowledgement (RFC 3834)."""
    make_customer(session)
    post_email(email_app.test_client(),
               inbound_form(extra_headers="Auto-Submitted: auto-replied\n"))
    assert _count(session, Contact) == 1 and _count(session, OutboundEmail) == 0


# --- A stranger's email never acts on a ticket ----------------------------------------------

STRANGER = "Orang Lain <orang@elsewhere.test>"


def _ticket_json(app, number: str) -> dict:
    answer = app.test_client().get(f"/api/tickets/{number}",
                                   headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert answer.status_code == 200
    return answer.get_json()


def _with_attachment(form: dict, data: bytes = b"%PDF-1.4 slip gaji") -> dict:
    form.update({"attachments": "1",
                 "attachment-info": '{"attachment1": {"filename": "slip.pdf", '
                                    '"type": "application/pdf"}}',
                 "attachment1": (io.BytesIO(data), "slip.pdf", "application/pdf")})
    return form


def test_a_stranger_quoting_a_resolved_tickets_number_does_not_reopen_it(email_app, session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    lifecycle.resolve(session, ticket, "Dijelaskan lewat telepon.")
    session.commit()
    resolved_at = ticket.resolved_at
    answer = post_email(email_app.test_client(), inbound_form(
        sender=STRANGER, subject=f"Re: [Tiket {ticket.number}] buka lagi"))
    assert answer.status_code == 200
    assert answer.get_json()["sender_verified"] is False
    session.expire_all()
    after = session.get(Ticket, ticket.id)
    assert after.status == "resolved" and after.resolved_at == resolved_at
    shown = _ticket_json(email_app, ticket.number)
    assert shown["status"] == "resolved"
    mail = [c for c in shown["contacts"] if c["channel"] == "email"]
    assert [(c["sender"], c["sender_verified"]) for c in mail] == [
        ("orang@elsewhere.test", False)]  # kept, and flagged for the agent
    labels = [e.label for e in timeline.timeline(session, timeline.load_ticket(
        session, ticket.number)) if e.kind == "email"]
    assert labels == ["Unverified email (the sender's address is not the one on the ticket): "
                      "it changed nothing on the ticket"]


def test_a_strangers_attachment_on_a_pending_documents_ticket_fulfils_nothing(email_app,
                                                                              session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="walk_in", customer_id=customer.id)
    documents.require_documents(session, ticket, ["Slip gaji"])
    session.commit()
    due_before = ticket.due_at
    answer = post_email(email_app.test_client(), _with_attachment(inbound_form(
        sender=STRANGER, subject=f"[Tiket {ticket.number}] dokumen")))
    assert answer.status_code == 200 and answer.get_json()["documents"] == 1
    session.expire_all()
    after = session.get(Ticket, ticket.id)
    assert after.status == "pending_documents" and after.due_at == due_before
    assert [r.received_at for r in after.required_documents] == [None]
    kept = session.scalars(select(Document)).one()  # kept for the agent to look at
    assert kept.ticket_id == ticket.id and kept.filename == "slip.pdf"
    assert _ticket_json(email_app, ticket.number)["required_documents"][0]["received_at"] is None
    # The customer's own email with the same file does fulfil it (P4.3).
    post_email(email_app.test_client(), _with_attachment(inbound_form(
        subject=f"[Tiket {ticket.number}] dokumen", message_id="<cust-2@mail.example.com>")))
    session.expire_all()
    after = session.get(Ticket, ticket.id)
    assert after.status == "open" and after.required_documents[0].received_at is not None


@pytest.mark.parametrize(("spf", "dkim", "reason"), [
    ("fail", None, "SPF check: fail"),
    ("softfail", "none", "SPF check: softfail"),
    ("pass", "{@example.com : fail}", "DKIM check failed for example.com"),
    ("softfail", "{@mail.example.com : fail, @sendgrid.net : pass}",
     "DKIM check failed for example.com"),
])
def test_a_failed_spf_or_dkim_check_makes_the_customers_own_address_unverified(
        email_app, session, spf, dkim, reason):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    ticket.status = "pending_customer"
    session.commit()
    form = inbound_form(subject=f"[Tiket {ticket.number}] sudah saya bayar")
    form["SPF"] = spf
    if dkim is not None:
        form["dkim"] = dkim
    answer = post_email(email_app.test_client(), form)
    assert answer.get_json()["sender_verified"] is False
    assert answer.get_json()["unverified_reason"] == reason
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == "pending_customer"  # the clock runs on
    assert session.scalars(select(Contact)).one().sender_verified is False


@pytest.mark.parametrize(("spf", "dkim"), [
    ("pass", None), (None, None), ("neutral", "none"),
    ("softfail", "{@example.com : pass}"),  # forwarded: SPF breaks, the DKIM signature holds
])
def test_the_customers_address_with_passing_or_absent_checks_acts(email_app, session, spf,
                                                                  dkim):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    ticket.status = "pending_customer"
    session.commit()
    form = inbound_form(subject=f"[Tiket {ticket.number}] sudah saya bayar")
    form.pop("SPF")
    form.update({k: v for k, v in (("SPF", spf), ("dkim", dkim)) if v is not None})
    assert post_email(email_app.test_client(), form).get_json()["sender_verified"] is True
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == "open"


def _outbox(session) -> list[OutboundEmail]:
    session.expire_all()
    return list(session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)))


def test_a_stranger_gets_one_generic_reply_a_day_without_their_subject(email_app, session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.commit()
    client = email_app.test_client()
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        for index in range(3):
            post_email(client, inbound_form(
                sender=STRANGER, subject=f"[Tiket {ticket.number}] rahasia {index}",
                message_id=f"<stranger-{index}@elsewhere.test>"))
    replies = _outbox(session)
    assert len(replies) == 1
    reply = replies[0]
    assert reply.to_address == "orang@elsewhere.test" and reply.ticket_id is None
    for echoed in (ticket.number, "rahasia", "Tiket", "Budi"):
        assert echoed not in reply.subject and echoed not in reply.body
    # Answering the generic reply is no key to the customer's ticket: it threads nowhere (the
    # stranger's own new ticket, as for any unknown address).
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        answer = post_email(client, inbound_form(
            sender=STRANGER, subject="Re: " + reply.subject, in_reply_to=reply.message_id,
            message_id="<stranger-3@elsewhere.test>"))
    assert answer.get_json()["threaded_by"] == "new"
    assert answer.get_json()["ticket"] != ticket.number
    session.expire_all()
    assert len(session.get(Ticket, ticket.id).contacts) == 3
    with time_machine.travel(start + timedelta(hours=3), tick=False):
        post_email(client, inbound_form(sender=STRANGER, subject=f"[Tiket {ticket.number}]",
                                        message_id="<stranger-4@elsewhere.test>"))
    generic = [e for e in _outbox(session) if e.subject == email_outbound.STRANGER_SUBJECT]
    assert len(generic) == 1  # still the same day
    with time_machine.travel(start + timedelta(hours=24, minutes=1), tick=False):
        post_email(client, inbound_form(sender=STRANGER, subject=f"[Tiket {ticket.number}]",
                                        message_id="<stranger-5@elsewhere.test>"))
    generic = [e for e in _outbox(session) if e.subject == email_outbound.STRANGER_SUBJECT]
    assert len(generic) == 2  # a new day, one more


def test_only_a_verified_customers_new_ticket_is_acknowledged_with_its_number(email_app,
                                                                             session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.commit()
    client = email_app.test_client()
    post_email(client, inbound_form(subject=f"[Tiket {ticket.number}] follow-up"))
    assert _outbox(session) == []  # the customer's follow-up needs no acknowledgement
    forged = inbound_form(subject="Tagihan", message_id="<forged-1@mail.example.com>")
    forged["SPF"] = "fail"
    post_email(client, forged)  # from the customer's address, but forged
    replies = _outbox(session)
    assert len(replies) == 1 and replies[0].subject == email_outbound.STRANGER_SUBJECT
    assert all(t.number not in replies[0].body for t in session.scalars(select(Ticket)))
