"""CONTRACT "JSON API": bearer tokens, the ticket shape, audit of every view."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import select

from callcenter.models import AuditEntry, Contact
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.conftest import API_TOKEN
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from webhooks.app import create_app
from workers import heartbeats

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SARI = ("sari", "long enough password")  # an agent: writes take a person


@pytest.fixture
def client(settings, session):
    users.create_user(session, *SARI, "agent")
    session.commit()
    return create_app(settings).test_client()


@pytest.fixture
def ticket(session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.add(Contact(ticket_id=ticket.id, channel="voice", direction="inbound",
                        external_id="CA" + "1" * 32, status="completed", duration_s=61))
    session.commit()
    return ticket


def test_health_reports_database_redis_and_the_heartbeats(client, settings):
    for role in heartbeats.Role:
        heartbeats.beat(settings, role, f"test-{role}")
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert {k: body[k] for k in ("db", "redis", "worker", "scheduler")} == {
        "db": "ok", "redis": "ok", "worker": "ok", "scheduler": "ok"}
    assert 0 <= body["worker_last_seen_s"] < 5 and 0 <= body["scheduler_last_seen_s"] < 5


def test_health_names_the_failing_part(settings, session):
    client = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0")).test_client()
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.get_json() == {"db": "ok", "redis": "error", "worker": "unknown",
                                   "scheduler": "unknown"}


def test_health_is_503_when_no_worker_ever_beat(client, settings):
    heartbeats.beat(settings, heartbeats.Role.SCHEDULER, "test-scheduler")
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["worker"] == "silent" and body["worker_last_seen_s"] is None
    assert body["scheduler"] == "ok" and body["db"] == "ok" and body["redis"] == "ok"


def test_a_zero_heartbeat_limit_reports_the_beats_without_failing(settings, session):
    client = create_app(replace(settings, heartbeat_limit_s=0)).test_client()
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json()["worker"] == "ok"
    assert response.get_json()["worker_last_seen_s"] is None


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic dGVzdA==", "Bearer "])
def test_tickets_need_a_valid_token(client, ticket, header):
    headers = {"Authorization": header} if header else {}
    response = client.get(f"/api/tickets/{ticket.number}", headers=headers)
    assert response.status_code == 401
    assert response.is_json


def test_no_configured_token_refuses_everything(settings, ticket):
    client = create_app(replace(settings, api_tokens=())).test_client()
    assert client.get(f"/api/tickets/{ticket.number}", headers=AUTH).status_code == 401


def test_rotated_tokens_both_work(settings, ticket):
    client = create_app(replace(settings, api_tokens=("old", "new"))).test_client()
    for token in ("old", "new"):
        response = client.get(f"/api/tickets/{ticket.number}",
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200


def test_ticket_has_the_contract_shape(client, ticket):
    body = client.get(f"/api/tickets/{ticket.number}", headers=AUTH).get_json()
    assert body["number"] == ticket.number
    assert body["order_id"] == BUDI_ORDER
    assert {"status", "channel", "category", "opened_at", "due_at", "contacts",
            "callbacks"} <= set(body)
    assert datetime.fromisoformat(body["opened_at"]).utcoffset().total_seconds() == 7 * 3600
    contact = body["contacts"][0]
    assert contact["external_id"] == "CA" + "1" * 32
    assert contact["duration_s"] == 61 and contact["direction"] == "inbound"


def test_every_ticket_view_is_audited(client, session, ticket):
    client.get(f"/api/tickets/{ticket.number}", headers=AUTH)
    entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "view_ticket" and entry.subject == f"ticket:{ticket.number}"
    assert entry.actor.startswith("api:") and API_TOKEN not in entry.actor


def test_unknown_and_mistyped_ticket_numbers_are_404(client, ticket):
    mistyped = ticket.number[:-1] + str((int(ticket.number[-1]) + 1) % 10)
    for number in (mistyped, "1234567890", "abc"):
        response = client.get(f"/api/tickets/{number}", headers=AUTH)
        assert response.status_code == 404 and response.is_json


def test_search_by_phone_in_any_form_and_order_id(client, ticket):
    for query in ("phone=0812-3456-7890", f"phone={BUDI_PHONE}", f"order_id={BUDI_ORDER}"):
        body = client.get(f"/api/tickets?{query}", headers=AUTH).get_json()
        assert [t["number"] for t in body["tickets"]] == [ticket.number]
    none = client.get("/api/tickets?order_id=nope", headers=AUTH).get_json()
    assert none == {"tickets": []}
    bad = client.get("/api/tickets?phone=12", headers=AUTH)
    assert bad.status_code == 400


def test_agent_schedules_a_callback_into_the_customers_window(client, session, ticket):
    """P2.2a from a ticket: a Sunday request lands on Monday 08:00 Jakarta time."""
    response = client.post(f"/api/tickets/{ticket.number}/callbacks", auth=SARI,
                           json={"due_at": "2030-12-01T10:00:00+07:00"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["reason"] == "more_explanation" and body["status"] == "scheduled"
    assert body["due_at"] == "2030-12-02T08:00:00+07:00"
    again = client.post(f"/api/tickets/{ticket.number}/callbacks", auth=SARI, json={})
    assert again.status_code == 200 and again.get_json() == body
    entries = session.scalars(select(AuditEntry)).all()
    assert [e.action for e in entries] == ["schedule_callback", "schedule_callback"]


@pytest.mark.parametrize("payload", [{"due_at": "tomorrow"}, {"due_at": "2026-11-29T10:00:00"}])
def test_callback_request_with_a_bad_time_is_a_clear_400(client, ticket, payload):
    response = client.post(f"/api/tickets/{ticket.number}/callbacks", auth=SARI,
                           json=payload)
    assert response.status_code == 400 and "due_at" in response.get_json()["message"]


def test_callback_needs_a_person_and_a_known_ticket(client, ticket):
    assert client.post(f"/api/tickets/{ticket.number}/callbacks", json={}).status_code == 401
    assert client.post("/api/tickets/1234567890/callbacks", auth=SARI,
                       json={}).status_code == 404


@pytest.mark.parametrize("token", ["t\xf6ken", "t\xc3\xb6ken", API_TOKEN + "\xe9", "\xff" * 40])
def test_a_token_with_non_ascii_characters_is_refused_with_401_not_a_server_error(
        client, session, ticket, token):
    """Header bytes outside ASCII (a UTF-8 token arrives latin-1 decoded) are a wrong token:
    401 in JSON, and nothing is read or audited."""
    response = client.get(f"/api/tickets/{ticket.number}",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.is_json
    assert session.scalars(select(AuditEntry)).first() is None
