"""The console's language (CONTRACT "Console language"): Bahasa Indonesia by default
(``<html lang="id">``), English when the signed-in person chooses it (kept on their user, so it
survives signing out and in, audited) or, before sign-in, when the browser prefers English."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from sqlalchemy import select

from callcenter import labels
from callcenter.i18n import Msg
from callcenter.models import AuditEntry, User
from callcenter.people import users
from tests.console.conftest import PASSWORD, csrf_from, post_form
from tests.factories import make_customer, make_ticket
from webhooks.i18n import translate

TICKETS = "/console/tickets"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def lang_of(response) -> str:
    found = re.search(r'<html lang="(\w+)">', response.get_data(as_text=True))
    assert found, "the page has no <html lang>"
    return found.group(1)


def sign_in(client, username: str):
    page = client.get("/console/login")
    return client.post("/console/login", data={
        "username": username, "password": PASSWORD,
        "csrf_token": csrf_from(page.get_data(as_text=True))})


def switch(client, language: str, page: str = TICKETS):
    return post_form(client, page, "/console/language",
                     {"language": language, "next": page}, follow_redirects=True)


def test_the_sign_in_page_is_indonesian_unless_the_browser_prefers_english(console):
    plain = console.client(language=None).get("/console/login")
    assert lang_of(plain) == "id"
    assert "<h1>Masuk</h1>" in text(plain) and "Nama pengguna" in text(plain)
    assert "Kata sandi" in text(plain) and "Sign in" not in text(plain)

    english = console.client("en-US,en;q=0.9").get("/console/login")
    assert lang_of(english) == "en"
    assert "<h1>Sign in</h1>" in text(english) and "User name" in text(english)

    # Indonesian first in the browser's list (English only as a fallback): Indonesian.
    assert lang_of(console.client("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7")
                   .get("/console/login")) == "id"
    # Neither language asked for: Indonesian.
    assert lang_of(console.client("fr-FR,fr;q=0.9").get("/console/login")) == "id"


def test_a_failed_sign_in_says_so_in_the_pages_language(console):
    console.user("sari", "agent", language=None)
    client = console.client(language=None)
    refused = client.post("/console/login", data={
        "username": "sari", "password": "wrong password",
        "csrf_token": csrf_from(client.get("/console/login").get_data(as_text=True))})
    assert refused.status_code == 401
    assert "Nama pengguna atau kata sandi salah" in text(refused)


def test_a_signed_in_agent_reads_indonesian_by_default_whatever_the_browser_says(
        console, session):
    """The browser's preference counts only before sign-in; afterwards the person's choice
    does, and a new user has chosen nothing: Indonesian."""
    budi = make_customer(session)
    make_ticket(session, status="pending_documents", channel="whatsapp", customer=budi)
    session.commit()
    client = console.signed_in("sari", "agent", language=None)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
    page = client.get(TICKETS)
    assert page.status_code == 200 and lang_of(page) == "id"
    body = text(page)
    assert "<h1>Tiket</h1>" in body and ">Keluar</button>" in body
    assert "Menunggu dokumen" in body and "WhatsApp" in body  # status and channel as words
    assert "Terbuka dan menunggu" in body  # the status filter
    assert "Waiting for documents" not in body and "Sign out" not in body
    # The switch names the other language in that language, for whoever cannot read this one.
    assert 'lang="en"' in body and ">English</button>" in body


def test_choosing_english_is_kept_on_the_user_and_audited(console, session):
    client = console.signed_in("sari", "agent", language=None)
    done = switch(client, "en")
    assert done.status_code == 200 and lang_of(done) == "en"
    assert "The console is now in English." in text(done)
    assert "<h1>Tickets</h1>" in text(done) and ">Bahasa Indonesia</button>" in text(done)
    session.expire_all()
    assert session.scalars(select(User.language).where(User.username == "sari")).one() == "en"
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "set_language")).all()
    assert [(r.actor, r.subject, r.detail) for r in rows] == [
        ("user:sari", "user:sari", "id -> en")]

    # Signed out and in again, from another browser that asks for nothing: still English.
    post_form(client, TICKETS, "/console/logout", {})
    other = console.client(language=None)
    assert lang_of(other.get("/console/login")) == "id"  # not signed in: the default
    assert sign_in(other, "sari").status_code == 302
    assert lang_of(other.get(TICKETS)) == "en"

    back = switch(other, "id")
    assert lang_of(back) == "id" and "Konsol sekarang menggunakan Bahasa Indonesia." in text(back)
    session.expire_all()
    assert session.scalars(select(User.language).where(User.username == "sari")).one() == "id"


def test_an_unknown_language_is_refused_and_nothing_changes(console, session):
    client = console.signed_in("sari", "agent", language=None)
    refused = switch(client, "fr")
    assert lang_of(refused) == "id" and "Pilih Bahasa Indonesia atau English." in text(refused)
    session.expire_all()
    assert session.scalars(select(User.language).where(User.username == "sari")).one() == "id"
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "set_language")).all() == []


def test_the_switch_only_goes_back_to_console_pages(console):
    client = console.signed_in("sari", "agent", language=None)
    reply = post_form(client, TICKETS, "/console/language",
                      {"language": "en", "next": "https://evil.example/"})
    assert reply.status_code == 303 and reply.headers["Location"] == "/console/"


def test_dates_money_and_codes_follow_the_readers_language(console, session):
    budi = make_customer(session)
    ticket = make_ticket(session, status="open", channel="voice", customer=budi,
                         due=datetime(2030, 11, 20, 16, 59, tzinfo=UTC))
    session.commit()
    indonesian = text(console.signed_in("sari", "agent", language=None)
                      .get(f"/console/tickets/{ticket.number}"))
    assert "Rp 1.250.000" in indonesian and "paling lambat Sab 05 Des 2026" in indonesian
    assert "Rab 20 Nov 2030, 23.59 WIB" in indonesian  # the due time, in Jakarta
    assert "Pengaduan lisan" in indonesian and "Dana dicairkan" in indonesian
    assert "Telepon" in indonesian and "Terbuka" in indonesian

    english = text(console.signed_in("dewi", "supervisor", language="en")
                   .get(f"/console/tickets/{ticket.number}"))
    assert "Rp 1,250,000" in english and "by Sat 05 Dec 2026" in english
    assert "Wed 20 Nov 2030, 23:59 WIB" in english
    assert "Oral complaint" in english and "Paid out" in english


def test_error_pages_speak_the_readers_language(console):
    client = console.signed_in("sari", "agent", language=None)
    forbidden = client.get("/console/users")
    assert forbidden.status_code == 403 and lang_of(forbidden) == "id"
    assert "Tidak diizinkan" in text(forbidden)
    missing = console.client("en").get("/no-such-page")
    assert missing.status_code == 404 and lang_of(missing) == "en"
    assert "Page not found" in text(missing)
    assert "Halaman tidak ditemukan" in text(console.client(None).get("/no-such-page"))


def test_public_pages_follow_the_browser_unless_the_link_says_otherwise(console):
    english = console.client("en-GB,en;q=0.9").get("/")
    assert lang_of(english) == "en" and "How to make a complaint" in text(english)
    chosen = console.client("en-GB,en;q=0.9").get("/?lang=id")
    assert lang_of(chosen) == "id" and "Tata Cara Pengaduan Pengguna" in text(chosen)
    assert lang_of(console.client(None).get("/status")) == "id"


def test_a_refusal_the_domain_marked_reaches_the_reader_in_their_language(console):
    """The way views show a domain refusal (``flash(translate(exc), "error")``): a message
    marked with ``Msg`` (fields and labels inside it too) in the page's language."""
    refusal = users.UserError(Msg("language must be Indonesian (id) or English (en)"))
    owed = Msg("Callback owed: %(reason)s", reason=labels.label("callback reason",
                                                                "dropped_call"))
    with console.app.test_request_context("/console/login"):
        assert translate(refusal) == "bahasa harus Indonesia (id) atau Inggris (en)"
        assert translate(owed) == "Perlu telepon balik: panggilan terputus"
        assert translate(ValueError("not marked yet")) == "not marked yet"
    with console.app.test_request_context("/console/login",
                                          headers={"Accept-Language": "en"}):
        assert translate(refusal) == "language must be Indonesian (id) or English (en)"
        assert translate(owed) == "Callback owed: the call dropped"
