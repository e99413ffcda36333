"""Writes need a person: every route under ``/api/`` that changes something takes a user's
HTTP basic auth, and the audit trail names that user. The ``API_TOKEN`` bearer only reads.

The table below has one working request per write route; a test compares it with the app's
URL map, so a new write route cannot be added without being tried here with the token.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.channels import templates
from callcenter.models import AuditEntry, Base, Callback, Template, Ticket, User
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.conftest import API_TOKEN
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from webhooks.app import create_app

TOKEN = {"Authorization": f"Bearer {API_TOKEN}"}
PASSWORD = "long enough password"
READ_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class Desk:
    """A written (email) ticket of Budi's, a walk-in visit, an approved email template and a
    draft someone else wrote: what the write routes act on."""

    client: FlaskClient
    session: Session
    ticket: Ticket
    visit_id: int
    approved: Template
    draft: Template


@pytest.fixture
def desk(settings, session) -> Desk:
    for name, role in (("sari", "agent"), ("sinta", "supervisor"), ("quinn", "qa"),
                       ("penulis", "agent")):
        users.create_user(session, name, PASSWORD, role)
    session.commit()
    author = session.scalars(select(User).where(User.username == "penulis")).one()
    checker = session.scalars(select(User).where(User.username == "quinn")).one()
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=customer.id,
                                   category="payment_detail", settings=settings)
    approved = templates.create_draft(session, author, key="follow_up", language="id",
                                      channel="email", subject="Tiket {ticket}",
                                      body="Halo {name}, tiket {ticket}.")
    templates.approve(session, checker, approved, read=templates.digest(approved))
    draft = templates.create_draft(session, author, key="reminder", language="id",
                                   channel="sms", body="Tagihan {amount} jatuh tempo.")
    session.commit()
    client = create_app(settings).test_client()
    visit = client.post("/api/desk/visits", auth=("sari", PASSWORD), json={
        "name": "Budi Santoso", "phone": BUDI_PHONE, "order_id": BUDI_ORDER,
        "problem": "Pembayaran belum masuk"})
    assert visit.status_code in (200, 201), visit.get_json()
    return Desk(client, session, ticket, visit.get_json()["visit_id"], approved, draft)


@dataclass(frozen=True)
class Write:
    """One working request to a write route: who may make it, what it answers, and the
    audit action it leaves."""

    path: Callable[[Desk], str]
    kwargs: Callable[[Desk], dict[str, Any]]
    user: str
    status: int
    action: str


WRITES: dict[tuple[str, str], Write] = {
    ("POST", "/api/tickets/<number>/callbacks"): Write(
        lambda d: f"/api/tickets/{d.ticket.number}/callbacks", lambda d: {"json": {}},
        "sari", 201, "schedule_callback"),
    ("POST", "/api/tickets/<number>/resolve"): Write(
        lambda d: f"/api/tickets/{d.ticket.number}/resolve",
        lambda d: {"json": {"summary": "Pembayaran sudah kami catat."}},
        "sari", 200, "resolve_ticket"),
    ("POST", "/api/tickets/<number>/notes"): Write(
        lambda d: f"/api/tickets/{d.ticket.number}/notes",
        lambda d: {"json": {"text": "Nasabah bilang sudah transfer tanggal 28."}},
        "sari", 201, "add_note"),
    ("POST", "/api/tickets/<number>/extension"): Write(
        lambda d: f"/api/tickets/{d.ticket.number}/extension",
        lambda d: {"json": {"reason": "menunggu data bank"}}, "sinta", 200, "extend_deadline"),
    ("POST", "/api/tickets/<number>/replies"): Write(
        lambda d: f"/api/tickets/{d.ticket.number}/replies",
        lambda d: {"json": {"template_id": d.approved.id}}, "sari", 202, "send_email"),
    ("POST", "/api/tickets/<number>/messages"): Write(
        lambda d: f"/api/tickets/{d.ticket.number}/messages",
        lambda d: {"json": {"channel": "sms", "text": "Kami sedang memeriksa."}},
        "sari", 202, "send_message"),
    ("POST", "/api/tickets/<number>/required-documents"): Write(
        lambda d: f"/api/tickets/{d.ticket.number}/required-documents",
        lambda d: {"json": {"names": ["bukti transfer"]}}, "sari", 201, "require_documents"),
    ("POST", "/api/tickets/<number>/documents"): Write(
        lambda d: f"/api/tickets/{d.ticket.number}/documents",
        lambda d: {"data": {"file": (io.BytesIO(b"%PDF-1.4 bukti"), "bukti.pdf",
                                     "application/pdf")}},
        "sari", 201, "receive_document"),
    ("POST", "/api/desk/visits"): Write(
        lambda d: "/api/desk/visits",
        lambda d: {"json": {"name": "Budi Santoso", "phone": BUDI_PHONE,
                            "order_id": BUDI_ORDER, "problem": "Aplikasi gagal",
                            "new_ticket": True}},
        "sari", 201, "desk_visit"),
    ("POST", "/api/desk/visits/<int:visit_id>/close"): Write(
        lambda d: f"/api/desk/visits/{d.visit_id}/close",
        lambda d: {"json": {"anything_else": False, "summary": "Sudah dijelaskan."}},
        "sari", 200, "desk_visit_close"),
    ("POST", "/api/templates"): Write(
        lambda d: "/api/templates",
        lambda d: {"json": {"key": "greeting", "language": "en", "body": "Hello {name}."}},
        "sari", 201, "create_template"),
    ("PATCH", "/api/templates/<int:template_id>"): Write(
        lambda d: f"/api/templates/{d.draft.id}",
        lambda d: {"json": {"body": "Tagihan {amount} jatuh tempo {due_date}."}},
        "sari", 200, "edit_template"),
    ("POST", "/api/templates/<int:template_id>/approve"): Write(
        lambda d: f"/api/templates/{d.draft.id}/approve",
        lambda d: {"json": {"digest": templates.digest(d.draft)}},
        "quinn", 200, "approve_template"),
    ("POST", "/api/templates/<int:template_id>/reject"): Write(
        lambda d: f"/api/templates/{d.draft.id}/reject",
        lambda d: {"json": {"digest": templates.digest(d.draft),
                            "reason": "Sebutkan tanggal jatuh tempo."}},
        "quinn", 200, "reject_template"),
}


def api_write_routes(settings) -> set[tuple[str, str]]:
    app = create_app(settings)
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/")
            for method in (rule.methods or set()) - READ_METHODS}


def row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables}


def test_every_write_route_under_api_is_in_the_table(settings):
    assert api_write_routes(settings) == set(WRITES)


@pytest.mark.parametrize("route", sorted(WRITES), ids=lambda r: f"{r[0]} {r[1]}")
def test_the_read_token_cannot_write(desk, route):
    """The bearer token on a write route: 401, and nothing written, not even an audit row."""
    write = WRITES[route]
    before = row_counts(desk.session)
    response = desk.client.open(write.path(desk), method=route[0], headers=TOKEN,
                                **write.kwargs(desk))
    assert response.status_code == 401, response.get_json()
    assert response.is_json and response.headers.get("WWW-Authenticate", "").startswith("Basic")
    assert row_counts(desk.session) == before


@pytest.mark.parametrize("route", sorted(WRITES), ids=lambda r: f"{r[0]} {r[1]}")
def test_a_person_writes_and_the_audit_names_them(desk, route):
    write = WRITES[route]
    response = desk.client.open(write.path(desk), method=route[0],
                                auth=(write.user, PASSWORD), **write.kwargs(desk))
    assert response.status_code == write.status, response.get_json()
    desk.session.expire_all()
    entry = desk.session.scalars(select(AuditEntry).where(AuditEntry.action == write.action)
                                 .order_by(AuditEntry.id.desc())).first()
    assert entry is not None and entry.actor == f"user:{write.user}"


def test_a_callback_asked_for_with_the_token_is_not_scheduled_but_by_an_agent_it_is(desk):
    """The service phones a customer only when a person answers for it."""
    path = f"/api/tickets/{desk.ticket.number}/callbacks"
    refused = desk.client.post(path, headers=TOKEN, json={})
    assert refused.status_code == 401
    assert desk.session.scalar(select(func.count(Callback.id))) == 0
    made = desk.client.post(path, auth=("sari", PASSWORD), json={})
    assert made.status_code == 201 and made.get_json()["reason"] == "more_explanation"
    assert [e.actor for e in desk.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "schedule_callback"))] == ["user:sari"]
