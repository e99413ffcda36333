"""CONTRACT "Additions" → Customer search: ``GET /api/customers?q=`` with the bearer token,
the contract's shape, best match first, at most 50, clear 400s, and an audit row per search
that never holds the query."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.models import AuditEntry
from tests.conftest import API_TOKEN
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer, make_ticket
from webhooks.app import create_app

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def client(settings, session):
    return create_app(settings).test_client()


@pytest.fixture
def budi(session):
    customer = make_customer(session)
    make_ticket(session, channel="voice", customer=customer)
    make_ticket(session, channel="whatsapp", customer=customer, status="resolved")
    session.commit()
    return customer


def test_a_phone_typed_as_people_write_it_returns_the_customer_with_their_tickets(
        client, budi):
    reply = client.get("/api/customers", query_string={"q": "0812-3456-7890"}, headers=AUTH)
    assert reply.status_code == 200
    [found] = reply.get_json()["customers"]
    assert {k: found[k] for k in ("order_id", "name", "phone", "email")} == {
        "order_id": BUDI_ORDER, "name": "Budi Santoso", "phone": BUDI_PHONE,
        "email": "budi@example.com"}
    assert sorted(t["channel"] for t in found["tickets"]) == ["voice", "whatsapp"]
    assert set(found["tickets"][0]) == {"number", "status", "channel", "opened_at"}
    assert found["tickets"][0]["opened_at"].endswith("+07:00")


def test_best_match_first_and_at_most_fifty(client, session, budi):
    for n in range(55):
        make_customer(session, order_id=f"8{n:05d}", name=f"Subudi {n:02d}",
                      phone=f"+62813000{n:05d}")
    reply = client.get("/api/customers?q=budi", headers=AUTH)
    found = reply.get_json()["customers"]
    assert len(found) == 50
    assert found[0]["name"] == "Budi Santoso"  # the name starts with it


@pytest.mark.parametrize("query", ["", "?q=", "?q=%20%20", "?q=ab", "?q=" + "9" * 101])
def test_an_empty_short_or_long_query_is_a_clear_400(client, budi, query):
    reply = client.get("/api/customers" + query, headers=AUTH)
    assert reply.status_code == 400
    assert reply.get_json()["message"].startswith("q: Type")


def test_the_token_is_required(client, budi):
    assert client.get("/api/customers?q=budi").status_code == 401
    assert client.get("/api/customers?q=budi",
                      headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_every_search_is_audited_without_the_query(client, session, budi):
    client.get(f"/api/customers?q={BUDI_ORDER}", headers=AUTH)
    client.get("/api/customers?q=nobody@example.com", headers=AUTH)
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "search_customers")
                           .order_by(AuditEntry.id)).all()
    assert [r.subject for r in rows] == ["customers", "customers"]
    assert rows[0].actor.startswith("api:")
    assert f"customers={budi.id}" in rows[0].detail and "results=1" in rows[0].detail
    assert "results=0" in rows[1].detail and "email" in rows[1].detail
    assert not any(BUDI_ORDER in r.detail or "nobody" in r.detail for r in rows)
