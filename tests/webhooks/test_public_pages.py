"""The public pages (X3): the complaint procedure and the status look-up, as a customer uses them.

Real app, real database, real Redis; the form is posted with the CSRF token read off the page.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from callcenter.models import AuditEntry
from callcenter.tickets import lifecycle
from callcenter.tickets.numbers import number_for
from tests.console.conftest import csrf_from
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from webhooks.app import create_app

NOT_FOUND_EN = "We could not find a ticket with that number and phone number"
NOT_FOUND_ID = "Kami tidak dapat menemukan tiket dengan nomor dan nomor telepon tersebut"


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def mid_window():
    """The clock stopped well inside both fixed windows (15 min, 1 h), so a test's attempts
    never straddle a window boundary."""
    hour = int(time.time()) // 3600 * 3600
    with time_machine.travel(hour + 1350, tick=False):
        yield


def _text(response) -> str:
    return response.get_data(as_text=True)


def _ticket(session, **fields):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                                 category="payment_detail")
    for name, value in fields.items():
        setattr(ticket, name, value)
    session.commit()
    return ticket


def _ask(client, number: str, phone: str, *, ip: str = "198.51.100.1", lang: str = "en"):
    page = client.get(f"/status?lang={lang}", environ_base={"REMOTE_ADDR": ip})
    return client.post(f"/status?lang={lang}", environ_base={"REMOTE_ADDR": ip}, data={
        "ticket": number, "phone": phone, "csrf_token": csrf_from(_text(page))})


def _no_inline_code(html: str) -> None:
    """The pages' CSP blocks inline script and style: none may be relied on."""
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and 'style="' not in html and " onclick=" not in html


# --- the procedure ---------------------------------------------------------------------------


def test_the_procedure_is_in_indonesian_by_default_with_the_configured_deadlines(app, settings):
    page = app.test_client().get("/")
    html = _text(page)
    assert page.status_code == 200 and '<html lang="id">' in html
    assert "Tata Cara Pengaduan Pengguna" in html
    assert "paling lambat 5 hari kerja" in html and "paling lambat 10 hari kerja" in html
    assert "satu kali, paling lama 10 hari kerja" in html
    assert "POJK 22/2023" in html
    # Channels from the settings, and what to have ready (P1.1).
    assert f'href="tel:{settings.twilio_phone_number}"' in html
    assert f'href="mailto:{settings.support_email}"' in html
    assert "WhatsApp" in html and "Datang langsung" in html
    assert "Nama Anda" in html and "Order ID" in html
    assert 'href="/status?lang=id"' in html  # how to ask for the status
    assert 'href="/?lang=en"' in html  # the language switch
    _no_inline_code(html)


def test_the_procedure_in_english(app):
    html = _text(app.test_client().get("/?lang=en"))
    assert '<html lang="en">' in html and "How to make a complaint" in html
    assert "within 5 working days" in html and "within 10 working days" in html
    assert "extended once, by at most 10 working days" in html
    assert "Tata Cara" not in html


def test_the_hotline_is_said_to_start_with_an_automated_menu_in_both_languages(app):
    """A caller expecting a person at once would hang up at the menu: the page says the call
    starts with an automated menu, which keys choose the language, and how to reach a CS."""
    indonesian = _text(app.test_client().get("/"))
    english = _text(app.test_client().get("/?lang=en"))
    assert "Panggilan diawali menu otomatis" in indonesian
    assert "Bahasa Indonesia (tekan 1) atau bahasa Inggris (tekan 2)" in indonesian
    assert "tekan 0 di menu utama" in indonesian
    assert "The call starts with an automated menu" in english
    assert "Bahasa Indonesia (press 1) or English (press 2)" in english
    assert "press 0 at the main menu" in english
    assert "berbicara langsung dengan CS" not in indonesian
    assert "speak directly with a CS agent" not in english


def test_switching_to_the_pojk18_rules_changes_the_deadlines_shown(settings):
    app = create_app(replace(settings, complaint_rules="pojk18_2018",
                             collective_leave_stops_clock=True))
    indonesian = _text(app.test_client().get("/"))
    english = _text(app.test_client().get("/?lang=en"))
    assert "paling lambat 20 hari kerja" in indonesian and "10 hari kerja" not in indonesian
    assert "paling lama 20 hari kerja" in indonesian
    assert "within 20 working days" in english and "10 working days" not in english
    assert "POJK 18/POJK.07/2018" in english
    assert "Collective leave days (cuti bersama) are not counted" in english


# --- the status look-up ----------------------------------------------------------------------


def test_the_status_form_is_labelled_in_both_languages(app):
    html = _text(app.test_client().get("/status"))
    assert '<label for="ticket">Nomor tiket (Ticket number)</label>' in html
    assert '<label for="phone">Nomor telepon (Phone number)</label>' in html
    assert '<button type="submit">Cek status</button>' in html
    assert 'name="csrf_token"' in html
    _no_inline_code(html)


def test_the_right_number_and_phone_show_the_status_and_due_date_and_nothing_else(app, session):
    ticket = _ticket(session)
    answer = _ask(app.test_client(), ticket.number, "0812-3456-7890", lang="id")
    html = _text(answer)
    assert answer.status_code == 200
    assert "sedang kami proses" in html  # the status in words, in the page language
    due = ticket.due_at.astimezone(ZoneInfo("Asia/Jakarta")).date()
    months = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
              "September", "Oktober", "November", "Desember"]
    assert f"{due.day} {months[due.month - 1]} {due.year}" in html
    for secret in ("Budi", BUDI_ORDER, BUDI_PHONE, "081234567890", "payment_detail",
                   "voice", ticket.number):
        assert secret not in html, secret
    assert answer.headers["Cache-Control"] == "no-store"
    _no_inline_code(html)


def test_an_extended_ticket_says_so_in_english(app, session, settings):
    from callcenter.compliance import regulation

    ticket = _ticket(session, channel="email", kind="written")
    ticket.due_at = regulation.compute_due(ticket, session, settings, extended=True)
    session.commit()
    html = _text(_ask(app.test_client(), ticket.number, BUDI_PHONE))
    assert "in progress" in html and "Extended once" in html


def test_wrong_phone_unknown_number_and_bad_check_digit_get_the_identical_answer(app,
                                                                                 session):
    ticket = _ticket(session)
    make_customer(session, order_id="20261002", phone="+6281299990000", name="Siti Aminah")
    bad_digit = ticket.number[:-1] + str((int(ticket.number[-1]) + 1) % 10)
    client = app.test_client()
    answers = [_ask(client, ticket.number, "+6281299990000"),
               _ask(client, number_for(ticket.id + 1000), BUDI_PHONE),
               _ask(client, bad_digit, BUDI_PHONE)]
    assert {a.status_code for a in answers} == {404}
    bodies = {_text(a) for a in answers}
    assert len(bodies) == 1  # byte for byte the same page
    assert NOT_FOUND_EN in bodies.pop()
    assert NOT_FOUND_ID in _text(_ask(client, bad_digit, BUDI_PHONE, lang="id"))


def test_a_post_without_its_csrf_token_is_refused(app, session):
    ticket = _ticket(session)
    answer = app.test_client().post("/status", data={"ticket": ticket.number,
                                                     "phone": BUDI_PHONE})
    assert answer.status_code == 400 and "CSRF" in _text(answer)
    assert "sedang kami proses" not in _text(answer)
    assert session.scalars(select(AuditEntry)).all() == []


def test_missing_fields_are_asked_for_without_a_lookup(app, session):
    answer = _ask(app.test_client(), "", BUDI_PHONE)
    assert answer.status_code == 400
    assert "Enter both the ticket number and the phone number" in _text(answer)
    assert session.scalars(select(AuditEntry)).all() == []


def test_every_lookup_is_audited_without_personal_data(app, session):
    ticket = _ticket(session)
    client = app.test_client()
    _ask(client, ticket.number, BUDI_PHONE, ip="203.0.113.9")
    _ask(client, ticket.number, "+6281299990000", ip="203.0.113.9")
    session.expire_all()
    rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(r.action, r.subject, r.detail) for r in rows] == [
        ("status_lookup", f"ticket:{ticket.number}", "result=found"),
        ("status_lookup", "-", "result=not_found")]
    assert rows[0].actor == rows[1].actor and rows[0].actor.startswith("public:")
    stored = " ".join(f"{r.actor} {r.subject} {r.detail}" for r in rows)
    for personal in ("203.0.113.9", BUDI_PHONE, "6281299990000", "Budi", BUDI_ORDER):
        assert personal not in stored


def test_ten_attempts_per_client_then_a_polite_429(app, session, mid_window):
    ticket = _ticket(session)
    client = app.test_client()
    for attempt in range(10):  # different (unknown) numbers: only the client limit applies
        number = number_for(ticket.id + 100 + attempt)
        assert _ask(client, number, BUDI_PHONE, ip="192.0.2.10").status_code == 404
    refused = _ask(client, ticket.number, BUDI_PHONE, ip="192.0.2.10")
    html = _text(refused)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Too many attempts" in html and "Terlalu banyak percobaan" in html  # bilingual
    assert "in progress" not in html
    # Another client is not affected, and gets the real answer.
    assert _ask(client, ticket.number, BUDI_PHONE, ip="192.0.2.11").status_code == 200
    session.expire_all()
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.detail == "result=rate_limited")).one().subject == "-"


def test_five_attempts_per_ticket_number_hold_across_client_addresses(app, session,
                                                                       mid_window):
    ticket = _ticket(session)
    client = app.test_client()
    for attempt in range(5):
        ip = f"192.0.2.{20 + attempt}"
        assert _ask(client, ticket.number, "+6281299990000", ip=ip).status_code == 404
    refused = _ask(client, ticket.number, BUDI_PHONE, ip="192.0.2.99")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "in progress" not in _text(refused)  # even the right phone waits now
    other = lifecycle.open_ticket(session, channel="email", customer_id=ticket.customer_id)
    session.commit()
    assert _ask(client, other.number, BUDI_PHONE, ip="192.0.2.99").status_code == 200


def test_without_redis_the_form_fails_closed_with_a_polite_page(settings, session):
    ticket = _ticket(session)
    app = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    answer = _ask(app.test_client(), ticket.number, BUDI_PHONE)
    html = _text(answer)
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert "Status checks are not available" in html and "Traceback" not in html
    assert "in progress" not in html


def test_behind_a_trusted_proxy_each_customer_has_their_own_allowance(settings, session,
                                                                      mid_window):
    """TRUSTED_PROXY_HOPS=1: the proxy's X-Forwarded-For names the client; without the
    setting, the same header is ignored and everyone behind the proxy shares one allowance."""
    ticket = _ticket(session)
    proxied = create_app(replace(settings, trusted_proxy_hops=1)).test_client()
    direct = create_app(settings).test_client()
    numbers = (number_for(ticket.id + 500 + n) for n in range(100))  # unknown, each once

    def ask(client, forwarded_for: str):
        page = client.get("/status?lang=en", environ_base={"REMOTE_ADDR": "10.0.0.1"},
                          headers={"X-Forwarded-For": forwarded_for})
        return client.post("/status?lang=en", environ_base={"REMOTE_ADDR": "10.0.0.1"},
                           headers={"X-Forwarded-For": forwarded_for},
                           data={"ticket": next(numbers), "phone": BUDI_PHONE,
                                 "csrf_token": csrf_from(_text(page))})

    for attempt in range(10):
        assert ask(proxied, f"203.0.113.{attempt}").status_code == 404  # ten customers
    assert ask(proxied, "203.0.113.50").status_code == 404  # an eleventh is not refused
    for attempt in range(10):
        ask(direct, f"198.18.0.{attempt}")  # the header means nothing without the setting
    assert ask(direct, "198.18.0.99").status_code == 429
