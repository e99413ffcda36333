"""What an agent is told after an action, in Bahasa Indonesia (issue 13, "Indonesian first").

The console's answers to a form (the flash under the top bar) and its refusals come in the
agent's language: the refusals the domain raises (:class:`~callcenter.i18n.Msg`) are the same
sentences the JSON API gives in English, translated where a person reads them. These tests
sign in Indonesian agents (no language chosen: Indonesian is the default) and read what a
person on the floor would read.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from callcenter.models import Callback
from callcenter.people import users
from callcenter.tickets import lifecycle
from callcenter.voice import agents
from tests.console.conftest import PASSWORD, post_form
from tests.console.test_ticket_page import act, approved, flashes, page_text, reload, url
from tests.factories import make_customer

ENGLISH_WORDS = re.compile(r"\b(the|is|was|ticket|callback|scheduled|requested|assigned|"
                           r"customer|choose|presence|reply|deadline)\b", re.I)


@pytest.fixture
def ticket(session, settings):
    budi = make_customer(session)
    found = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id, language="id",
                                settings=settings)
    session.commit()
    return found


def only_flash(response) -> tuple[str, str]:
    [(category, message)] = flashes(response)
    assert not ENGLISH_WORDS.search(message), f"English on an Indonesian page: {message!r}"
    return category, message


def test_a_callback_is_confirmed_and_a_second_one_refused_in_indonesian(console, session,
                                                                        ticket):
    client = console.signed_in("sari", "agent", language=None)
    done = act(client, ticket, "callback", {"call_at": "2030-12-01T10:00"})  # a Sunday
    assert only_flash(done) == (
        "success", "Telepon balik dijadwalkan pada Sen 02 Des 2030, 08.00 WIB. Waktunya "
                   "dipindahkan ke jam telepon pelanggan (08:00–20:00, Senin sampai Sabtu, bukan "
                   "hari libur).")
    again = act(client, ticket, "callback", {"call_at": ""})
    assert only_flash(again) == ("info", "Telepon balik sudah dijadwalkan pada Sen 02 Des 2030, "
                                         "08.00 WIB; tidak ada yang ditambahkan lagi.")
    past = act(client, ticket, "callback", {"call_at": "2020-01-06T10:00"})
    assert only_flash(past) == ("error", "Waktu telepon sudah lewat; pilih waktu yang lebih "
                                         "lambat atau kosongkan.")
    assert len(session.scalars(select(Callback)).all()) == 1


def test_documents_and_a_refused_resolve_are_told_in_indonesian(console, session, ticket):
    client = console.signed_in("sari", "agent", language=None)
    asked = act(client, ticket, "documents", {"documents": "KTP\nRekening koran"})
    assert only_flash(asked) == ("success", "Dokumen yang diminta: KTP, Rekening koran. "
                                            "Pelanggan diberi tahu lewat SMS dokumen apa yang "
                                            "masih kurang.")
    same = act(client, ticket, "documents", {"documents": "KTP"})
    assert only_flash(same)[1].startswith("Dokumen tersebut sudah diminta.")
    many = act(client, ticket, "documents", {"documents": "\n".join(
        f"Dokumen {i}" for i in range(21))})
    assert only_flash(many) == ("error", "Paling banyak 20 dokumen sekaligus.")
    refused = act(client, ticket, "resolve", {"summary": "Selesai."})
    assert only_flash(refused) == ("error", "Tiket belum dapat diselesaikan: masih kurang KTP, "
                                            "Rekening koran.")
    assert reload(session, ticket).status == "pending_documents"


def test_assigning_and_replying_are_confirmed_in_indonesian(console, session, ticket):
    client = console.signed_in("sari", "agent", language=None)
    user_id = re.search(r'<option value="(\d+)"[^>]*>sari', page_text(client.get(url(ticket))))
    assert user_id, "the owner list offers the agent themselves"
    taken = act(client, ticket, "assign", {"owner_id": user_id.group(1)})
    assert only_flash(taken) == ("success", f"Tiket {ticket.number} kini dipegang oleh sari.")
    nobody = act(client, ticket, "assign", {"owner_id": ""})
    assert only_flash(nobody) == ("error", "Hanya supervisor yang dapat membiarkan tiket tanpa "
                                           "pemegang.")
    template = approved(session, key="tindak_lanjut", language="id", channel="sms",
                        body="Halo {name}, tiket {ticket} sedang kami proses.", subject="")
    sent = act(client, ticket, "reply", {"template_id": str(template.id)})
    assert only_flash(sent) == ("success", "Balasan “tindak_lanjut” diantrekan ke pelanggan "
                                           "lewat SMS; tiket kini menunggu pelanggan.")
    unknown = act(client, ticket, "reply", {"template_id": "999999"})
    assert only_flash(unknown) == ("error", "Pilih templat yang disetujui untuk dikirim.")


def test_a_resolved_ticket_refuses_more_in_indonesian(console, session, ticket):
    client = console.signed_in("sari", "agent", language=None)
    act(client, ticket, "resolve", {"summary": "Pembayaran sudah masuk."})
    again = act(client, ticket, "resolve", {"summary": "Sekali lagi."})
    assert only_flash(again) == ("error", f"Tiket {ticket.number} sudah diselesaikan.")
    documents = act(client, ticket, "documents", {"documents": "KTP"})
    assert only_flash(documents) == ("error", f"Tiket {ticket.number} sudah diselesaikan; buka "
                                              "kembali terlebih dahulu.")


def test_presence_is_confirmed_in_indonesian_and_a_user_without_an_agent_is_told_why(
        console, session):
    agent = agents.add_agent(session, "Sari", phone="+628110000001")
    session.commit()
    client = console.signed_in("sari", "agent", agent_id=agent.id, language=None)
    page = "/console/templates"
    busy = post_form(client, page, "/console/presence", {"presence": "busy", "next": page},
                     follow_redirects=True)
    assert only_flash(busy) == ("success", "Status kehadiran diubah menjadi Sibuk.")
    odd = post_form(client, page, "/console/presence", {"presence": "asleep", "next": page},
                    follow_redirects=True)
    assert only_flash(odd) == ("error", "Pilih Tersedia, Sibuk, atau Tidak di tempat.")
    stranger = console.signed_in("ani", "agent", language=None)
    refused = post_form(stranger, page, "/console/presence", {"presence": "available"},
                        headers={"Accept": "text/html"})
    assert refused.status_code == 403
    assert "Pengguna Anda tidak terhubung dengan agen." in page_text(refused)
    wrap = post_form(stranger, page, "/console/wrap-up", {"next_step": "wait"},
                     headers={"Accept": "text/html"})
    assert wrap.status_code == 403
    assert "Pengguna Anda tidak terhubung dengan agen." in page_text(wrap)


def test_a_page_of_the_audit_trail_that_does_not_exist_is_explained_in_indonesian(console):
    client = console.signed_in("dewi", "supervisor", language=None)
    wrong = client.get("/console/audit?before=abc", headers={"Accept": "text/html"})
    assert wrong.status_code == 400
    assert "Halaman jejak audit itu tidak ada; buka halaman terbaru." in page_text(wrong)


def test_the_same_refusal_stays_english_in_the_json_api(console, session, ticket):
    """The API's texts are the contract's (English, whatever the browser asks): only pages
    translate. Same action, same rule, same sentence."""
    users.create_user(session, "robot", PASSWORD, "agent")
    session.commit()
    client = console.client(language="id")
    past = client.post(f"/api/tickets/{ticket.number}/callbacks", auth=("robot", PASSWORD),
                       json={"due_at": "2020-01-06T03:00:00+00:00"})
    assert past.status_code == 400
    assert past.get_json()["message"] == ("Call at is in the past; choose a later time or "
                                          "leave it empty.")
    resolved = client.post(f"/api/tickets/{ticket.number}/resolve", auth=("robot", PASSWORD),
                           json={"summary": ""})
    assert resolved.status_code == 400
    assert resolved.get_json()["message"] == ("Write the summary: it is what the customer is "
                                              "told.")


def test_a_refused_template_draft_says_why_in_indonesian(console, session):
    """The templates page: the domain's reason comes translated inside the page's sentence."""
    client = console.signed_in("sari", "agent", language=None)
    draft = {"key": "pengingat", "language": "id", "channel": "email", "subject": "Tiket",
             "body": "Halo {nama}, terima kasih."}
    reply = post_form(client, "/console/templates", "/console/templates", draft)
    assert reply.status_code == 400
    assert ("Draf tidak disimpan: penanda tidak dikenal {nama}; yang diizinkan: "
            in page_text(reply))
    assert post_form(client, "/console/templates", "/console/templates",
                     {**draft, "body": "Halo {name}."}).status_code == 302
    again = post_form(client, "/console/templates", "/console/templates",
                      {**draft, "body": "Teks lain {name}."})
    assert again.status_code == 409
    assert "templat 'pengingat' (id) memiliki draf terbuka" in page_text(again)


def test_a_refused_user_says_why_in_indonesian(console, session):
    admin = console.signed_in("root", "admin", language=None)
    reply = post_form(admin, "/console/users", "/console/users",
                      {"username": "dewi", "role": "qa", "password": "short"})
    assert reply.status_code == 400
    assert "Pengguna tidak ditambahkan: kata sandi paling sedikit" in page_text(reply)
    taken = post_form(admin, "/console/users", "/console/users",
                      {"username": "root", "role": "qa", "password": PASSWORD})
    assert "Pengguna tidak ditambahkan: pengguna 'root' sudah ada." in page_text(taken)
