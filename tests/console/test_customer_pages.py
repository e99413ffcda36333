"""The console's customer search (the box on every page), its results and the customer's
page: masking on the list, everything on the page, an audit row for each search and view."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.models import AuditEntry, Callback, Contact, RequiredDocument, utcnow
from tests.console.test_words_not_codes import VisibleText
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer, make_ticket


@pytest.fixture
def budi(session):
    customer = make_customer(session)
    now = utcnow()
    call = make_ticket(session, channel="voice", customer=customer)
    chat = make_ticket(session, channel="whatsapp", customer=customer,
                       status="pending_documents")
    mail = make_ticket(session, channel="email", customer=customer, status="resolved")
    session.add_all([
        Contact(ticket_id=call.id, channel="voice", direction="inbound", status="completed",
                started_at=now - timedelta(hours=3), duration_s=125),
        Contact(ticket_id=chat.id, channel="whatsapp", direction="inbound",
                status="received", body="Bukti transfer menyusul", started_at=now),
        Contact(ticket_id=mail.id, channel="email", direction="inbound", status="received",
                subject="Tagihan saya", body="Mohon dicek", started_at=now - timedelta(days=1)),
        Callback(ticket_id=call.id, reason="more_explanation", status="scheduled",
                 phone=BUDI_PHONE, due_at=now + timedelta(hours=2)),
        RequiredDocument(ticket_id=chat.id, name="Bukti transfer"),
    ])
    session.commit()
    return {"customer": customer, "tickets": [call, chat, mail]}


def test_every_page_has_the_search_box_for_those_who_read_tickets(console, budi):
    agent = console.signed_in("sari", "agent")
    html = agent.get("/console/tickets").get_data(as_text=True)
    assert 'role="search"' in html and 'name="q"' in html
    admin_only = console.signed_in("adi", "admin")
    assert 'role="search"' in admin_only.get("/console/users").get_data(as_text=True)


def test_a_phone_typed_with_dashes_opens_the_customer_with_every_channel(console, session,
                                                                         budi):
    agent = console.signed_in("sari", "agent")
    reply = agent.get("/console/customers", query_string={"q": "0812-3456-7890"})
    assert reply.status_code == 303
    page = agent.get(reply.headers["Location"])
    text = VisibleText.of(page.get_data(as_text=True))
    assert page.status_code == 200
    assert "Budi Santoso" in text and BUDI_PHONE in text and BUDI_ORDER in text
    for ticket in budi["tickets"]:
        assert f"Ticket {ticket.number}" in text
    assert all(word in text for word in ("Phone", "WhatsApp", "Email"))
    assert "Rp" in text and "1,250,000" in text  # what the hotline answers from
    assert "Callback owed: a fuller explanation by phone" in text
    assert "Bukti transfer" in text and "Still needed" in text
    assert "Tagihan saya" in text


def test_several_matches_are_listed_masked_best_first(console, session, budi):
    make_customer(session, order_id="20261002", name="Siti Budiarti", phone="+6281298765432")
    agent = console.signed_in("sari", "agent")
    reply = agent.get("/console/customers?q=budi")
    text = VisibleText.of(reply.get_data(as_text=True))
    assert reply.status_code == 200
    assert text.index("Budi S.") < text.index("Siti B.")
    assert "Budi Santoso" not in text and BUDI_PHONE not in text and BUDI_ORDER not in text
    assert "+62*******7890" in text and "••••1001" in text
    assert "2 customers found" in text


def test_no_match_and_a_too_short_query_say_what_to_do(console, budi):
    agent = console.signed_in("sari", "agent")
    none = agent.get("/console/customers?q=zzzz")
    assert none.status_code == 200 and "No customer matches" in none.get_data(as_text=True)
    short = agent.get("/console/customers?q=ab")
    assert short.status_code == 400 and "at least 3" in short.get_data(as_text=True)


def test_search_and_view_are_audited_per_person_and_customer(console, session, budi):
    agent = console.signed_in("sari", "agent")
    agent.get("/console/customers?q=0812-3456-7890")
    agent.get(f"/console/customers/{budi['customer'].id}")
    rows = session.scalars(select(AuditEntry).where(
        AuditEntry.action.in_(["search_customers", "view_customer"]))
        .order_by(AuditEntry.id)).all()
    assert [(r.actor, r.action, r.subject) for r in rows] == [
        ("user:sari", "search_customers", "customers"),
        ("user:sari", "view_customer", f"customer:{budi['customer'].id}")]
    assert "0812" not in rows[0].detail and "read_as=" in rows[0].detail


def test_an_unknown_customer_is_a_page_that_says_so(console, budi):
    agent = console.signed_in("sari", "agent")
    reply = agent.get("/console/customers/999999")
    assert reply.status_code == 404 and "Customer not found" in reply.get_data(as_text=True)
    assert agent.get("/console/customers/99999999999999").status_code == 404


def test_strangers_are_sent_to_sign_in(console, budi):
    reply = console.client().get(f"/console/customers/{budi['customer'].id}")
    assert reply.status_code == 302 and "/console/login" in reply.headers["Location"]


def test_the_pages_are_indonesian_by_default(console, budi):
    agent = console.signed_in("sari", "agent", language=None)
    text = VisibleText.of(agent.get(f"/console/customers/{budi['customer'].id}")
                          .get_data(as_text=True))
    assert "Pelanggan" in text and "Tiket" in text
