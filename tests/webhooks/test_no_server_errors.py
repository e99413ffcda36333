"""Crafted input gets a 4xx, never a 5xx: a property test (Hypothesis) over every query
parameter, form field, path variable and JSON field of the console and the JSON API (and the
customers' two pages), as the people allowed to use each would send them: a signed-in console
session with its CSRF token, the bearer token for API reads, a user's basic auth for API
writes.

``ROUTES`` names each route's known parameters; a test compares it with the app's URL map, so
a new route or form is fuzzed from the day it is added. Values mix the real (ids, ticket
numbers, digests that exist) with the crafted: control characters, line breaks, numbers too
large for any column, digits ``int()`` refuses, injections, long texts, wrong JSON types.

Bounded: ``FUZZ_EXAMPLES`` requests per route and database, derandomized under ``CI`` (the
Hypothesis profiles are in tests/conftest.py).
"""

from __future__ import annotations

import base64
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from werkzeug.security import generate_password_hash

from callcenter.channels import templates, walkins
from callcenter.content import Content
from callcenter.models import Agent, Template, Ticket, User
from callcenter.tickets import lifecycle
from tests.conftest import API_TOKEN
from tests.console.conftest import csrf_from
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from webhooks.app import create_app
from workers import heartbeats

PASSWORD = "a long enough password"
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
READ_METHODS = {"HEAD", "OPTIONS"}
FUZZED_PREFIXES = ("/console/", "/api/")
PUBLIC_RULES = {"/", "/status"}

# -- values ---------------------------------------------------------------------------------

CRAFTED = [
    "", " ", "0", "-1", "00", "1e9", "9" * 12, "9" * 40, "-" + "9" * 40, "2147483648",
    "²", "٣٤", "１２", "\x00", "\r\n", "a\r\nSet-Cookie: x=1", "\t", "%00", "%0d%0a",
    "../../etc/passwd", "/console/../api", "//evil.example/", "https://evil.example/",
    "<script>alert(1)</script>", "' OR '1'='1' --", "\"; DROP TABLE tickets; --",
    "{name}", "{0}", "{", "}", "{name.__class__}", "=HYPERLINK(\"x\")", "null", "true", "[]",
    "2026-02-30", "0001-01-01", "9999-12-31T23:59:59+14:00", "2026-13-01T10:00",
    "nan", "inf", "-inf", "é" * 300, "x" * 5000, "ñ\u202e\u200b", "\ufeff", "🙂",
]
texts = st.one_of(st.sampled_from(CRAFTED), st.text(max_size=40),
                  st.integers(-(10**30), 10**30).map(str))
json_scalars = st.one_of(texts, st.integers(-(10**30), 10**30), st.booleans(), st.none(),
                         st.floats(allow_nan=False))
json_values = st.one_of(json_scalars, st.lists(json_scalars, max_size=3),
                        st.dictionaries(st.text(max_size=5), json_scalars, max_size=2))
big_ids = st.one_of(st.integers(0, 10**30), st.sampled_from([0, 2**31 - 1, 2**31, 2**63]))


def cursor(ident: int, due: str = "-", opened: str = "2026-01-01T00:00:00+00:00") -> str:
    """A ticket-queue page cursor as the page writes them, with any id in it."""
    return base64.urlsafe_b64encode(f"{due}|{opened}|{ident}".encode()).decode().rstrip("=")


# -- the world the requests act on ---------------------------------------------------------


@dataclass
class World:
    app: Flask
    session: Any
    ticket: Ticket  # voice (oral)
    written: Ticket  # email (written)
    approved: Template
    draft: Template
    visit_id: int
    victims: list[int]  # users whose pages the admin may change without locking itself out
    clients: dict[str, tuple[FlaskClient, str]] = field(default_factory=dict)

    def client(self, username: str) -> tuple[FlaskClient, str]:
        """A browser signed in as ``username`` and its CSRF token (one sign-in per route and
        database)."""
        if username not in self.clients:
            client = sign_in(self.app, username)
            token = csrf_from(client.get("/console/templates").get_data(as_text=True))
            self.clients[username] = (client, token)
        return self.clients[username]


@functools.cache
def password_hash() -> str:
    return generate_password_hash(PASSWORD)  # one hash for all users: cheap setup


def sign_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    token = csrf_from(client.get("/console/login").get_data(as_text=True))
    reply = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                "csrf_token": token})
    assert reply.status_code == 302, reply.get_data(as_text=True)
    return client


@pytest.fixture
def world(settings, session) -> World:
    people = {}
    for username, role in (("adi", "admin"), ("api", "admin"), ("sari", "agent"),
                           ("qori", "qa"), ("dewi", "supervisor"), ("pintu", "agent")):
        people[username] = User(username=username, password_hash=password_hash(), role=role)
        session.add(people[username])
    agent = Agent(name="Sari", phone="+6281100000001")
    session.add(agent)
    session.flush()
    people["sari"].agent_id = agent.id
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                                   settings=settings)
    written = lifecycle.open_ticket(session, channel="email", customer_id=customer.id,
                                    category="payment_detail", settings=settings)
    approved = templates.create_draft(session, people["sari"], key="follow_up", language="id",
                                      channel="email", subject="Tiket {ticket}",
                                      body="Halo {name}, tiket {ticket}.")
    templates.approve(session, people["qori"], approved, read=templates.digest(approved))
    draft = templates.create_draft(session, people["sari"], key="reminder", language="id",
                                   channel="sms", body="Tagihan {amount}.")
    visit = walkins.register_visit(session, Content.load(settings.content_path),
                                   user=people["sari"], actor="user:sari", customer=customer,
                                   problem="Pembayaran belum masuk", settings=settings)
    session.commit()
    # a running service: its worker and scheduler beat, so a healthy /api/health answers 200
    heartbeats.beat(settings, heartbeats.Role.WORKER, "fuzz-worker")
    heartbeats.beat(settings, heartbeats.Role.SCHEDULER, "fuzz-scheduler")
    victims = [people[name].id for name in ("sari", "qori", "dewi", "pintu")]
    return World(create_app(settings), session, ticket, written, approved, draft,
                 visit.contact.id, victims)


# -- the routes and their known parameters -------------------------------------------------

Draw = Callable[[World], st.SearchStrategy[Any]]


def choice(*real: Callable[[World], Any]) -> Draw:
    """A real value from the world (an id, a number that exists) or a crafted one."""
    return lambda w: st.one_of(st.sampled_from([get(w) for get in real]), texts)


def numbers(w: World) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from([w.ticket.number, w.written.number]), texts,
                     st.from_regex(r"\A[0-9]{1,12}\Z"))


def template_ids(w: World) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([w.approved.id, w.draft.id]), big_ids)


def victim_ids(w: World) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(w.victims), big_ids)


def visit_ids(w: World) -> st.SearchStrategy[int]:
    return st.one_of(st.just(w.visit_id), big_ids)


def crafted(_: World) -> st.SearchStrategy[Any]:
    return texts


def one_of_or_crafted(*values: str) -> Draw:
    return lambda _: st.one_of(st.sampled_from(values), texts)


def json_field(*values: Any) -> Draw:
    return lambda _: st.one_of(st.sampled_from(values), json_values) if values else json_values


def digests(w: World) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(templates.digest(w.draft)), json_values)


def json_template_ids(w: World) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from([w.approved.id, w.draft.id]), json_values)


def ticket_cursors(_: World) -> st.SearchStrategy[str]:
    return st.one_of(texts, st.builds(cursor, big_ids),
                     st.builds(cursor, st.integers(1, 10), st.sampled_from(
                         ["-", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00+00:00"])))


@dataclass(frozen=True)
class Route:
    """How one route is called: who calls it, its path variables and its parameters (query
    string for reads, form fields for console posts, JSON or multipart for the API)."""

    who: str  # console user name, "bearer", "basic:<name>", "anonymous" or "fresh:<name>"
    path: dict[str, Draw] = field(default_factory=dict)
    params: dict[str, Draw] = field(default_factory=dict)
    body: str = "query"  # query, form, json, multipart, console-multipart (form with a file)


C = "adi"  # the console admin: every page opens for an admin
AGENT = "sari"  # linked to an agent: presence, screen pop, voice token
API_USER = "basic:api"
NUMBER = {"number": numbers}
TEMPLATE = {"template_id": template_ids}
USER = {"user_id": victim_ids}
VISIT = {"visit_id": visit_ids}
CONTACT = {"contact_id": visit_ids}  # the visit is a contact too; the inbox refuses it

ROUTES: dict[tuple[str, str], Route] = {
    # customers' pages
    ("GET", "/"): Route("anonymous", params={"lang": one_of_or_crafted("id", "en")}),
    ("GET", "/status"): Route("anonymous", params={"lang": one_of_or_crafted("id", "en")}),
    ("POST", "/status"): Route("anonymous", body="form", params={
        "ticket": choice(lambda w: w.ticket.number), "phone": one_of_or_crafted(
            BUDI_PHONE, "0812-3456-7890"), "lang": one_of_or_crafted("id", "en")}),
    # console: signing in and out
    ("GET", "/console/login"): Route("anonymous", params={"next": crafted}),
    ("POST", "/console/login"): Route("anonymous", body="form", params={
        "username": one_of_or_crafted("pintu", "adi"), "password": one_of_or_crafted(PASSWORD),
        "next": crafted}),
    ("POST", "/console/logout"): Route("fresh:pintu", body="form"),
    ("GET", "/console/"): Route(C, params={"tab": crafted}),
    ("POST", "/console/language"): Route(C, body="form", params={
        "language": one_of_or_crafted("id", "en"), "next": crafted}),
    # tickets
    ("GET", "/console/tickets"): Route(C, params={
        "status": one_of_or_crafted("unsettled", "open", "resolved", "all"),
        "channel": one_of_or_crafted("any", "voice", "email"),
        "due": one_of_or_crafted("any", "late", "today"),
        "owner": one_of_or_crafted("anyone", "me", "nobody", "1", "²", "9" * 9),
        "after": ticket_cursors}),
    ("GET", "/console/tickets/live"): Route(C, params={
        "status": crafted, "channel": crafted, "due": crafted,
        "owner": one_of_or_crafted("me", "²", "9" * 9), "after": ticket_cursors,
        "seen": crafted}),
    ("GET", "/console/tickets/<number>"): Route(C, path=NUMBER),
    ("POST", "/console/tickets/<number>/assign"): Route(C, path=NUMBER, body="form", params={
        "owner_id": choice(lambda w: str(w.victims[0]))}),
    ("POST", "/console/tickets/<number>/callback"): Route(C, path=NUMBER, body="form", params={
        "call_at": one_of_or_crafted("2030-12-02T10:00", "2030-12-02 10:00")}),
    ("POST", "/console/tickets/<number>/documents"): Route(C, path=NUMBER, body="form", params={
        "documents": one_of_or_crafted("KTP\nbukti transfer", "a,b")}),
    ("POST", "/console/tickets/<number>/extension"): Route(C, path=NUMBER, body="form",
                                                           params={"reason": crafted}),
    ("POST", "/console/tickets/<number>/reply"): Route(C, path=NUMBER, body="form", params={
        "template_id": choice(lambda w: str(w.approved.id))}),
    ("POST", "/console/tickets/<number>/resolve"): Route(C, path=NUMBER, body="form",
                                                         params={"summary": crafted}),
    ("POST", "/console/tickets/<number>/notes"): Route(C, path=NUMBER, body="form", params={
        "text": one_of_or_crafted("Nasabah sudah transfer", "x" * 4001), "next": crafted}),
    # finding a customer
    ("GET", "/console/customers"): Route(C, params={"q": one_of_or_crafted(
        "0812-3456-7890", "budi", BUDI_ORDER, "budi@example.com", "%_%")}),
    ("GET", "/console/customers/<int:customer_id>"): Route(C, path={
        "customer_id": lambda w: st.one_of(st.just(w.ticket.customer_id), big_ids)}),
    # presence and the screen pop
    ("POST", "/console/presence"): Route(AGENT, body="form", params={
        "presence": one_of_or_crafted("available", "busy", "away"), "next": crafted}),
    ("GET", "/console/pop"): Route(AGENT, params={"seen": crafted}),
    ("GET", "/console/voice-token"): Route(AGENT),
    ("POST", "/console/wrap-up"): Route(AGENT, body="form", params={
        "leg": crafted, "text": crafted, "category": one_of_or_crafted("payment_detail", "x"),
        "anything_else": one_of_or_crafted("1"), "summary": crafted,
        "next_step": one_of_or_crafted("resolve", "callback", "documents", "wait"),
        "call_at": one_of_or_crafted("2030-12-02T10:00"), "documents": crafted,
        "next": crafted}),
    # the walk-in desk
    ("GET", "/console/desk"): Route(AGENT),
    ("POST", "/console/desk/visits"): Route(AGENT, body="form", params={
        "name": one_of_or_crafted("Budi Santoso"), "phone": one_of_or_crafted(BUDI_PHONE),
        "order_id": one_of_or_crafted(BUDI_ORDER), "problem": crafted,
        "language": one_of_or_crafted("id", "en"), "new_ticket": one_of_or_crafted("1")}),
    ("GET", "/console/desk/visits/<int:visit_id>"): Route(AGENT, path=VISIT),
    ("POST", "/console/desk/visits/<int:visit_id>/required-documents"): Route(
        AGENT, path=VISIT, body="form", params={"documents": one_of_or_crafted("KTP")}),
    ("POST", "/console/desk/visits/<int:visit_id>/documents"): Route(
        AGENT, path=VISIT, body="console-multipart", params={"fulfils": crafted,
                                                             "file": crafted}),
    ("POST", "/console/desk/visits/<int:visit_id>/anything-else"): Route(AGENT, path=VISIT,
                                                                         body="form"),
    ("POST", "/console/desk/visits/<int:visit_id>/another-problem"): Route(
        AGENT, path=VISIT, body="form", params={"problem": crafted}),
    ("POST", "/console/desk/visits/<int:visit_id>/close"): Route(
        AGENT, path=VISIT, body="form", params={"summary": crafted}),
    # the inbox
    ("GET", "/console/inbox"): Route(AGENT, params={"after": crafted}),
    ("GET", "/console/inbox/<int:contact_id>"): Route(AGENT, path=CONTACT),
    ("POST", "/console/inbox/<int:contact_id>/reply"): Route(AGENT, path=CONTACT, body="form",
                                                             params={"template_id": crafted}),
    ("POST", "/console/inbox/<int:contact_id>/link"): Route(AGENT, path=CONTACT, body="form",
                                                            params={
        "ticket": numbers, "sender_confirmed": one_of_or_crafted("1")}),
    ("POST", "/console/inbox/<int:contact_id>/confirm"): Route(AGENT, path=CONTACT, body="form",
                                                               params={
        "sender_confirmed": one_of_or_crafted("1")}),
    # supervisors
    ("GET", "/console/floor"): Route(C),
    ("GET", "/console/floor/live"): Route(C, params={"seen": crafted}),
    ("GET", "/console/reports/quarterly"): Route(C, params={
        "year": one_of_or_crafted("2026", "0", "99999999999999999999"),
        "quarter": one_of_or_crafted("1", "4", "5"), "format": one_of_or_crafted("csv", "xlsx")}),
    ("GET", "/console/audit"): Route(C, params={
        "actor": crafted, "action": crafted, "subject": crafted,
        "from": one_of_or_crafted("2026-11-01"), "to": one_of_or_crafted("2026-11-30"),
        "before": one_of_or_crafted("5", "9" * 40)}),
    # templates
    ("GET", "/console/templates"): Route(C),
    ("POST", "/console/templates"): Route(C, body="form", params={
        "key": one_of_or_crafted("new_key"), "language": one_of_or_crafted("id", "en"),
        "channel": one_of_or_crafted("email", "sms", "whatsapp"), "subject": crafted,
        "body": one_of_or_crafted("Halo {name}")}),
    ("GET", "/console/templates/<int:template_id>"): Route(C, path=TEMPLATE),
    ("POST", "/console/templates/<int:template_id>/edit"): Route(C, path=TEMPLATE, body="form",
                                                                 params={"subject": crafted,
                                                                         "body": crafted}),
    ("POST", "/console/templates/<int:template_id>/approve"): Route(
        "qori", path=TEMPLATE, body="form", params={"digest": digests}),
    ("POST", "/console/templates/<int:template_id>/reject"): Route(
        "qori", path=TEMPLATE, body="form", params={"digest": digests, "reason": crafted}),
    # people
    ("GET", "/console/users"): Route(C),
    ("POST", "/console/users"): Route(C, body="form", params={
        "username": crafted, "password": crafted,
        "role": one_of_or_crafted("agent", "supervisor", "qa", "admin")}),
    ("GET", "/console/users/<int:user_id>"): Route(C, path=USER),
    ("POST", "/console/users/<int:user_id>/role"): Route(C, path=USER, body="form", params={
        "role": one_of_or_crafted("agent", "qa")}),
    ("POST", "/console/users/<int:user_id>/deactivate"): Route(C, path=USER, body="form"),
    ("POST", "/console/users/<int:user_id>/reactivate"): Route(C, path=USER, body="form"),
    ("POST", "/console/users/<int:user_id>/unlock"): Route(C, path=USER, body="form"),
    ("POST", "/console/users/<int:user_id>/password"): Route(C, path=USER, body="form",
                                                             params={"password": crafted}),
    ("POST", "/console/users/<int:user_id>/agent"): Route(C, path=USER, body="form", params={
        "agent_id": one_of_or_crafted("1", "²", "9" * 40)}),
    ("POST", "/console/users/<int:user_id>/agent/new"): Route(C, path=USER, body="form",
                                                              params={
        "name": crafted, "phone": one_of_or_crafted("0811-0000-002"),
        "client_identity": crafted}),
    # the JSON API: reads with the bearer token
    ("GET", "/api/health"): Route("anonymous"),
    ("GET", "/api/tickets"): Route("bearer", params={
        "order_id": one_of_or_crafted(BUDI_ORDER), "phone": one_of_or_crafted(BUDI_PHONE),
        "status": one_of_or_crafted("open", "resolved")}),
    ("GET", "/api/tickets/<number>"): Route("bearer", path=NUMBER),
    ("GET", "/api/customers"): Route("bearer", params={"q": one_of_or_crafted(
        "0812-3456-7890", "+62 812 3456 7890", "budi", BUDI_ORDER, "BUDI@example.com")}),
    ("GET", "/api/tickets/<number>/required-documents"): Route(API_USER, path=NUMBER),
    ("GET", "/api/templates"): Route(API_USER, params={
        "key": crafted, "language": crafted, "status": crafted, "channel": crafted}),
    ("GET", "/api/templates/<int:template_id>"): Route(API_USER, path=TEMPLATE),
    # ... and writes with a person's basic auth
    ("POST", "/api/tickets/<number>/callbacks"): Route(API_USER, path=NUMBER, body="json",
                                                       params={"due_at": json_field(
                                                           "2030-12-02T10:00:00+07:00")}),
    ("POST", "/api/tickets/<number>/resolve"): Route(API_USER, path=NUMBER, body="json",
                                                     params={"summary": json_field("Selesai.")}),
    ("POST", "/api/tickets/<number>/notes"): Route(API_USER, path=NUMBER, body="json", params={
        "text": json_field("Nasabah sudah transfer", " ", "x" * 4001)}),
    ("POST", "/api/tickets/<number>/extension"): Route(API_USER, path=NUMBER, body="json",
                                                       params={"reason": json_field("data")}),
    ("POST", "/api/tickets/<number>/replies"): Route(API_USER, path=NUMBER, body="json", params={
        "template_id": json_template_ids, "template_key": json_field("follow_up"),
        "language": json_field("id", "en")}),
    ("POST", "/api/tickets/<number>/messages"): Route(API_USER, path=NUMBER, body="json",
                                                      params={
        "channel": json_field("sms", "whatsapp"), "text": json_field("Halo"),
        "template_id": json_template_ids}),
    ("POST", "/api/tickets/<number>/required-documents"): Route(
        API_USER, path=NUMBER, body="json", params={
            "names": json_field(["KTP"], ["x" * 500]), "language": json_field("id", "en")}),
    ("POST", "/api/tickets/<number>/documents"): Route(API_USER, path=NUMBER, body="multipart",
                                                       params={"fulfils": crafted,
                                                               "visit_id": crafted,
                                                               "file": crafted}),
    ("POST", "/api/desk/visits"): Route(API_USER, body="json", params={
        "name": json_field("Budi Santoso"), "phone": json_field(BUDI_PHONE),
        "order_id": json_field(BUDI_ORDER), "problem": json_field("Aplikasi gagal"),
        "language": json_field("id", "en"), "new_ticket": json_field(True, False)}),
    ("POST", "/api/desk/visits/<int:visit_id>/close"): Route(
        API_USER, path={"visit_id": visit_ids}, body="json", params={
            "anything_else": json_field(True, False), "summary": json_field("Selesai.")}),
    ("POST", "/api/templates"): Route(API_USER, body="json", params={
        "key": json_field("new_key"), "language": json_field("id", "en"),
        "body": json_field("Halo {name}"), "subject": json_field("S"),
        "channel": json_field("email", "sms")}),
    ("PATCH", "/api/templates/<int:template_id>"): Route(API_USER, path=TEMPLATE, body="json",
                                                         params={"body": json_field("Hai"),
                                                                 "subject": json_field("S")}),
    ("POST", "/api/templates/<int:template_id>/approve"): Route(
        "basic:qori", path=TEMPLATE, body="json", params={"digest": digests}),
    ("POST", "/api/templates/<int:template_id>/reject"): Route(
        "basic:qori", path=TEMPLATE, body="json", params={"digest": digests,
                                                          "reason": json_field("Ganti.")}),
}


def fuzzed_routes(app: Flask) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.rule.startswith(FUZZED_PREFIXES) or rule.rule in PUBLIC_RULES
            for method in (rule.methods or set()) - READ_METHODS}


def test_every_console_and_api_route_is_fuzzed(settings):
    assert fuzzed_routes(create_app(settings)) == set(ROUTES)


# -- one request ---------------------------------------------------------------------------


def _path(rule: str, values: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        return quote(str(values[match.group(1)]), safe="")
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", fill, rule)


def _send(world: World, method: str, rule: str, route: Route, path_values: dict[str, Any],
          params: dict[str, Any], raw_json: bytes | None) -> Any:
    kwargs: dict[str, Any] = {}
    client: FlaskClient
    token = None
    if route.who == "anonymous":
        client = world.app.test_client()
        if route.body == "form":  # the page the form is on gives the CSRF token
            token = csrf_from(client.get(rule).get_data(as_text=True))
    elif route.who == "bearer":
        client, kwargs["headers"] = world.app.test_client(), BEARER
    elif route.who.startswith("basic:"):
        client, kwargs["auth"] = world.app.test_client(), (route.who[6:], PASSWORD)
    elif route.who.startswith("fresh:"):
        client = sign_in(world.app, route.who[6:])
        token = csrf_from(client.get("/console/templates").get_data(as_text=True))
    else:
        client, token = world.client(route.who)
    path = _path(rule, path_values)
    if route.body == "query":
        kwargs["query_string"] = params
    elif route.body == "form":
        kwargs["data"] = {**params, "csrf_token": token}
    elif route.body in ("multipart", "console-multipart"):
        data: dict[str, Any] = {k: v for k, v in params.items() if k != "file"}
        if route.body == "console-multipart":
            data["csrf_token"] = token
        if "file" in params:
            data["file"] = (io.BytesIO(str(params["file"]).encode()),
                            str(params["file"])[:50] or "x")
        kwargs["data"] = data
    elif raw_json is not None:
        kwargs["data"], kwargs["content_type"] = raw_json, "application/json"
    else:
        kwargs["json"] = params
    return client.open(path, method=method, **kwargs)


RAW_BODIES = [b"", b"[]", b"\"text\"", b"{", b"null", b"{\"a\": NaN}", b"\xff\xfe",
              b"{\"summary\": \"" + b"x" * 100_000 + b"\"}",
              # a lone surrogate and a NUL: valid JSON, but no database stores them as text
              *(f'{{"{name}": "\\ud800", "anything_else": false}}'.encode()
                for name in ("summary", "text", "name", "reason", "body", "key", "due_at")),
              b'{"summary": "a\\u0000b", "text": "a\\u0000b", "reason": "a\\u0000b"}']


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
@fuzz_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_crafted_input_never_gets_a_server_error(world, route, data):
    """Whatever the parameters hold, the answer is a page or a JSON error below 500."""
    method, rule = route
    spec = ROUTES[route]
    path_values = {name: data.draw(draw(world), label=name) for name, draw in spec.path.items()}
    chosen = data.draw(st.sets(st.sampled_from(sorted(spec.params)), max_size=len(spec.params))
                       if spec.params else st.just(set()), label="fields")
    params = {name: data.draw(spec.params[name](world), label=name) for name in sorted(chosen)}
    raw_json = (data.draw(st.one_of(st.none(), st.sampled_from(RAW_BODIES)), label="raw body")
                if spec.body == "json" else None)
    response = _send(world, method, rule, spec, path_values, params, raw_json)
    body = response.get_data().decode(errors="replace")  # a report download is binary
    assert response.status_code < 500, (method, rule, path_values, params, raw_json,
                                        body[:300])
    assert "Traceback" not in body


# -- what the property test found, kept as plain examples ----------------------------------

FOUND: list[tuple[str, str, str, dict[str, Any]]] = [
    # (who, method, path with {ticket}/{template}, request keywords); each answered 500 before
    ("bearer", "GET", "/api/tickets", {"query_string": {"order_id": "\x00"}}),
    ("bearer", "GET", "/api/customers", {"query_string": {"q": "budi\x00"}}),
    (C, "GET", "/console/customers", {"query_string": {"q": "\x00\x00\x00"}}),
    (C, "GET", "/console/audit", {"query_string": {"action": "\x00"}}),
    (C, "GET", "/console/tickets", {"query_string": {"owner": "²"}}),
    (C, "GET", "/console/tickets/live", {"query_string": {"after": cursor(2**63)}}),
    (C, "GET", "/console/tickets", {"query_string": {
        "after": cursor(1, "-", "0001-01-01T00:00:00+14:00")}}),
    (C, "GET", "/console/templates/99999999999999999999", {}),
    (API_USER, "GET", "/api/templates/99999999999999999999", {}),
    (API_USER, "PATCH", "/api/templates/{template}", {
        "data": b'{"body": "\\ud800"}', "content_type": "application/json"}),
    (API_USER, "POST", "/api/tickets/{ticket}/resolve", {
        "data": b'{"summary": "a\\u0000b"}', "content_type": "application/json"}),
    (API_USER, "POST", "/api/tickets/{written}/extension", {"json": {"reason": "a\x00b"}}),
    (API_USER, "POST", "/api/tickets/{ticket}/messages", {"json": {"text": "a\x00b"}}),
    (API_USER, "POST", "/api/tickets/{ticket}/documents", {"data": {
        "file": (b"x", "bukti.pdf"), "fulfils": "a\x00b"}}),
    ("basic:\x00", "GET", "/api/templates", {}),
    (C, "POST", "/console/tickets/{ticket}/documents", {"data": {"documents": "KTP\x00"}}),
    ("anonymous", "POST", "/console/login", {"data": {"username": "\x00",
                                                      "password": PASSWORD}}),
]


@pytest.mark.parametrize(("who", "method", "path", "kwargs"), FOUND,
                         ids=[f"{m} {p} {sorted(k)}" for _, m, p, k in FOUND])
def test_what_the_property_test_found_is_a_4xx(world, who, method, path, kwargs):
    """Each of these was a 500 (PostgreSQL refusing NUL, UTF-8 refusing a lone surrogate,
    SQLite refusing a 64-bit id, ``int("²")``, a date overflowing in UTC)."""
    target = path.format(ticket=world.ticket.number, written=world.written.number,
                         template=world.draft.id)
    extra = dict(kwargs)
    if who == "anonymous":
        client = world.app.test_client()
        token = csrf_from(client.get("/console/login").get_data(as_text=True))
    elif who == "bearer":
        client, token = world.app.test_client(), None
        extra["headers"] = BEARER
    elif who.startswith("basic:"):
        client, token = world.app.test_client(), None
        extra["auth"] = (who[6:], PASSWORD)
    else:
        client, token = world.client(who)
    if isinstance(extra.get("data"), dict):
        extra["data"] = {name: (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple)
                         else value for name, value in extra["data"].items()}
        if token is not None:
            extra["data"]["csrf_token"] = token
    response = client.open(target, method=method, **extra)
    assert 400 <= response.status_code < 500 or (
        response.status_code == 200 and method == "GET"), response.status_code
