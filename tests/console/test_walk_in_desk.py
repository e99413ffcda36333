"""The walk-in desk page (P4.1–P4.8): a desk officer verifies the visitor, answers from their
data, gives the ticket number on a printable slip and by SMS, keeps the ticket waiting for
missing documents, asks "anything else?", summarises and reads the closing greeting."""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from callcenter.channels import walkins
from callcenter.models import AuditEntry, Contact, Document, OutboundMessage, Ticket
from tests.console.conftest import csrf_from, post_form
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer

DESK = "/console/desk"
GOOD = {"name": "Budi Santoso", "phone": "0812-3456-7890", "order_id": BUDI_ORDER,
        "problem": "Tagihan bulan ini lebih besar dari biasanya.", "language": "id"}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def flashes(response) -> list[str]:
    return [html.unescape(m) for m in re.findall(
        r'<p class="flash flash-\w+" role="status">(.*?)</p>', response.get_data(as_text=True),
        re.S)]


@pytest.fixture
def budi(session):
    return make_customer(session)


def verify(client, **changes: str):
    return post_form(client, DESK, "/console/desk/visits", {**GOOD, **changes})


def visit_of(session) -> Contact:
    session.expire_all()
    return session.scalars(select(Contact).where(Contact.channel == "walk_in")
                           .order_by(Contact.id.desc())).first()


def served(console, session, username: str = "sari"):
    """An officer signed in, with a verified visitor at the desk: (client, visit, page URL)."""
    client = console.signed_in(username, "agent")
    reply = verify(client)
    assert reply.status_code == 303, text(reply)
    visit = visit_of(session)
    assert reply.headers["Location"].endswith(f"/console/desk/visits/{visit.id}")
    return client, visit, f"/console/desk/visits/{visit.id}"


def test_a_verified_visitor_gets_a_ticket_their_data_and_answers_to_read_out(console,
                                                                              session, budi):
    """P4.1, P4.2, P4.4, P4.5: the visit on a new ticket, the data and the answers in the
    visitor's language, the ticket number on the slip and in the SMS."""
    client, visit, url = served(console, session)
    ticket = visit.ticket
    assert ticket.channel == "walk_in" and ticket.customer_id == budi.id
    assert visit.body == GOOD["problem"] and walkins.is_open(visit)
    page = client.get(url)
    body = text(page)
    assert page.status_code == 200
    assert f"Verified. Ticket {ticket.number} is opened" in flashes(page)[0]
    for shown in ("Budi Santoso", BUDI_ORDER, "Cankul Tunai", "8808123456",
                  GOOD["problem"], f"Nomor tiket: {ticket.number}"):
        assert shown in body, shown
    # The answers are read to the customer in their language (Indonesian here).
    assert ('<blockquote class="script" lang="id">Jumlah tagihan Anda adalah 1.250.000 rupiah'
            in body)
    assert "How to pay" in body and "Bill amount and due date" in body
    assert '<button type="button" data-print>Print the slip</button>' in body
    sms = session.scalars(select(OutboundMessage)).one()
    assert sms.to_number == BUDI_PHONE and ticket.number in sms.body
    assert "waiting to be sent" in body and BUDI_PHONE not in body  # the number masked
    actions = [a for (a,) in session.execute(select(AuditEntry.action).order_by(AuditEntry.id))]
    assert {"desk_visit", "view_customer", "view_visit"} <= set(actions)


def test_a_wrong_detail_gets_one_message_and_the_third_escalates_to_a_supervisor(console,
                                                                                   session,
                                                                                   budi):
    """P4.1: the same message whatever part is wrong; after the third failure for one phone
    the page says, in words, that a supervisor must take over, who then verifies."""
    client = console.signed_in("sari", "agent")
    wrong_order = verify(client, order_id="20269999")
    wrong_name = verify(client, name="Budi Santosa")
    assert wrong_order.status_code == wrong_name.status_code == 422
    message = "The details given do not match our records."
    assert message in text(wrong_order) and message in text(wrong_name)
    assert "1 more try, then a supervisor must take over" in text(wrong_name)
    for part in ("order", "name", BUDI_ORDER, "1.250.000"):
        assert part not in re.search(r'role="alert">(.*?)</div>', text(wrong_name),
                                     re.S).group(1).lower()
    third = verify(client, phone="+62 812 3456 7890", order_id="20260000")
    assert third.status_code == 429
    assert "3 failed verifications for this phone number within 15 minutes: escalate to a " \
           "supervisor." in text(third)
    assert "Ask a supervisor to take over" in text(third)
    assert verify(client).status_code == 429  # even the right details, from this officer
    assert session.scalar(select(func.count(Ticket.id))) == 0
    boss = console.signed_in("dewi", "supervisor")
    assert verify(boss).status_code == 303


def test_missing_fields_are_asked_for_not_counted_as_failures(console, session, budi):
    client = console.signed_in("sari", "agent")
    reply = verify(client, order_id="")
    assert reply.status_code == 400
    assert "Write the visitor's name, phone number and Order ID." in text(reply)
    assert session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "desk_verify_failed")) == 0


def _upload(client, url: str, requirement_id: int | None, data: bytes, name: str = "ktp.jpg",
            token: bool = True):
    form = {"file": (io.BytesIO(data), name, "image/jpeg")}
    if requirement_id is not None:
        form["fulfils"] = str(requirement_id)
    if token:
        form["csrf_token"] = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(f"{url}/documents", data=form, content_type="multipart/form-data",
                       follow_redirects=True)


def test_documents_are_a_checklist_and_the_ticket_waits_until_each_is_uploaded(console,
                                                                               session, budi):
    """P4.3: asked-for documents keep the ticket waiting (and the customer is told by SMS);
    each is ticked off by its upload, one over the app's 1 MB body limit too."""
    client, visit, url = served(console, session)
    asked = post_form(client, url, f"{url}/required-documents",
                      {"documents": "KTP\nBukti transfer"}, follow_redirects=True)
    assert "Asked for: KTP, Bukti transfer." in flashes(asked)[0]
    ticket = visit_of(session).ticket
    assert ticket.status == "pending_documents"
    sms = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id.desc())).first()
    assert "KTP, Bukti transfer" in sms.body
    body = text(asked)
    assert "The ticket waits until every document below is here." in body
    assert body.count("☐") == 2
    ktp, proof = ticket.required_documents

    done = _upload(client, url, ktp.id, b"\xff\xd8 ktp")
    assert flashes(done)[0] == "Received: KTP. Still missing: Bukti transfer."
    assert text(done).count("✓") == 1 and text(done).count("☐") == 1
    big = b"%PDF" + b"x" * 1_500_000  # over the app's 1 MB body limit, under 5 MB
    last = _upload(client, url, proof.id, big, "bukti.pdf")
    assert flashes(last)[0] == ("Received: Bukti transfer. Nothing is missing now: the ticket "
                                "no longer waits.")
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == "open"
    stored = session.scalars(select(Document).order_by(Document.id)).all()
    assert [(d.filename, d.size, d.contact_id, d.source) for d in stored] == [
        ("ktp.jpg", 6, visit.id, "desk"), ("bukti.pdf", len(big), visit.id, "desk")]


def test_an_upload_without_its_csrf_token_is_refused(console, session, budi):
    client, _visit, url = served(console, session)
    reply = _upload(client, url, None, b"%PDF", token=False)
    assert reply.status_code == 400
    assert session.scalar(select(func.count(Document.id))) == 0


def test_a_file_over_five_megabytes_is_refused_in_words(console, session, budi):
    client, _visit, url = served(console, session)
    reply = _upload(client, url, None, b"x" * (5 * 1024 * 1024 + 1), "huge.bin")
    assert "The file is too large" in flashes(reply)[0]
    assert session.scalar(select(func.count(Document.id))) == 0


def test_anything_else_then_the_summary_and_the_closing_script(console, session, budi):
    """P4.6–P4.8: "anything else?" answered yes (a second problem gets its own ticket), then
    no: the summary, the ticket number and the closing greeting, in the visitor's language,
    kept on the visit; a closed visit takes no more uploads."""
    client, visit, url = served(console, session)
    more = post_form(client, url, f"{url}/anything-else", {}, follow_redirects=True)
    assert "the customer has something else" in flashes(more)[0]
    another = post_form(client, url, f"{url}/another-problem",
                        {"problem": "Aplikasi tidak bisa dibuka."}, follow_redirects=True)
    second = visit_of(session)
    assert second.id != visit.id and second.ticket_id != visit.ticket_id
    assert second.ticket.customer_id == budi.id and second.body == "Aplikasi tidak bisa dibuka."
    assert "Close each visit with its own summary" in flashes(another)[0]
    assert f"ticket {visit.ticket.number}" in text(another)  # the other open visit is named

    closed = post_form(client, url, f"{url}/close",
                       {"summary": "Tagihan naik karena denda keterlambatan."},
                       follow_redirects=True)
    body = text(closed)
    assert "The visit is closed. Read the closing script to the customer." in flashes(closed)
    number = visit.ticket.number
    for line in ("Ringkasan kunjungan Anda: Tagihan naik karena denda keterlambatan.",
                 f"Nomor tiket Anda {number}.",
                 "Terima kasih telah berkunjung ke Cankul."):
        assert line in body, line
    stored = session.get(Contact, visit.id)
    session.refresh(stored)
    assert stored.status == "completed" and [a["topic"] for a in stored.answers] == [
        "anything_else", "anything_else", "summary", "ticket_number", "closing_greeting"]
    again = _upload(client, url, None, b"%PDF")
    assert "This visit is closed" in flashes(again)[0]
    assert f'action="/console/desk/visits/{visit.id}/close"' not in text(again)


def test_the_desk_is_for_agents_and_supervisors(console, session, budi):
    assert console.signed_in("qori", "qa").get(DESK).status_code == 403
    assert console.signed_in("dewi", "supervisor").get(DESK).status_code == 200
    assert console.client().get(DESK).status_code == 302  # to the sign-in page
    assert console.signed_in("sari", "agent").get("/console/desk/visits/999").status_code == 404


def test_the_desk_speaks_indonesian_first(console, session, budi):
    client = console.signed_in("sari", "agent", language=None)
    body = text(client.get(DESK))
    assert '<html lang="id">' in body
    assert "Verifikasi pengunjung" in body and "Verify the visitor" not in body
