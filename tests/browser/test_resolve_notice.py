"""An agent resolves a ticket in the Indonesian console and the customer receives the summary
(P1.8, P3.4; CONTRACT "Resolving tells the customer"): the SMS is read off the Twilio
simulator's record. Screenshots under test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from callcenter.tickets import lifecycle
from tests.browser.conftest import make_user, sign_in
from tests.factories import BUDI_PHONE, make_customer
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def indonesian_page(new_page):
    return new_page(locale="id-ID")


def test_an_agent_resolves_and_the_customer_receives_the_summary_by_sms(
        indonesian_page, hotline, session, shot):
    page = indonesian_page
    budi = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id,
                                   settings=hotline.settings)
    session.commit()
    make_user(session, "sari", "agent", language="id")
    sign_in(page, "sari", language="id")
    page.goto(f"/console/tickets/{ticket.number}")
    shot(page, "tiket")
    summary = "Denda keterlambatan Anda sudah kami hapus."
    page.get_by_label("Rangkuman untuk pelanggan", exact=True).fill(summary)
    page.get_by_role("button", name="Selesaikan tiket").click()
    expect(page.get_by_role("status").first).to_contain_text(
        f"Tiket {ticket.number} sudah diselesaikan. Ringkasannya dikirim ke pelanggan "
        "melalui SMS.")
    shot(page, "diselesaikan")
    hotline.run_jobs()
    received = eventually(lambda: [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE])
    assert len(received) == 1
    assert (f"pengaduan Anda dengan nomor tiket {ticket.number} telah selesai. Ringkasan: "
            f"{summary}") in received[0]["body"]
