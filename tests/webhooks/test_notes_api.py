"""CONTRACT "Additions" → Notes: ``POST /api/tickets/<number>/notes`` with a person's basic
auth, and ``notes`` in the ticket JSON, oldest first."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from callcenter.models import AuditEntry, Note
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.conftest import API_TOKEN
from tests.factories import make_customer
from webhooks.app import create_app

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
PASSWORD = "long enough password"


@pytest.fixture
def api(settings, session):
    for name, role in (("sari", "agent"), ("dewi", "supervisor"), ("quinn", "qa")):
        users.create_user(session, name, PASSWORD, role)
    ticket = lifecycle.open_ticket(session, channel="voice",
                                   customer_id=make_customer(session).id)
    session.commit()
    return create_app(settings).test_client(), ticket


def test_an_agent_adds_a_note_and_the_ticket_json_lists_it_oldest_first(api, session):
    client, ticket = api
    first = client.post(f"/api/tickets/{ticket.number}/notes", auth=("sari", PASSWORD),
                        json={"text": "  Nasabah bilang sudah transfer tanggal 28.  "})
    assert first.status_code == 201
    body = first.get_json()
    assert set(body) == {"id", "author", "created_at", "text"}
    assert (body["author"], body["text"]) == ("sari", "Nasabah bilang sudah transfer tanggal 28.")
    assert body["created_at"].endswith("+07:00")  # Jakarta time, as every time in the API
    second = client.post(f"/api/tickets/{ticket.number}/notes", auth=("dewi", PASSWORD),
                         json={"text": "Sudah dicek ke bank: dana masuk."})
    assert second.status_code == 201 and second.get_json()["id"] > body["id"]
    shown = client.get(f"/api/tickets/{ticket.number}", headers=BEARER).get_json()
    assert [(n["author"], n["text"]) for n in shown["notes"]] == [
        ("sari", "Nasabah bilang sudah transfer tanggal 28."),
        ("dewi", "Sudah dicek ke bank: dana masuk.")]
    assert set(shown["notes"][0]) == {"author", "created_at", "text"}
    actors = session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "add_note")
                             .order_by(AuditEntry.id)).all()
    assert actors == ["user:sari", "user:dewi"]


@pytest.mark.parametrize("payload", [{"text": ""}, {"text": "   "}, {"text": "x" * 4001},
                                     {"text": 42}, {}, ["text"]])
def test_empty_oversized_or_malformed_text_is_a_400_and_nothing_is_kept(api, session, payload):
    client, ticket = api
    reply = client.post(f"/api/tickets/{ticket.number}/notes", auth=("sari", PASSWORD),
                        json=payload)
    assert reply.status_code == 400 and reply.is_json
    assert session.scalar(select(func.count(Note.id))) == 0


def test_unknown_ticket_is_404_and_qa_or_the_token_cannot_write(api, session):
    client, ticket = api
    assert client.post("/api/tickets/1234567890/notes", auth=("sari", PASSWORD),
                       json={"text": "Halo"}).status_code == 404
    assert client.post(f"/api/tickets/{ticket.number}/notes", auth=("quinn", PASSWORD),
                       json={"text": "Halo"}).status_code == 403
    assert client.post(f"/api/tickets/{ticket.number}/notes", headers=BEARER,
                       json={"text": "Halo"}).status_code == 401
    assert session.scalar(select(func.count(Note.id))) == 0
