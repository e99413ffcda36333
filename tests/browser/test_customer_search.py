"""Finding a customer in a real browser, in Indonesian (the console's default): an agent
types the caller's number as people say it ("0812-3456-7890") into the search box at the top
of any page and lands on the customer's page with every ticket on every channel, the data the
hotline answers from, the callback owed and the document still missing; a name search lists
the customers masked, best match first. Also on a phone: the search box fits at 390 px."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from callcenter.models import Callback, Contact, RequiredDocument, utcnow
from tests.browser.conftest import PHONE, make_user, sign_in
from tests.factories import BUDI_PHONE, make_customer, make_ticket

pytestmark = pytest.mark.slow


@pytest.fixture
def book(session):
    """Budi with tickets on three channels, and a namesake."""
    budi = make_customer(session)
    make_customer(session, order_id="20261002", name="Budi Hartono", phone="+6281298765432",
                  email="hartono@example.com")
    now = utcnow()
    call = make_ticket(session, channel="voice", customer=budi)
    chat = make_ticket(session, channel="whatsapp", customer=budi, status="pending_documents")
    mail = make_ticket(session, channel="email", customer=budi, status="resolved")
    session.add_all([
        Contact(ticket_id=call.id, channel="voice", direction="inbound", status="completed",
                from_number=BUDI_PHONE, started_at=now - timedelta(hours=2), duration_s=140),
        Contact(ticket_id=chat.id, channel="whatsapp", direction="inbound", status="received",
                sender=BUDI_PHONE, body="Bukti transfer menyusul", started_at=now),
        Contact(ticket_id=mail.id, channel="email", direction="inbound", status="received",
                sender="budi@example.com", subject="Tagihan saya dobel",
                started_at=now - timedelta(days=2)),
        Callback(ticket_id=call.id, reason="more_explanation", status="scheduled",
                 phone=BUDI_PHONE, due_at=now + timedelta(hours=3)),
        RequiredDocument(ticket_id=chat.id, name="Bukti transfer"),
    ])
    session.commit()
    return {"budi": budi, "tickets": [call, chat, mail]}


def _search(page, typed: str) -> None:
    box = page.get_by_role("search").get_by_label("Cari pelanggan")
    box.fill(typed)
    page.get_by_role("search").get_by_role("button", name="Cari").click()
    page.wait_for_load_state()


def test_an_agent_finds_a_caller_by_phone_and_sees_every_ticket(hotline, new_page, session,
                                                               book, shot):
    make_user(session, "sari", "agent", language="id")
    page = new_page(locale="id-ID")
    sign_in(page, "sari", language="id")
    page.goto("/console/tickets")
    _search(page, "0812-3456-7890")
    expect(page.get_by_role("heading", level=1)).to_have_text("Budi Santoso")
    main = page.locator("main")
    for ticket in book["tickets"]:
        expect(main.get_by_role("link", name=f"Tiket {ticket.number}").first).to_be_visible()
    tickets = page.locator(".customer-tickets").first
    for channel in ("Telepon", "WhatsApp", "Email"):
        expect(tickets).to_contain_text(channel)
    expect(main).to_contain_text(BUDI_PHONE)
    expect(main).to_contain_text("Rp")  # what the hotline answers from: the bill
    expect(main).to_contain_text("Tagihan saya dobel")
    expect(main).to_contain_text("Bukti transfer")
    expect(main).to_contain_text("Masih diperlukan")
    shot(page, "customer")

    page.get_by_role("link", name=f"Tiket {book['tickets'][1].number}").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Tiket {book['tickets'][1].number}")


def test_a_name_lists_the_customers_masked_on_a_phone(hotline, new_page, session, book, shot):
    make_user(session, "sari", "agent", language="id")
    page = new_page(PHONE, is_mobile=True, has_touch=True, locale="id-ID")
    sign_in(page, "sari", language="id")
    _search(page, "budi")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cari pelanggan")
    hits = page.locator(".customer-hits > li")
    expect(hits).to_have_count(2)
    expect(hits.first).to_contain_text("Budi H.")  # both start with Budi: by name
    expect(hits.nth(1)).to_contain_text("Budi S.")
    expect(page.locator("main")).not_to_contain_text("Budi Santoso")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "results-phone")
    hits.nth(1).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Budi Santoso")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "customer-phone")
