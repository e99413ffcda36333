"""The console's note box (ticket page and screen pop) and the wrap-up card after a call
(P1.7, P1.8): what an agent writes, sees and finishes, with its real effects."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from callcenter.models import Agent, AuditEntry, Contact, Note, Ticket
from callcenter.tickets import lifecycle
from callcenter.voice import agents
from tests.console.conftest import post_form
from tests.console.test_presence_and_pop import _accept, _agent, _pop, _ring, _waiting_caller
from tests.console.test_ticket_page import flashes, timeline_of
from tests.factories import make_customer
from tests.support.twilio_client import signed_post

PAGE = "/console/templates"


def _ticket(session, number: str) -> Ticket:
    session.expire_all()
    return session.scalars(select(Ticket).where(Ticket.number == number)).one()


def test_a_note_from_the_ticket_page_shows_in_the_timeline_with_author_and_jakarta_time(
        console, session):
    ticket = lifecycle.open_ticket(session, channel="voice",
                                   customer_id=make_customer(session).id)
    session.commit()
    client = console.signed_in("sari", "agent")
    url = f"/console/tickets/{ticket.number}"
    page = client.get(url).get_data(as_text=True)
    assert '<h2 id="h-note">Add a note</h2>' in page and 'name="text"' in page
    saved = post_form(client, url, f"{url}/notes",
                      {"text": "Nasabah bilang sudah transfer tgl 28."}, follow_redirects=True)
    assert flashes(saved) == [("success", f"Note saved on ticket {ticket.number}.")]
    line = timeline_of(saved)
    assert "Note by sari" in line and "Nasabah bilang sudah transfer tgl 28." in line
    note = session.scalars(select(Note)).one()
    note.created_at = datetime(2026, 11, 30, 2, 5, tzinfo=UTC)  # 09:05 in Jakarta
    session.commit()
    assert "09:05" in timeline_of(client.get(url))


def test_an_empty_or_oversized_note_is_refused_with_a_message(console, session):
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=None)
    session.commit()
    client = console.signed_in("sari", "agent")
    url = f"/console/tickets/{ticket.number}"
    empty = post_form(client, url, f"{url}/notes", {"text": "   "}, follow_redirects=True)
    assert flashes(empty) == [("error", "Write the note first: it cannot be empty.")]
    long = post_form(client, url, f"{url}/notes", {"text": "x" * 4001}, follow_redirects=True)
    assert flashes(long) == [("error", "A note has at most 4000 characters (this one has "
                                       "4001).")]
    assert session.scalars(select(Note)).all() == []


def test_notes_are_in_indonesian_by_default_and_qa_has_no_note_box(console, session):
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=None)
    lifecycle.resolve(session, ticket, "Selesai.")
    session.commit()
    url = f"/console/tickets/{ticket.number}"
    agent = console.signed_in("sari", "agent", language="id")
    page = agent.get(url).get_data(as_text=True)
    assert "Tambah catatan" in page and "Simpan catatan" in page  # a resolved ticket too
    saved = post_form(agent, url, f"{url}/notes", {"text": "Nasabah menelepon lagi."},
                      follow_redirects=True)
    assert flashes(saved) == [("success", f"Catatan disimpan di tiket {ticket.number}.")]
    assert "Catatan oleh sari" in saved.get_data(as_text=True)
    qa = console.signed_in("quinn", "qa").get(url).get_data(as_text=True)
    assert "Add a note" not in qa
    assert post_form(console.signed_in("qori", "qa"), url, f"{url}/notes",
                     {"text": "x"}).status_code == 403


def test_the_pop_has_a_note_box_and_a_note_written_during_the_call_returns_to_the_page(
        console, session):
    _caller_sid, number = _waiting_caller(session)
    agent = _agent(session, available=True)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    _accept(client, _ring(session, agent.id))
    reply = client.get("/console/pop", headers={"HX-Request": "true",
                                                "HX-Current-URL": f"http://localhost{PAGE}"})
    pop = reply.get_data(as_text=True)
    assert f'action="/console/tickets/{number}/notes"' in pop
    assert f'<input type="hidden" name="next" value="{PAGE}">' in pop
    assert 'id="pop-note-text" name="text"' in pop and 'hx-preserve="true"' in pop
    saved = post_form(client, PAGE, f"/console/tickets/{number}/notes",
                      {"text": "Minta keringanan denda.", "next": PAGE})
    assert saved.status_code == 303 and saved.headers["Location"] == PAGE
    assert [n.text for n in _ticket(session, number).notes] == ["Minta keringanan denda."]


def _end_call(client, session, agent_id: int) -> str:
    leg = session.scalars(select(Contact).where(Contact.kind == "agent_leg",
                                                Contact.agent_id == agent_id)
                          .order_by(Contact.id.desc())).first()
    signed_post(client, "/twilio/voice/status", {
        "CallSid": leg.external_id, "CallStatus": "completed", "SequenceNumber": "9"})
    return leg.external_id


def test_after_the_call_the_pop_stays_as_a_wrap_up_card_until_finished(console, session):
    caller_sid, number = _waiting_caller(session)
    budi_id = session.scalars(select(Contact).where(Contact.external_id == caller_sid)
                              ).one().ticket.customer_id
    older = lifecycle.open_ticket(session, channel="email", customer_id=budi_id)
    session.add(Contact(ticket_id=older.id, channel="email", direction="inbound",
                        status="received", subject="Bukti transfer"))
    session.commit()
    agent = _agent(session, available=True)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    _accept(client, _ring(session, agent.id))
    _end_call(client, session, agent.id)

    card = _pop(client)
    assert "Wrap up the call" in card and "Budi Santoso" in card
    assert "The customer's other open tickets" in card and older.number in card
    assert "Bukti transfer" in card  # last contacts across channels
    assert "I asked whether there is anything else" in card
    assert re.search(r'<span id="call-state" hx-swap-oob="true"[^>]*>Wrapping up', card)
    # Routing skips her while the card is open, though another caller waits.
    session.add(Contact(channel="voice", direction="inbound", external_id="CA" + "7" * 32,
                        ticket_id=older.id, queue_state="waiting", queued_at=older.opened_at))
    session.commit()
    assert agents.claim_agents(session) == []
    session.rollback()

    refused = post_form(client, PAGE, "/console/wrap-up", {
        "next_step": "resolve", "summary": "Sudah dijelaskan.", "text": "Catatan"},
        follow_redirects=True)
    assert flashes(refused) == [("error", "Ask whether there is anything else before "
                                          "resolving the ticket.")]
    assert "Wrap up the call" in _pop(client)  # still there, nothing written
    assert _ticket(session, number).status == "open"

    done = post_form(client, PAGE, "/console/wrap-up", {
        "next_step": "resolve", "anything_else": "1", "category": "payment_detail",
        "summary": "Pembayaran tgl 28 sudah masuk.", "text": "Nasabah cek pembayaran."},
        follow_redirects=True)
    assert flashes(done) == [("success", "Wrap-up finished. You can take the next call.")]
    ticket = _ticket(session, number)
    assert ticket.status == "resolved" and ticket.summary == "Pembayaran tgl 28 sudah masuk."
    assert ticket.category == "payment_detail"
    assert [n.text for n in ticket.notes] == ["Nasabah cek pembayaran."]
    assert "No call right now" in _pop(client)
    assert session.get(Agent, agent.id).wrap_up_until is None
    assert [a for a, _ in agents.claim_agents(session)] == [agent.id]
    session.rollback()
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "finish_wrap_up")
                            ).one()
    assert audit.actor == "user:sari" and audit.subject == f"ticket:{number}"


def test_the_wrap_up_card_is_in_indonesian(console, session):
    _waiting_caller(session)
    agent = _agent(session, available=True)
    client = console.signed_in("sari", "agent", agent_id=agent.id, language="id")
    _accept(client, _ring(session, agent.id))
    _end_call(client, session, agent.id)
    card = _pop(client)
    assert "Selesaikan panggilan" in card and "Selesaikan wrap-up" not in card
    assert "Langkah berikutnya" in card and "Next step" not in card
