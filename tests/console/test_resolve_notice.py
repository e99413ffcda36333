"""The console's resolve says whether and where the customer was told the summary (P1.8,
CONTRACT "Resolving tells the customer"), in the agent's language."""

from __future__ import annotations

import html

from sqlalchemy import select

from callcenter.models import OutboundMessage
from callcenter.tickets import lifecycle
from tests.console.conftest import post_form
from tests.factories import BUDI_PHONE, make_customer


def _resolve(client, number: str, summary: str) -> str:
    url = f"/console/tickets/{number}"
    done = post_form(client, url, f"{url}/resolve", {"summary": summary},
                     follow_redirects=True)
    assert done.status_code == 200
    return html.unescape(done.get_data(as_text=True))


def test_an_indonesian_agent_reads_that_the_summary_went_by_sms(console, session, settings):
    budi = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="walk_in", customer_id=budi.id,
                                   settings=settings)
    session.commit()
    page = _resolve(console.signed_in("sari", language="id"), ticket.number,
                    "Dokumen sudah lengkap dan tagihan dikoreksi.")
    assert (f"Tiket {ticket.number} sudah diselesaikan. Ringkasannya dikirim ke pelanggan "
            "melalui SMS.") in page
    sms = session.scalars(select(OutboundMessage)).one()
    assert sms.to_number == BUDI_PHONE and ticket.number in sms.body
    assert "Dokumen sudah lengkap dan tagihan dikoreksi." in sms.body


def test_a_ticket_without_a_customer_is_resolved_and_the_agent_learns_nobody_was_told(
        console, session, settings):
    ticket = lifecycle.open_ticket(session, channel="sms", customer_id=None, settings=settings)
    session.commit()
    page = _resolve(console.signed_in("sari", language="id"), ticket.number, "Bukan nasabah.")
    assert (f"Tiket {ticket.number} sudah diselesaikan. Pemberitahuan tidak dapat dikirim: "
            "Tiket ini tidak memiliki pelanggan yang terverifikasi") in page
    assert not session.scalars(select(OutboundMessage)).all()


def test_an_english_agent_reads_it_in_english(console, session, settings):
    budi = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id,
                                   settings=settings)
    session.commit()
    page = _resolve(console.signed_in("sari", language="en"), ticket.number, "Explained.")
    assert (f"Ticket {ticket.number} is resolved. The summary goes to the customer by "
            "SMS.") in page
