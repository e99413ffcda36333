"""The ticket page: everything on one ticket in one timeline (X2), and the
actions an agent takes from it, each with its real effect, its audit row and a flash message."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from callcenter.channels import templates
from callcenter.compliance import regulation
from callcenter.models import (
    AuditEntry,
    Callback,
    Contact,
    OutboundEmail,
    OutboundMessage,
    RequiredDocument,
    Ticket,
    User,
    utcnow,
)
from callcenter.tickets import documents, lifecycle
from tests.console.conftest import Console, csrf_from, post_form
from tests.factories import BUDI_PHONE, make_customer
from webhooks.app import create_app
from workers.queues import DEFAULT, URGENT, callback_job_id, queue

JAKARTA = ZoneInfo("Asia/Jakarta")


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def flashes(response) -> list[tuple[str, str]]:
    """(category, message) of each flash on the page."""
    return [(cat, html.unescape(msg)) for cat, msg in re.findall(
        r'<p class="flash flash-(\w+)" role="status">(.*?)</p>', response.get_data(as_text=True),
        re.S)]


def timeline_of(response) -> str:
    found = re.search(r'<ol class="timeline" aria-label="Timeline">(.*?)</ol>',
                      response.get_data(as_text=True), re.S)
    assert found, "the page has no timeline"
    return html.unescape(found.group(1))


@pytest.fixture
def budi(session):
    return make_customer(session)


@pytest.fixture
def ticket(session, settings, budi):
    found = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id, language="en",
                                settings=settings)
    session.commit()
    return found


def url(ticket) -> str:
    return f"/console/tickets/{ticket.number}"


def act(client, ticket, action: str, data: dict[str, str]):
    return post_form(client, url(ticket), f"{url(ticket)}/{action}", data,
                     follow_redirects=True)


def reload(session, ticket) -> Ticket:
    session.expire_all()
    return session.get(Ticket, ticket.id)


def approved(session, *, key="follow_up", language="en", channel="email",
             body="Hello {name}, about ticket {ticket}: we are on it.", subject="Ticket {ticket}"):
    author = session.scalars(select(User).where(User.username == "author")).first() or (
        _user(session, "author", "agent"))
    checker = session.scalars(select(User).where(User.username == "checker")).first() or (
        _user(session, "checker", "qa"))
    draft = templates.create_draft(session, author, key=key, language=language, body=body,
                                   subject=subject, channel=channel)
    templates.approve(session, checker, draft, read=templates.digest(draft))
    session.commit()
    return draft


def _user(session, name, role):
    from callcenter.people import users

    return users.create_user(session, name, "a long enough password", role)


def test_the_page_shows_the_ticket_the_verified_customer_and_one_timeline_in_time_order(
        console, session, settings, ticket):
    """X2: a call with its duration and menu path, the callback owed and its attempt, an
    email (its HTML sanitised), an SMS, a visit and a document, merged by time."""
    base = utcnow() - timedelta(days=2)
    at = [base + timedelta(hours=h) for h in range(8)]
    callback = Callback(ticket_id=ticket.id, reason="dropped_call", status="failed",
                        phone=BUDI_PHONE, due_at=at[2], attempts=3,
                        last_error="not reached after 3 attempts (busy)", created_at=at[1])
    session.add(callback)
    session.flush()
    # Inserted out of order on purpose: the page orders by time, not by id.
    session.add_all([
        Contact(ticket_id=ticket.id, channel="sms", direction="inbound", status="received",
                sender=BUDI_PHONE, body="Sudah saya transfer", started_at=at[5]),
        Contact(ticket_id=ticket.id, channel="voice", direction="outbound", kind="callback",
                callback_id=callback.id, status="busy", external_id="CA" + "2" * 32,
                started_at=at[3]),
        Contact(ticket_id=ticket.id, channel="voice", direction="inbound", status="completed",
                external_id="CA" + "1" * 32, duration_s=75, verified=True,
                menu_path=["language:1", "ask_order:20261001", "confirm_name:1", "menu:3",
                           "anything_else:1", "menu:0"],
                answers=[{"topic": "bill", "said": "Your bill is Rp 1.250.000"}],
                started_at=at[0]),
        Contact(ticket_id=ticket.id, channel="email", direction="inbound", status="received",
                sender="budi@example.com", subject="Bukti bayar", body="Terlampir",
                body_html='<p>Terlampir<script>alert("x")</script></p>', started_at=at[4]),
        Contact(ticket_id=ticket.id, channel="walk_in", direction="inbound", status="completed",
                body="Came to the office with the receipt", started_at=at[6]),
    ])
    documents.receive_document(session, ticket, settings=settings, filename="receipt.pdf",
                               content_type="application/pdf", data=b"%PDF" + b"x" * 2044,
                               source="desk", now=at[7])
    session.commit()
    client = console.signed_in("sari", "agent")
    page = client.get(url(ticket))
    assert page.status_code == 200
    text = page_text(page)
    assert f"<h1>Ticket {ticket.number}</h1>" in text
    assert "Budi Santoso" in text and BUDI_PHONE in text and "20261001" in text
    # In the reader's language (English here): grouping, and the status as words, not a code.
    assert "Rp 1,250,000" in text and "Cankul Tunai" in text and "Paid out" in text
    assert "disbursed" not in text
    assert "Oral complaint" in text
    timeline = timeline_of(page)
    order = ["Call from the customer", "Callback owed: the call dropped", "Callback attempt",
             "Email from the customer", "SMS from the customer", "Walk-in visit",
             "Document received"]
    positions = [timeline.index(label) for label in order]
    assert positions == sorted(positions)
    assert "1 min 15 secs" in timeline
    # The menu path read as words; the Order ID the caller typed is not repeated there.
    assert ("Bahasa Indonesia → Order ID → Name confirmed → Bill amount → Another question → "
            "Agent") in timeline
    assert "20261001" not in timeline and "ask_order" not in timeline
    assert "Your bill is Rp 1.250.000" in timeline  # what the IVR told the caller
    assert "not reached after 3 attempts (busy)" in timeline and "busy" in timeline
    assert "receipt.pdf" in timeline and "2 KB" in timeline
    assert "<script" not in timeline and 'alert("x")' not in timeline
    assert "<p>Terlampir</p>" in timeline


def test_viewing_a_ticket_is_audited(console, session, ticket):
    client = console.signed_in("sari", "agent")
    client.get(url(ticket))
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "view_ticket")).all()
    assert [(r.actor, r.subject) for r in rows] == [("user:sari", f"ticket:{ticket.number}")]


@pytest.mark.parametrize("number", ["1000019", "abc", "1" * 40])
def test_an_unknown_or_mistyped_ticket_is_a_friendly_404_page(console, ticket, number):
    client = console.signed_in("sari", "agent")
    page = client.get(f"/console/tickets/{number}")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Ticket not found" in page_text(page)
    assert "Back to the tickets" in page_text(page)


def test_scheduling_a_callback_owes_a_call_and_queues_the_dial(console, session, settings,
                                                               ticket, redis_conn):
    """P2.2a: a Sunday time lands on Monday 08:00 Jakarta time; the RQ job is scheduled."""
    client = console.signed_in("sari", "agent")
    response = act(client, ticket, "callback", {"call_at": "2030-12-01T10:00"})  # a Sunday
    assert response.status_code == 200
    callback = session.scalars(select(Callback).where(Callback.ticket_id == ticket.id)).one()
    assert callback.reason == "more_explanation" and callback.status == "scheduled"
    assert callback.due_at == datetime.fromisoformat("2030-12-02T08:00:00+07:00")
    [(category, message)] = flashes(response)
    assert category == "success"
    assert message.startswith("Callback scheduled for Mon 02 Dec 2030, 08:00 WIB.")
    assert "moved into the customer's calling window" in message
    registry = ScheduledJobRegistry(queue=queue(settings, URGENT))
    assert callback_job_id(callback) in registry.get_job_ids()
    again = act(client, ticket, "callback", {"call_at": ""})
    assert flashes(again) == [("info", "A callback is already scheduled for Mon 02 Dec 2030, "
                                       "08:00 WIB; no second one was added.")]
    assert session.scalar(select(func.count(Callback.id))) == 1
    actions = [a.action for a in session.scalars(
        select(AuditEntry).where(AuditEntry.subject == f"ticket:{ticket.number}"))]
    assert actions.count("schedule_callback") == 2


def test_a_callback_in_the_past_or_without_a_customer_is_refused_politely(console, session,
                                                                          settings, ticket):
    client = console.signed_in("sari", "agent")
    past = act(client, ticket, "callback", {"call_at": "2020-01-06T10:00"})
    assert flashes(past)[0][0] == "error" and "in the past" in flashes(past)[0][1]
    stranger = lifecycle.open_ticket(session, channel="voice", customer_id=None,
                                   settings=settings)
    session.commit()
    refused = act(client, stranger, "callback", {})
    assert flashes(refused) == [("error", "This ticket has no verified customer to call back.")]
    assert session.scalar(select(func.count(Callback.id))) == 0


def test_requesting_documents_makes_the_ticket_wait_and_tells_the_customer(console, session,
                                                                          ticket):
    """P4.3: one requirement per line; the customer gets an SMS listing what is missing."""
    client = console.signed_in("sari", "agent")
    response = act(client, ticket, "documents", {"documents": "KTP\n\n  Bank statement  \n"})
    assert flashes(response)[0] == (
        "success", "Documents requested: KTP, Bank statement. The customer is told by SMS what "
                   "is still missing.")
    rows = session.scalars(select(RequiredDocument).where(
        RequiredDocument.ticket_id == ticket.id).order_by(RequiredDocument.id)).all()
    assert [r.name for r in rows] == ["KTP", "Bank statement"]
    assert reload(session, ticket).status == "pending_documents"
    sms = session.scalars(select(OutboundMessage)).one()
    assert sms.to_number == BUDI_PHONE and "KTP, Bank statement" in sms.body
    assert f"sms-{sms.id}" in queue(console.app.config["SETTINGS"], DEFAULT).get_job_ids()
    page = page_text(client.get(url(ticket)))
    assert "Still needed" in page and "Bank statement" in page


def test_resolve_is_refused_while_documents_are_outstanding(console, session, ticket):
    client = console.signed_in("sari", "agent")
    act(client, ticket, "documents", {"documents": "KTP"})
    refused = act(client, ticket, "resolve", {"summary": "All settled."})
    assert flashes(refused) == [("error", "The ticket cannot be resolved yet: still missing "
                                          "KTP.")]
    after = reload(session, ticket)
    assert after.status == "pending_documents" and after.summary is None


def test_resolving_keeps_the_summary_the_customer_is_told(console, session, ticket):
    """P1.8."""
    client = console.signed_in("sari", "agent")
    empty = act(client, ticket, "resolve", {"summary": "   "})
    assert flashes(empty)[0][0] == "error" and reload(session, ticket).status == "open"
    done = act(client, ticket, "resolve", {"summary": "Your payment was credited on 3 Dec."})
    assert flashes(done) == [("success", f"Ticket {ticket.number} is resolved. The summary "
                                         "goes to the customer by SMS.")]
    after = reload(session, ticket)
    assert after.status == "resolved" and after.summary == "Your payment was credited on 3 Dec."
    assert after.resolved_at is not None
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "resolve_ticket")).one().actor == "user:sari"


def test_an_agent_takes_a_ticket_but_cannot_give_it_to_someone_else(console, session, ticket):
    client = console.signed_in("sari", "agent")
    sari = session.scalars(select(User).where(User.username == "sari")).one()
    other = console.user("tono", "agent")
    refused = act(client, ticket, "assign", {"owner_id": str(other.id)})
    assert flashes(refused)[0][0] == "error" and "only for themselves" in flashes(refused)[0][1]
    assert reload(session, ticket).owner_id is None
    taken = act(client, ticket, "assign", {"owner_id": str(sari.id)})
    assert flashes(taken) == [("success", f"Ticket {ticket.number} is now assigned to sari.")]
    assert reload(session, ticket).owner_id == sari.id
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "assign_ticket")).one().detail == "owner:sari"


def test_a_supervisor_assigns_anyone_active(console, session, ticket):
    boss = console.signed_in("dewi", "supervisor")
    tono = console.user("tono", "agent")
    gone = console.user("gone", "agent")
    gone.active = False
    session.commit()
    page = page_text(boss.get(url(ticket)))
    assert ">tono</option>" in page and ">gone</option>" not in page
    act(boss, ticket, "assign", {"owner_id": str(tono.id)})
    assert reload(session, ticket).owner_id == tono.id
    refused = act(boss, ticket, "assign", {"owner_id": str(gone.id)})
    assert flashes(refused)[0][0] == "error" and reload(session, ticket).owner_id == tono.id
    act(boss, ticket, "assign", {"owner_id": ""})
    assert reload(session, ticket).owner_id is None


def test_an_email_ticket_is_answered_with_an_approved_email_template(console, session,
                                                                     settings, budi):
    """P3.3 + P3.4: the outbox row names the template, the send job is queued, and the
    ticket waits for the customer."""
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=budi.id, language="en",
                                 settings=settings)
    session.commit()
    template = approved(session)
    approved(session, key="other_language", language="id")
    client = console.signed_in("sari", "agent")
    page = page_text(client.get(url(ticket)))
    assert "follow_up (Email, v1)" in page and "other_language" not in page
    response = act(client, ticket, "reply", {"template_id": str(template.id)})
    assert flashes(response)[0][0] == "success"
    email = session.scalars(select(OutboundEmail)).one()
    assert email.template_id == template.id and email.to_address == "budi@example.com"
    assert f"Hello Budi Santoso, about ticket {ticket.number}" in email.body
    assert f"email-{email.id}" in queue(settings, DEFAULT).get_job_ids()
    assert reload(session, ticket).status == "pending_customer"
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "send_email")).one().subject == f"ticket:{ticket.number}"


def test_a_phone_ticket_is_answered_by_sms_with_the_template_filled_in(console, session,
                                                                       settings, ticket):
    template = approved(session, key="sms_follow_up", channel="sms", subject=None)
    client = console.signed_in("sari", "agent")
    response = act(client, ticket, "reply", {"template_id": str(template.id)})
    assert flashes(response)[0] == ("success", "Reply “sms_follow_up” queued to the customer by "
                                               "SMS; the ticket now waits for the customer.")
    sms = session.scalars(select(OutboundMessage)).one()
    assert sms.channel == "sms" and sms.to_number == BUDI_PHONE
    assert sms.body == f"Hello Budi Santoso, about ticket {ticket.number}: we are on it."
    assert f"sms-{sms.id}" in queue(settings, DEFAULT).get_job_ids()


def test_whatsapp_outside_the_24_hour_window_is_refused_politely(console, session, settings,
                                                                 budi):
    ticket = lifecycle.open_ticket(session, channel="whatsapp", customer_id=budi.id,
                                 language="en", settings=settings)
    session.add(Contact(ticket_id=ticket.id, channel="whatsapp", direction="inbound",
                        status="received", sender=BUDI_PHONE, body="halo",
                        started_at=utcnow() - timedelta(hours=30)))
    session.commit()
    template = approved(session, key="wa_follow_up", channel="whatsapp", subject=None)
    client = console.signed_in("sari", "agent")
    response = act(client, ticket, "reply", {"template_id": str(template.id)})
    [(category, message)] = flashes(response)
    assert category == "error" and "within 24 hours" in message
    assert session.scalar(select(func.count(OutboundMessage.id))) == 0
    assert reload(session, ticket).status == "open"


def test_a_template_for_another_language_or_a_draft_cannot_be_sent(console, session, ticket):
    other = approved(session, key="sms_id", language="id", channel="sms", subject=None)
    client = console.signed_in("sari", "agent")
    refused = act(client, ticket, "reply", {"template_id": str(other.id)})
    assert flashes(refused)[0][0] == "error"
    missing = act(client, ticket, "reply", {"template_id": ""})
    assert flashes(missing) == [("error", "Choose an approved template to send.")]
    assert session.scalar(select(func.count(OutboundMessage.id))) == 0


def test_a_form_without_its_csrf_token_changes_nothing(console, session, ticket):
    client = console.signed_in("sari", "agent")
    refused = client.post(f"{url(ticket)}/resolve", data={"summary": "Done"})
    assert refused.status_code == 400 and "<html" in refused.get_data(as_text=True)
    forged = client.post(f"{url(ticket)}/resolve", data={"summary": "Done",
                                                          "csrf_token": "forged"})
    assert forged.status_code == 400
    assert reload(session, ticket).status == "open"


def test_qa_reads_tickets_but_does_not_work_them(console, session, ticket):
    client = console.signed_in("quinn", "qa")
    page = client.get(url(ticket))
    assert page.status_code == 200 and "Resolve ticket" not in page_text(page)
    token = csrf_from(page.get_data(as_text=True))
    refused = client.post(f"{url(ticket)}/resolve", data={"summary": "x", "csrf_token": token})
    assert refused.status_code == 403
    assert reload(session, ticket).status == "open"


def test_the_page_carries_the_stable_labels_the_browser_tests_use(console, ticket):
    text = page_text(console.signed_in("sari", "agent").get(url(ticket)))
    for heading in ("Reply with a template", "Schedule a callback", "Request documents",
                    "Assign", "Resolve"):
        assert re.search(rf"<h2[^>]*>{heading}</h2>", text), heading
    for label in ("Template", "Call at", "Documents needed", "Owner",
                  "Summary for the customer"):
        assert re.search(rf"<label for=\"[^\"]+\">{label}\b", text), label
    for button in ("Send reply", "Schedule callback", "Request documents", "Assign",
                   "Resolve ticket"):
        assert f'<button type="submit">{button}</button>' in text


def test_documents_cannot_be_asked_for_on_a_resolved_ticket_or_twenty_at_a_time(console,
                                                                                 session,
                                                                                 ticket):
    client = console.signed_in("sari", "agent")
    many = act(client, ticket, "documents", {"documents": "\n".join(
        f"Document {i}" for i in range(21))})
    assert flashes(many) == [("error", "At most 20 documents at once.")]
    act(client, ticket, "resolve", {"summary": "Settled by phone."})
    told = session.scalar(select(func.count(OutboundMessage.id)))  # the resolution notice
    settled = act(client, ticket, "documents", {"documents": "KTP"})
    [(category, message)] = flashes(settled)
    assert category == "error" and f"Ticket {ticket.number} is resolved" in message
    assert session.scalar(select(func.count(RequiredDocument.id))) == 0
    assert session.scalar(select(func.count(OutboundMessage.id))) == told  # no documents SMS


# --- extending the deadline (POJK 22/2023, 18/2018) and the due badge ---------------

WEDNESDAY = datetime.fromisoformat("2030-11-06T10:00:00+07:00")  # no holiday for weeks


def extended_console(settings, session, rules: str) -> Console:
    return Console(create_app(dataclasses.replace(settings, complaint_rules=rules)), session)


def written_ticket(session, settings, budi, *, channel="email", rules="pojk22_2023") -> Ticket:
    found = lifecycle.open_ticket(session, channel=channel, customer_id=budi.id, language="en",
                                settings=dataclasses.replace(settings, complaint_rules=rules))
    session.commit()
    return found


def extension_section(response) -> str:
    found = re.search(r'<h2 id="h-extend">Extend the deadline</h2>(.*?)</section>',
                      response.get_data(as_text=True), re.S)
    assert found, "the page has no extension section"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split()).replace(
        " .", ".")


@pytest.mark.parametrize("rules,first,extended", [
    ("pojk22_2023", "2030-11-20", "2030-12-04"),  # 10 working days, then 10 more
    ("pojk18_2018", "2030-12-04", "2031-01-03"),  # 20, then 20 more (Christmas, New Year off)
])
def test_a_supervisor_extends_a_written_complaint_once_from_the_page(
        settings, session, budi, rules, first, extended):
    """POJK 22/2023 (18/2018): once, by the configured working days, before the first period
    ends; the customer's written notice is queued at once and the change audited."""
    console = extended_console(settings, session, rules)
    with time_machine.travel(WEDNESDAY, tick=False):
        ticket = written_ticket(session, settings, budi, rules=rules)
        assert ticket.due_at.astimezone(JAKARTA).date().isoformat() == first
        client = console.signed_in("dewi", "supervisor")
        section = extension_section(client.get(url(ticket)))
        assert f"new due date is {date_text(extended)}" in section
        assert "The customer is told by SMS" in section
        done = act(client, ticket, "extension", {"reason": "Waiting for the bank's records"})
    assert flashes(done) == [("success", f"Deadline extended to {date_text(extended)}, "
                                         "23:59 WIB. The customer is told by SMS, with the "
                                         "reason.")]
    after = reload(session, ticket)
    assert after.due_at.astimezone(JAKARTA).date().isoformat() == extended
    notice = session.scalars(select(OutboundMessage)).one()
    assert notice.to_number == BUDI_PHONE and notice.status == "pending"
    assert ticket.number in notice.body and "Waiting for the bank's records" in notice.body
    assert f"sms-{notice.id}" in queue(console.app.config["SETTINGS"], DEFAULT).get_job_ids()
    row = session.scalars(select(AuditEntry).where(AuditEntry.action == "extend_deadline")).one()
    assert (row.actor, row.subject) == ("user:dewi", f"ticket:{ticket.number}")
    assert "Waiting for the bank's records" in row.detail
    page = page_text(done)
    assert "Extended" in page and "Reason for the extension" not in page


def date_text(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%a %d %b %Y")


def test_a_second_extension_is_refused_with_the_reason(console, session, settings, budi):
    with time_machine.travel(WEDNESDAY, tick=False):
        ticket = written_ticket(session, settings, budi)
        client = console.signed_in("dewi", "supervisor")
        act(client, ticket, "extension", {"reason": "Waiting for the bank"})
        due = reload(session, ticket).due_at
        page = client.get(url(ticket))
        section = extension_section(page)
        assert "The deadline cannot be extended: already extended once." in section
        assert "Extend deadline" not in section
        # A second POST (an old tab still showing the form) is refused the same way.
        token = csrf_from(page.get_data(as_text=True))
        again = client.post(f"{url(ticket)}/extension", data={
            "reason": "Again", "csrf_token": token}, follow_redirects=True)
    assert flashes(again) == [("error", "The deadline cannot be extended: already extended "
                                        "once.")]
    assert reload(session, ticket).due_at == due
    assert session.scalar(select(func.count(OutboundMessage.id))) == 1
    assert session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "extend_deadline")) == 1


def test_an_oral_complaint_shows_why_it_cannot_be_extended_and_no_form(console, session,
                                                                       ticket):
    client = console.signed_in("dewi", "supervisor")
    page = client.get(url(ticket))
    section = extension_section(page)
    assert ("The deadline cannot be extended: an oral complaint cannot be extended; it becomes "
            "written.") in section
    assert "Reason for the extension" not in section and "Extend deadline" not in section
    due = ticket.due_at
    refused = act(client, ticket, "extension", {"reason": "Please"})
    assert flashes(refused)[0][0] == "error" and "oral complaint" in flashes(refused)[0][1]
    assert reload(session, ticket).due_at == due
    assert session.scalar(select(func.count(OutboundMessage.id))) == 0


def test_after_the_first_period_or_while_documents_are_missing_there_is_no_form(
        console, session, settings, budi):
    with time_machine.travel(WEDNESDAY, tick=False):
        late = written_ticket(session, settings, budi)
        waiting = written_ticket(session, settings, budi)
        documents.require_documents(session, waiting, ["KTP"])
        session.commit()
    with time_machine.travel(WEDNESDAY + timedelta(days=15), tick=False):  # after 20 Nov
        client = console.signed_in("dewi", "supervisor")
        section = extension_section(client.get(url(late)))
        assert "cannot be extended: the first period has ended" in section
        assert "The first period ended Wed 20 Nov 2030" in section
        assert "Extend deadline" not in section
        section = extension_section(client.get(url(waiting)))
        assert "the documents are not complete: the clock has not started" in section
        assert "Extend deadline" not in section


def test_a_reason_is_required(console, session, settings, budi):
    with time_machine.travel(WEDNESDAY, tick=False):
        ticket = written_ticket(session, settings, budi)
        client = console.signed_in("dewi", "supervisor")
        empty = act(client, ticket, "extension", {"reason": "  "})
    assert flashes(empty) == [("error", "Write the reason for the extension: the customer is "
                                        "told why.")]
    assert reload(session, ticket).due_at == ticket.due_at
    assert session.scalar(select(func.count(OutboundMessage.id))) == 0


def test_an_agent_sees_the_kind_and_the_extension_but_cannot_extend(console, session,
                                                                   settings, budi):
    with time_machine.travel(WEDNESDAY, tick=False):
        ticket = written_ticket(session, settings, budi, channel="voice")
        ticket.kind, ticket.converted_at = "written", WEDNESDAY + timedelta(days=7)
        regulation.refresh_due(ticket, settings)
        session.commit()
    with time_machine.travel(WEDNESDAY + timedelta(days=8), tick=False):
        boss = console.signed_in("dewi", "supervisor")
        act(boss, ticket, "extension", {"reason": "Waiting for the bank"})
        client = console.signed_in("sari", "agent")
        page = client.get(url(ticket))
        text = page_text(page)
        assert "Written complaint (converted from oral on Wed 13 Nov 2030" in text
        assert "Extended" in text and "Extend the deadline" not in text
        due = reload(session, ticket).due_at
        refused = client.post(f"{url(ticket)}/extension", data={
            "reason": "x", "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert refused.status_code == 403
    assert reload(session, ticket).due_at == due
    assert session.scalar(select(func.count(OutboundMessage.id))) == 1  # the supervisor's


def test_the_page_says_how_late_or_how_close_the_due_date_is(console, session, settings, budi):
    """Breach flags, counted as the floor counts them: working days late or left."""
    with time_machine.travel(WEDNESDAY, tick=False):
        ticket = written_ticket(session, settings, budi)  # due Wed 20 Nov 2030
    seen = {}
    for day in ("2030-11-07", "2030-11-19", "2030-11-20", "2030-11-21", "2030-11-26"):
        with time_machine.travel(datetime.fromisoformat(f"{day}T10:00:00+07:00"), tick=False):
            page = console.signed_in(f"sari{day[-2:]}", "agent").get(url(ticket))
            assert page.status_code == 200
            text = page_text(page)
        found = re.search(r'<span class="badge (overdue|nearing)">([^<]+)</span>', text)
        seen[day] = (found.group(1), found.group(2)) if found else None
    assert seen == {
        "2030-11-07": None,
        "2030-11-19": ("nearing", "Due soon: 1 working day left"),
        "2030-11-20": ("nearing", "Due today"),
        "2030-11-21": ("overdue", "Overdue: 1 working day late"),
        "2030-11-26": ("overdue", "Overdue: 4 working days late"),  # Tuesday
    }
