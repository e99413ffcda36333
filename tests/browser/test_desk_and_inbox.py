"""The walk-in desk and the inbox in a real browser, in Indonesian (the console's default).

A desk officer serves a walk-in visitor end to end (P4.1–P4.8): a mistyped Order ID gets the
one message, the verified visitor's data and answers are read out, the ticket number is
printed (the print view shows the slip alone) and reaches the customer's phone by SMS through
the Twilio simulator, the KTP is missing so the ticket waits, the visit closes with the
summary and the closing greeting; the customer comes back with the KTP, the new visit
continues the same ticket, the upload ticks it off and the ticket no longer waits.

An agent answers a customer's email from the inbox with a QA-approved template (P3.3); the
reply reaches the customer's mailbox (a local SMTP sink) with "anything else?" (P3.4), and a
stranger's mail stays flagged. The English choice is kept on the person.
"""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from callcenter.models import Contact, Template, Ticket
from callcenter.tickets import documents
from tests.browser.conftest import PHONE, make_user, sign_in
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.smtp import WEBHOOK_AUTH, inbound_form, mail_sink_fixture  # noqa: F401
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def indonesian_page(new_page):
    """A desk PC whose browser asks for Indonesian."""
    return new_page(locale="id-ID")


def _flash(page):
    return page.get_by_role("status").first


def _verify(page, order_id: str = BUDI_ORDER) -> None:
    page.get_by_label("Nama lengkap").fill("Budi Santoso")
    page.get_by_label("Nomor telepon").fill("0812 3456 7890")
    page.get_by_label("Order ID", exact=True).fill(order_id)
    page.get_by_label("Keperluan pelanggan").fill("Saya ingin mengajukan keringanan denda.")
    page.get_by_role("button", name="Verifikasi dan catat kunjungan").click()
    page.wait_for_load_state()


def _sms_to_budi(hotline) -> list[dict]:
    return [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE]


def test_a_desk_officer_serves_a_walk_in_whose_document_arrives_later(
        hotline, indonesian_page, session, shot):
    budi = make_customer(session)
    make_user(session, "sari", "agent", language="id")
    page = indonesian_page
    sign_in(page, "sari", language="id")
    page.get_by_role("link", name="Loket layanan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Loket layanan")
    shot(page, "desk")

    _verify(page, order_id="20269999")  # mistyped
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Data yang diberikan tidak cocok dengan catatan kami.")
    expect(alert).to_contain_text("Tersisa 2 kali percobaan")
    shot(page, "verify-failed")

    _verify(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Budi Santoso")
    ticket = eventually(lambda: session.scalars(select(Ticket)).first())
    number = ticket.number
    expect(_flash(page)).to_contain_text(f"Tiket {number} dibuka")
    main = page.locator("main")
    expect(main).to_contain_text("Jumlah tagihan Anda adalah 1.250.000 rupiah")
    expect(main).to_contain_text(f"Nomor tiket: {number}")
    expect(page.get_by_role("button", name="Cetak tanda terima")).to_be_visible()
    shot(page, "visit")

    # The printed slip: the print stylesheet leaves the slip alone on the page.
    page.emulate_media(media="print")
    expect(page.locator(".slip")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_be_hidden()
    expect(page.get_by_role("heading", name="Data pelanggan")).to_be_hidden()
    shot(page, "slip-printed")
    page.emulate_media(media="screen")

    # P4.5: the number reaches the customer's phone by SMS (the worker, through Twilio).
    hotline.run_jobs()
    sent = eventually(lambda: _sms_to_budi(hotline))
    assert number in sent[0]["body"]
    page.reload()
    expect(page.locator(".sms-state")).to_contain_text("sudah dikirim lewat SMS ke +62")

    # P4.3: the KTP is missing: the ticket waits, the customer is told what to bring.
    page.get_by_label("Minta dokumen").fill("KTP")
    page.get_by_role("button", name="Minta dokumen ini").click()
    expect(_flash(page)).to_contain_text("Diminta: KTP.")
    checklist = page.get_by_role("list", name="Dokumen yang diminta")
    expect(checklist).to_contain_text("☐ KTP belum ada")
    expect(main).to_contain_text("Tiket menunggu sampai semua dokumen di bawah ini diterima.")
    expect(main).to_contain_text("Mohon bawa/kirim dokumen berikut:")  # on the slip
    shot(page, "document-missing")

    # P4.6–P4.8: nothing else today; the summary and the closing greeting are read out.
    page.get_by_label("Tidak ada lagi: rangkuman untuk pelanggan").fill(
        "Permohonan keringanan dicatat; bawa KTP agar dapat kami proses.")
    page.get_by_role("button", name="Tutup kunjungan").click()
    script = page.get_by_role("heading", name="Bacakan kepada pelanggan")
    expect(script).to_be_visible()
    expect(main).to_contain_text("Ringkasan kunjungan Anda: Permohonan keringanan dicatat")
    expect(main).to_contain_text(f"Nomor tiket Anda {number}.")
    expect(main).to_contain_text("Terima kasih telah berkunjung ke Cankul.")
    shot(page, "visit-closed")
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == "pending_documents"

    # Two days later Budi is back with his KTP: the new visit continues the same ticket.
    page.get_by_role("link", name="Loket layanan").first.click()
    _verify(page)
    expect(_flash(page)).to_contain_text(f"melanjutkan tiket pelanggan yang masih terbuka, "
                                         f"{number}")
    page.get_by_label("Berkas untuk KTP").set_input_files(
        files=[{"name": "ktp-budi.jpg", "mimeType": "image/jpeg",
                "buffer": b"\xff\xd8\xff" + b"k" * 40_000}])
    page.get_by_role("button", name="Unggah KTP").click()
    expect(_flash(page)).to_contain_text("Diterima: KTP. Tidak ada lagi yang kurang")
    expect(page.get_by_role("list", name="Dokumen yang diminta")).to_contain_text("✓ KTP")
    shot(page, "document-received")
    session.expire_all()
    stored = session.get(Ticket, ticket.id)
    assert stored.status == "open" and documents.missing_names(stored) == []
    visits = session.scalars(select(Contact).where(Contact.channel == "walk_in")).all()
    assert len(visits) == 2 and {v.ticket_id for v in visits} == {ticket.id}
    assert budi.id == stored.customer_id


def test_the_visit_page_fits_a_phone(hotline, new_page, session, shot):
    """The desk on a tablet or phone: nothing scrolls sideways at 390 px."""
    make_customer(session)
    make_user(session, "sari", "agent", language="id")
    page = new_page(PHONE, is_mobile=True, has_touch=True, locale="id-ID")
    sign_in(page, "sari", language="id")
    page.goto("/console/desk")
    _verify(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Budi Santoso")
    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1] <= 390, sizes
    shot(page, "visit-phone")


@pytest.fixture
def mailbox(mail_sink, monkeypatch):
    """The customers' mailbox (SMTP sink) and the inbound-parse password, set before the
    live server reads its settings."""
    monkeypatch.setenv("EMAIL_WEBHOOK_AUTH", ":".join(WEBHOOK_AUTH))
    return mail_sink


def _email_arrives(hotline, **form) -> dict:
    answer = requests.post(hotline.live.url + "/email/inbound", data=inbound_form(**form),
                           auth=WEBHOOK_AUTH, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_agent_answers_the_inbox_with_an_approved_template(mailbox, hotline,
                                                              indonesian_page, session, shot):
    make_customer(session)
    session.add(Template(key="tagihan.diperiksa", language="id", version=1, status="approved",
                         channel="email", subject="Tiket {ticket}",
                         body="Halo {name}, tagihan Anda sudah kami periksa dan sudah benar."))
    session.commit()
    ours = _email_arrives(hotline, sender="Budi Santoso <budi@example.com>",
                          subject="Tagihan saya salah", message_id="<budi-1@mail.example>")
    _email_arrives(hotline, sender="Orang Lain <orang@example.net>",
                   subject="Minta data pinjaman", message_id="<orang-1@mail.example>")
    hotline.run_jobs()  # the acknowledgements go out (they are not answers)
    make_user(session, "sari", "agent", language="id")
    page = indonesian_page
    sign_in(page, "sari", language="id")
    page.get_by_role("link", name="Kotak masuk").click()
    table = page.get_by_role("table", name="Pesan yang menunggu balasan")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Budi S.")
    expect(rows.nth(0)).to_contain_text("Terverifikasi: dari alamat terdaftar pelanggan.")
    expect(rows.nth(1)).to_contain_text("Pengirim tidak dikenal")
    expect(rows.nth(1)).to_contain_text("o***@example.net")
    shot(page, "inbox")

    rows.nth(0).get_by_role("link", name="Tagihan saya salah").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tagihan saya salah")
    choice = page.get_by_label("Templat", exact=True)
    choice.select_option(choice.locator("option", has_text="tagihan.diperiksa")
                         .get_attribute("value"))
    shot(page, "message")
    page.get_by_role("button", name="Kirim balasan").click()
    expect(_flash(page)).to_contain_text(f"diantrekan pada tiket {ours['ticket']}")
    expect(page.get_by_role("table", name="Pesan yang menunggu balasan")
           .locator("tbody tr")).to_have_count(1)
    shot(page, "inbox-after-reply")

    hotline.run_jobs()
    received = eventually(lambda: [m for m in mailbox.messages
                                   if "sudah kami periksa" in m.get_content()], timeout=10)
    reply = received[0]
    assert reply["To"] == "budi@example.com" and ours["ticket"] in reply["Subject"]
    assert "Apakah ada hal lain yang bisa kami bantu?" in reply.get_content()
    assert reply["In-Reply-To"] == "<budi-1@mail.example>"


def test_the_english_choice_is_kept_on_the_person(hotline, indonesian_page, new_page, session,
                                                   shot):
    """Indonesian first; one click gives English, which the person keeps on their next
    sign-in, whatever their browser asks for."""
    make_user(session, "sari", "agent", language="id")
    page = indonesian_page
    sign_in(page, "sari", language="id")
    page.goto("/console/desk")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_role("heading", level=1)).to_have_text("Loket layanan")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Walk-in desk")
    expect(page.get_by_role("link", name="Inbox")).to_be_visible()
    shot(page, "english")
    page.get_by_role("button", name="Sign out").click()

    again = new_page(locale="id-ID")
    sign_in(again, "sari", language="id")  # the sign-in page follows the browser
    again.goto("/console/desk")
    expect(again.locator("html")).to_have_attribute("lang", "en")
    expect(again.get_by_role("button", name="Verify and record the visit")).to_be_visible()
    shot(again, "english-kept")
