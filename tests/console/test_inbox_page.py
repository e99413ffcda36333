"""The inbox page (P3.1–P3.5): what waits for an answer, oldest first, with the sender's
verification in words; a reply with a QA-approved template from it; an unmatched email
linked to a customer's ticket, acting as theirs only once the agent confirms the sender."""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import select

from callcenter.models import AuditEntry, Contact, OutboundEmail, Template, Ticket
from callcenter.tickets import documents, lifecycle
from tests.console.conftest import Console, post_form
from tests.factories import make_customer
from tests.support.smtp import (  # noqa: F401 (fixtures)
    email_app_fixture,
    inbound_form,
    mail_sink_fixture,
    post_email,
)

INBOX = "/console/inbox"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def flashes(response) -> list[str]:
    return [html.unescape(m) for m in re.findall(
        r'<p class="flash flash-\w+" role="status">(.*?)</p>', response.get_data(as_text=True),
        re.S)]


def rows(response) -> list[str]:
    """The inbox's rows as text, in order."""
    body = re.search(r"<tbody>(.*?)</tbody>", response.get_data(as_text=True), re.S)
    if body is None:
        return []
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
            for row in re.findall(r"<tr.*?</tr>", body.group(1), re.S)]


@pytest.fixture
def console(email_app, session) -> Console:
    return Console(email_app, session)


@pytest.fixture
def budi(session):
    return make_customer(session)


def email(console, sender: str, subject: str, message_id: str, **extra) -> Contact:
    form = inbound_form(sender=sender, subject=subject, message_id=message_id)
    form.update(extra)
    answer = post_email(console.app.test_client(), form)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    contact = console.session.get(Contact, answer.get_json()["contact_id"])
    return contact


def test_the_inbox_lists_waiting_mail_oldest_first_and_flags_strangers(console, session,
                                                                        budi):
    ours = email(console, "Budi <budi@example.com>", "Tagihan saya salah", "<m1@x>")
    stranger = email(console, "Orang <orang.lain@example.net>", "Pinjaman", "<m2@x>")
    client = console.signed_in("sari", "agent")
    page = client.get(INBOX)
    assert page.status_code == 200
    listed = rows(page)
    assert len(listed) == 2
    assert "Budi S." in listed[0] and "Tagihan saya salah" in listed[0]
    assert "Verified" in listed[0] and ours.ticket.number in listed[0]
    assert "Not verified" in listed[1] and "Unknown sender" in listed[1]
    assert "o***@example.net" in listed[1] and "orang.lain" not in text(page)
    assert 'class="flagged"' in page.get_data(as_text=True)
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "view_inbox")).one().detail == "page=first shown=2"

    opened = client.get(f"{INBOX}/{stranger.id}")
    body = text(opened)
    assert "orang.lain@example.net" in body and "Link to a customer's ticket" in body
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "view_message")).one().detail == f"contact:{stranger.id}"


def test_a_reply_with_an_approved_template_answers_the_mail(console, session, budi):
    """P3.3/P3.4: the template goes to the customer's address with "anything else?"; the mail
    leaves the inbox and the ticket waits for the customer."""
    ours = email(console, "Budi <budi@example.com>", "Tagihan saya salah", "<m1@x>")
    session.add(Template(key="tagihan.diperiksa", language="id", version=1, status="approved",
                         channel="email", subject="Tiket {ticket}",
                         body="Halo {name}, tagihan Anda sudah kami periksa."))
    session.commit()
    template = session.scalars(select(Template)).one()
    client = console.signed_in("sari", "agent")
    url = f"{INBOX}/{ours.id}"
    assert "tagihan.diperiksa" in text(client.get(url))
    done = post_form(client, url, f"{url}/reply", {"template_id": str(template.id)},
                     follow_redirects=True)
    assert flashes(done) == [f"Reply “tagihan.diperiksa” queued on ticket {ours.ticket.number}"
                             "; the ticket now waits for the customer."]
    assert rows(done) == [] and "Nothing waits for an answer." in text(done)
    sent = session.scalars(select(OutboundEmail).where(
        OutboundEmail.template_id == template.id)).one()
    assert sent.to_address == "budi@example.com"
    assert "Halo Budi Santoso, tagihan Anda sudah kami periksa." in sent.body
    assert "Apakah ada hal lain" in sent.body
    session.expire_all()
    assert session.get(Ticket, ours.ticket_id).status == "pending_customer"


def _desk_ticket_waiting_for_ktp(session, settings, budi) -> Ticket:
    ticket = lifecycle.open_ticket(session, channel="walk_in", customer_id=budi.id,
                                   settings=settings)
    documents.require_documents(session, ticket, ["KTP"])
    session.commit()
    return ticket


def _with_ktp() -> dict:
    return {"attachments": "1",
            "attachment-info": '{"attachment1": {"filename": "ktp.jpg", "type": "image/jpeg"}}',
            "attachment1": (io.BytesIO(b"\xff\xd8\xff ktp"), "ktp.jpg", "image/jpeg")}


def test_linking_an_unmatched_mail_keeps_it_unverified_until_the_sender_is_confirmed(
        console, session, settings, budi):
    """The mail moves to the customer's ticket but changes nothing there (its KTP does not
    tick off the document) until the agent confirms, with the customer, that they sent it;
    both steps are audited."""
    desk = _desk_ticket_waiting_for_ktp(session, settings, budi)
    unmatched = email(console, "Budi <budi.kantor@example.net>", "KTP saya", "<m3@x>",
                      **_with_ktp())
    left = unmatched.ticket_id
    client = console.signed_in("sari", "agent")
    url = f"{INBOX}/{unmatched.id}"
    linked = post_form(client, url, f"{url}/link", {"ticket": desk.number},
                       follow_redirects=True)
    assert flashes(linked)[0].startswith(f"The email is on ticket {desk.number} now, marked "
                                         "unverified")
    session.expire_all()
    contact = session.get(Contact, unmatched.id)
    assert contact.ticket_id == desk.id and not contact.sender_verified
    assert documents.missing_names(session.get(Ticket, desk.id)) == ["KTP"]
    assert session.get(Ticket, left).status == "resolved"
    assert "Confirm the sender" in text(linked)

    unticked = post_form(client, url, f"{url}/confirm", {}, follow_redirects=True)
    assert "Tick the box" in flashes(unticked)[0]
    confirmed = post_form(client, url, f"{url}/confirm", {"sender_confirmed": "1"},
                          follow_redirects=True)
    assert flashes(confirmed) == ["The email now counts as the customer's own."]
    session.expire_all()
    ticket = session.get(Ticket, desk.id)
    assert ticket.status == "open" and documents.missing_names(ticket) == []
    actions = [a for (a,) in session.execute(
        select(AuditEntry.action).where(AuditEntry.actor == "user:sari"))]
    assert actions.count("link_email") == 2 and actions.count("confirm_sender") == 1


def test_linking_with_the_sender_confirmed_at_once(console, session, settings, budi):
    desk = _desk_ticket_waiting_for_ktp(session, settings, budi)
    unmatched = email(console, "Budi <budi.kantor@example.net>", "KTP saya", "<m4@x>",
                      **_with_ktp())
    client = console.signed_in("sari", "agent")
    url = f"{INBOX}/{unmatched.id}"
    linked = post_form(client, url, f"{url}/link",
                       {"ticket": desk.number, "sender_confirmed": "1"}, follow_redirects=True)
    assert flashes(linked)[0].startswith(
        f"The email is on ticket {desk.number} now, as the customer's own.")
    session.expire_all()
    assert documents.missing_names(session.get(Ticket, desk.id)) == []


def test_a_link_to_a_wrong_number_is_refused_in_words(console, session, budi):
    unmatched = email(console, "Orang <orang@example.net>", "Halo", "<m5@x>")
    client = console.signed_in("sari", "agent")
    url = f"{INBOX}/{unmatched.id}"
    refused = post_form(client, url, f"{url}/link", {"ticket": "1000000"},
                        follow_redirects=True)
    assert flashes(refused) == ["No ticket has that number: check the number."]
    assert session.get(Contact, unmatched.id).ticket_id == unmatched.ticket_id


def test_the_inbox_is_for_agents_and_supervisors(console, session):
    assert console.signed_in("qori", "qa").get(INBOX).status_code == 403
    assert console.signed_in("dewi", "supervisor").get(INBOX).status_code == 200
    assert console.signed_in("sari", "agent").get(f"{INBOX}/999").status_code == 404
    assert console.signed_in("adi", "agent").get(f"{INBOX}?after=nonsense").status_code == 400
