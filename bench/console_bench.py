"""Console pages with 100,000 tickets: p50/p95/p99 per page under gunicorn, per backend.

    .venv/bin/python bench/console_bench.py                      # SQLite and PostgreSQL
    .venv/bin/python bench/console_bench.py --db sqlite --requests 100
    .venv/bin/python bench/console_bench.py --explain            # also the slow queries' plans

The goal: every console page answers in < 100 ms p95 with 100,000 tickets in the
database. For each backend the bench creates a fresh database (a temporary SQLite file, or
``console_bench_<pid>`` on PostgreSQL), migrates it, bulk-seeds 100,000 tickets with their
customers, contacts, callbacks, outbound email and ~200,000 audit rows (Core executemany, no
ORM objects), starts the service under gunicorn (webhook_bench's helpers and command line),
signs in through the real form (CSRF token, session cookie), then, page by page, sends
``--warmup`` requests and times ``--requests`` more (closed loop, ``--concurrency`` clients).
A response counts as an error unless it is a 200 that contains the page's marker.

``--explain`` replays each page a few times in-process (Flask test client on the same
database) capturing its SQL, re-runs each distinct SELECT alone (execute + fetch), prints the
slowest of each page and the plan (``EXPLAIN (ANALYZE, BUFFERS)`` / ``EXPLAIN QUERY PLAN``)
of those over ``--slow-query-ms``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import webhook_bench as wb  # noqa: E402  (gunicorn, raw client, percentiles, PostgreSQL db)

ROOT = wb.ROOT
GOAL_P95_MS = 100.0
PASSWORD = "bench console password"
AGENT, SUPERVISOR = "bench-agent", "bench-supervisor"
WRAPPER = "bench-wrapper"  # an agent whose call ended: the pop is the wrap-up card
CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
RICH_CONTACTS = 10  # contacts on each "rich" ticket (the ticket page's case)


# -- seeding -------------------------------------------------------------------------------

@dataclass
class Seeded:
    tickets: int = 0
    customers: int = 0
    contacts: int = 0
    callbacks: int = 0
    audit: int = 0
    emails: int = 0
    rich: list[str] = field(default_factory=list)  # numbers of tickets with ~10 contacts
    phone_of: dict[str, str] = field(default_factory=dict)  # number -> customer phone
    on_call: str = ""  # the ticket of the call the signed-in agent is on
    messages: list[int] = field(default_factory=list)  # inbound written contacts (inbox)
    visits: list[int] = field(default_factory=list)  # walk-in visits (the desk's visit page)
    seconds: float = 0.0


def _chunks(rows: list[dict], size: int = 5_000):  # type: ignore[no-untyped-def]
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def seed(url: str, n_tickets: int, n_customers: int, n_audit: int) -> Seeded:
    """Bulk rows through SQLAlchemy Core (executemany), then ANALYZE."""
    from sqlalchemy import insert, text, update
    from werkzeug.security import generate_password_hash

    from callcenter.db import dispose_all, get_engine, session_scope
    from callcenter.models import (
        Agent,
        AuditEntry,
        Callback,
        Contact,
        Customer,
        OutboundEmail,
        Template,
        Ticket,
        User,
    )
    from callcenter.people import users
    from callcenter.tickets.numbers import number_for
    from callcenter.voice import agents as agent_registry

    t_start = time.monotonic()
    rng = random.Random(5)
    now = datetime.now(UTC)
    out = Seeded()

    # People: the signed-in agent (linked to an agent on a call), a supervisor, a QA, and
    # 20 more agents who own tickets (one password hash for all: hashing is slow on purpose).
    with session_scope(url) as session:
        agent = agent_registry.add_agent(session, "Bench Agent", phone="+628110000001",
                                         available=True)
        agent.presence = "available"
        me = users.create_user(session, AGENT, PASSWORD, "agent")
        me.agent_id = agent.id
        users.create_user(session, SUPERVISOR, PASSWORD, "supervisor")
        qa = users.create_user(session, "bench-qa", PASSWORD, "qa")
        wrapping = agent_registry.add_agent(session, "Bench Wrapper", phone="+628110000002",
                                            available=True)
        users.create_user(session, WRAPPER, PASSWORD, "agent").agent_id = wrapping.id
        session.flush()
        agent_id, my_id, qa_id = agent.id, me.id, qa.id
        wrapper_id = wrapping.id
        template_ids = []
        for i, (key, lang) in enumerate([("bench.status", "id"), ("bench.status", "en"),
                                         ("bench.paid", "id"), ("bench.va", "id")]):
            session.add(Template(key=key, language=lang, version=1, status="approved",
                                 channel="email", subject="Tiket {ticket}",
                                 body=f"Halo {{name}}, tiket {{ticket}} ({i}).",
                                 created_by=my_id, approved_by=qa_id, approved_at=now))
            session.flush()
            template_ids.append(session.scalars(text(
                "SELECT max(id) FROM templates")).one())
    hashed = generate_password_hash(PASSWORD)
    engine = get_engine(url)
    owners = [my_id]
    with engine.begin() as conn:
        rows = [dict(username=f"bench-agent-{i:02d}", password_hash=hashed, role="agent",
                     active=True, failed_logins=0, locked_until=None, agent_id=None,
                     created_at=now) for i in range(20)]
        conn.execute(insert(User), rows)
        owners += list(conn.scalars(text("SELECT id FROM users WHERE username LIKE "
                                         "'bench-agent-%' ORDER BY id")))

    customers = [dict(id=i + 1, order_id=f"CB-{i:07d}", name=f"Pelanggan {i}",
                      phone=f"+62812{30000000 + i:08d}", email=f"pelanggan{i}@example.com",
                      product="Cankul Tunai", application_status="disbursed",
                      amount_due=1_000_000 + i, due_date=date(2026, 12, 1) + timedelta(i % 28),
                      va_bank="BCA", va_number=f"{8800000000 + i:010d}", timezone=None,
                      created_at=now, updated_at=now) for i in range(n_customers)]
    contact_base = dict(kind="customer", status="completed", from_number=None, to_number=None,
                        ended_at=None, duration_s=None, verified=False, menu_path=[],
                        answers=[], ivr_state={}, last_response=None, agent_id=None,
                        sender=None, subject=None, body=None, body_html=None,
                        in_reply_to=None, sender_verified=True, asks_customer=False,
                        user_id=None, callback_id=None, answered_by=None, queue_state=None,
                        queued_at=None)
    tickets, contacts, callbacks_, emails, audit = [], [], [], [], []
    channels = ["voice"] * 50 + ["email"] * 25 + ["whatsapp"] * 10 + ["sms"] * 5 + ["walk_in"] * 10
    categories = ["inquiry", "payment_detail", "app_failure", "agent_request",
                  "callback_request", "unverified"]
    contact_id = 0
    rich_every = 100  # 1 % of tickets carry RICH_CONTACTS contacts

    def contact(tid: int, channel: str, at: datetime, **values: object) -> int:
        nonlocal contact_id
        contact_id += 1
        prefix = {"voice": "CA", "email": "EM", "walk_in": "WI"}.get(channel, "SM")
        sid = prefix + uuid.UUID(int=rng.getrandbits(128)).hex
        row = dict(contact_base, id=contact_id, ticket_id=tid, channel=channel,
                   direction="inbound", external_id=sid, started_at=at)
        row.update(values)
        contacts.append(row)
        return contact_id

    for i in range(n_tickets):
        tid = i + 1
        number = number_for(tid)
        cust = customers[rng.randrange(n_customers)]
        r = rng.random()
        status = ("open" if r < 0.15 else "pending_customer" if r < 0.20 else
                  "pending_documents" if r < 0.23 else "resolved")
        channel = rng.choice(channels)
        # Most tickets are old; ~3 % of them from the last 24 h (the floor's "today").
        age = timedelta(hours=rng.uniform(0, 24)) if rng.random() < 0.03 else \
            timedelta(days=rng.uniform(1, 180))
        opened = now - age
        days = 5 if channel in ("voice", "walk_in") else 10
        resolved = status == "resolved"
        tickets.append(dict(
            id=tid, number=number, customer_id=cust["id"], channel=channel, status=status,
            category=rng.choice(categories), language="id", reason=None,
            summary="Sudah dijelaskan." if resolved else None, opened_at=opened,
            due_at=opened + timedelta(days=days * 7 / 5),
            resolved_at=opened + timedelta(hours=rng.uniform(1, 72)) if resolved else None,
            owner_id=rng.choice(owners) if rng.random() < 0.6 else None, customer_email=None,
            kind="oral" if channel in ("voice", "walk_in") else "written",
            converted_at=None, updated_at=opened))
        rich = i % rich_every == 7
        if rich:
            out.rich.append(number)
            out.phone_of[number] = cust["phone"]
        n_contacts = RICH_CONTACTS if rich else (2 if channel == "email" else 1)
        for k in range(n_contacts):
            at = opened + timedelta(minutes=37 * k)
            ch = channel if k == 0 else rng.choice(["voice", "email", "sms", "whatsapp"])
            if ch == "voice":
                contact(tid, "voice", at, to_number="+622150001234", from_number=cust["phone"],
                        ended_at=at + timedelta(seconds=90), duration_s=90, verified=True,
                        menu_path=["lang:1", "verify", "menu:3", "anything_else:2"])
            elif ch == "email":
                contact(tid, "email", at, direction="inbound" if k % 2 == 0 else "outbound",
                        sender=cust["email"], subject=f"Tiket {number}",
                        body="Selamat siang, saya ingin menanyakan tagihan saya. " * 6,
                        body_html="<p>Selamat siang, saya ingin menanyakan tagihan saya.</p>")
            else:
                cid = contact(tid, ch, at, sender=cust["phone"], status="received",
                              body="Halo, bagaimana status pengaduan saya?")
                if ch == "walk_in":
                    out.visits.append(cid)
            if ch in ("email", "sms", "whatsapp") and contacts[-1]["direction"] == "inbound":
                out.messages.append(contacts[-1]["id"])
        if status == "pending_customer" and not rich:
            # An agent answered with a template: the inbox skips these tickets' messages.
            emails.append(dict(ticket_id=tid, to_address=cust["email"],
                               subject=f"Tiket {number}", body="Balasan dari CS.",
                               message_id=f"<bench-reply-{tid}@cankul.co.id>", status="sent",
                               attempts=1, created_at=opened + timedelta(hours=2),
                               sent_at=opened + timedelta(hours=2),
                               template_id=template_ids[0]))
        if rich:
            contact(tid, "voice", opened + timedelta(minutes=5), kind="agent_leg",
                    direction="outbound", agent_id=agent_id, status="completed",
                    duration_s=240)
            for k in range(2):
                callbacks_.append(dict(ticket_id=tid, reason="more_explanation",
                                       status="completed", phone=cust["phone"],
                                       due_at=opened + timedelta(hours=k + 1), attempts=1))
            emails.append(dict(ticket_id=tid, to_address=cust["email"],
                               subject=f"Tiket {number}", body="Balasan dari CS.",
                               message_id=f"<bench-{tid}@cankul.co.id>", status="sent",
                               attempts=1, created_at=opened, sent_at=opened))
        elif status in ("open", "pending_customer") and rng.random() < 0.15:
            callbacks_.append(dict(ticket_id=tid, reason=rng.choice(
                ["dropped_call", "more_explanation", "no_response"]), status="scheduled",
                phone=cust["phone"], due_at=now + timedelta(hours=rng.uniform(0.5, 30)),
                attempts=0))
        elif resolved and rng.random() < 0.05:
            callbacks_.append(dict(ticket_id=tid, reason="dropped_call", status=rng.choice(
                ["completed", "failed", "cancelled"]), phone=cust["phone"],
                due_at=opened + timedelta(minutes=5), attempts=1))
    # A few callers waiting for an agent right now (the floor's queue chart).
    for k in range(5):
        contact(tickets[-1 - k]["id"], "voice", now - timedelta(seconds=30 * (k + 1)),
                status="in-progress", queue_state="waiting",
                queued_at=now - timedelta(seconds=20 * (k + 1)))
    # The signed-in agent is on a call (as agents.connect leaves it): the pop has a caller.
    first = tickets[7]  # the first rich ticket
    out.on_call = first["number"]
    leg_sid = "CA" + uuid.uuid4().hex
    contact(first["id"], "voice", now - timedelta(seconds=40), status="in-progress",
            verified=True, menu_path=["lang:1", "verify", "menu:0"], queue_state="bridged",
            queued_at=now - timedelta(seconds=35), agent_id=agent_id,
            ivr_state={"customer_id": first["customer_id"]})
    contact(first["id"], "voice", now - timedelta(seconds=10), kind="agent_leg",
            direction="outbound", status="in-progress", agent_id=agent_id,
            external_id=leg_sid, queue_state="talking")
    # The wrapper's call on another rich ticket has ended: their pop is the wrap-up card.
    ended = tickets[7 + rich_every]
    caller_sid = "CA" + uuid.uuid4().hex
    contact(ended["id"], "voice", now - timedelta(minutes=3), status="completed",
            verified=True, queue_state="done", agent_id=wrapper_id, external_id=caller_sid,
            ivr_state={"customer_id": ended["customer_id"]})
    wrap_leg = contact(ended["id"], "voice", now - timedelta(minutes=2), kind="agent_leg",
                       direction="outbound", status="completed", agent_id=wrapper_id,
                       queue_state="done", ivr_state={"caller_sid": caller_sid})
    for i, row in enumerate(callbacks_):
        created = row["due_at"] - timedelta(minutes=5)
        row.update(id=i + 1, call_sid=None, dialing_since=None, api_errors=0, last_error=None,
                   created_at=created, updated_at=created)
    for i, row in enumerate(emails):
        row.setdefault("template_id", None)
        row.update(id=i + 1, in_reply_to=None, references=None, last_error=None)
    actions = ["view_ticket", "view_ticket", "view_ticket", "reply", "schedule_callback",
               "assign", "resolve", "sign_in"]
    for i in range(n_audit):
        t = tickets[rng.randrange(n_tickets)]
        action = rng.choice(actions)
        audit.append(dict(id=i + 1, at=now - timedelta(minutes=rng.uniform(0, 180 * 24 * 60)),
                          actor=f"user:bench-agent-{rng.randrange(20):02d}", action=action,
                          subject="console" if action == "sign_in" else f"ticket:{t['number']}",
                          detail=None))
    audit.sort(key=lambda row: row["at"])
    for i, row in enumerate(audit):
        row["id"] = i + 1
    with engine.begin() as conn:
        for model, rows in ((Customer, customers), (Ticket, tickets), (Contact, contacts),
                            (Callback, callbacks_), (OutboundEmail, emails),
                            (AuditEntry, audit)):
            for chunk in _chunks(rows):
                conn.execute(insert(model), chunk)
        conn.execute(text("UPDATE agents SET current_call_sid = :sid WHERE id = :id"),
                     {"sid": leg_sid, "id": agent_id})
        conn.execute(update(Agent).where(Agent.id == wrapper_id).values(
            wrap_up_until=now + timedelta(days=1), wrap_up_leg_id=wrap_leg))
        if conn.dialect.name == "postgresql":
            for table in ("customers", "tickets", "contacts", "callbacks", "outbound_emails",
                          "audit_log", "users", "templates", "agents"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    with engine.connect() as conn:  # statistics (and, on PostgreSQL, the visibility map that
        # index-only scans need) as autovacuum would have left them on a live database
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
    dispose_all()
    out.tickets, out.customers, out.contacts = len(tickets), len(customers), len(contacts)
    out.callbacks, out.audit, out.emails = len(callbacks_), len(audit), len(emails)
    out.seconds = time.monotonic() - t_start
    return out


# -- the pages -----------------------------------------------------------------------------

@dataclass
class Page:
    name: str
    method: str
    paths: list[str]  # rotated through, one per request
    user: str | None  # whose session cookie; None: a stranger (public pages)
    marker: bytes  # must be in a good response's body
    htmx: bool = False
    form: Callable[[int], dict[str, str]] | None = None  # POST fields for request i
    own_address: bool = False  # each request from its own 127.x.y.z (see client_address)


def client_address(i: int) -> str:
    """A loopback source address per request: the look-up's per-client limit (10 per 15 min,
    keyed on the TCP peer address, never on X-Forwarded-For) counts each request as a new
    customer, as a busy day's traffic would be. Linux routes all of 127/8 to loopback."""
    return f"127.{10 + i // 62_500}.{i // 250 % 250 + 1}.{i % 250 + 1}"


class _FromConn(wb._Conn):
    """webhook_bench's raw client, connecting from a chosen source address."""

    def __init__(self, port: int, timeout: float, source: str):
        super().__init__(port, timeout)
        self.source = source

    def _open(self):  # type: ignore[no-untyped-def]
        import socket

        sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout,
                                        source_address=(self.source, 0))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reconnects += 1
        return sock


def pages(seeded: Seeded, args: argparse.Namespace) -> list[Page]:
    rng = random.Random(9)
    rich = seeded.rich[:]
    rng.shuffle(rich)
    out = [
        Page("queue (default)", "GET", ["/console/tickets"], AGENT, b"<table"),
        Page("queue all/email", "GET", ["/console/tickets?status=all&channel=email"], AGENT,
             b"<table"),
        Page("queue all/mine", "GET", ["/console/tickets?status=all&owner=me"], AGENT,
             b"<table"),
        Page("queue overdue", "GET", ["/console/tickets?due=overdue"], AGENT, b"<table"),
        Page("ticket (~10 contacts)", "GET", [f"/console/tickets/{n}" for n in rich[:300]],
             AGENT, b'<ol class="timeline"'),  # the label is in the reader's language
        Page("pop (htmx)", "GET", ["/console/pop"], AGENT, b"", htmx=True),
        Page("wrap-up card (htmx)", "GET", ["/console/pop"], WRAPPER, b"pop-wrap-up",
             htmx=True),
        Page("floor", "GET", ["/console/floor"], SUPERVISOR, b"data-chart="),
        Page("floor live (htmx)", "GET", [args.floor_live], SUPERVISOR, b"data-chart=",
             htmx=True),
        Page("audit trail", "GET", ["/console/audit"], SUPERVISOR, b"<table"),
        Page("inbox", "GET", ["/console/inbox"], AGENT, b"<table"),
        Page("inbox message", "GET", [f"/console/inbox/{i}" for i in
                                      rng.sample(seeded.messages, 300)], AGENT,
             b'id="h-message"'),
        Page("desk", "GET", ["/console/desk"], AGENT, b'id="h-verify"'),
        Page("desk visit", "GET", [f"/console/desk/visits/{i}" for i in
                                   rng.sample(seeded.visits, 300)], AGENT, b'id="h-slip"'),
        Page("public /", "GET", ["/"], None, b"<h1"),
    ]
    if args.status_post:  # a different ticket per request: 5 look-ups per ticket per hour
        lookups = rich[-(args.warmup + args.requests):]
        out.append(Page("public POST /status", "POST", ["/status"], None, b'id="result-title"',
                        form=lambda i: {"ticket": lookups[i % len(lookups)],
                                        "phone": seeded.phone_of[lookups[i % len(lookups)]]},
                        own_address=True))
    return out


class Browser:
    """A signed-in person: session cookie and CSRF token, as the real form gives them."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""
        self.csrf = ""

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = {"Cookie": self.cookie} if self.cookie else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        conn.close()
        return resp.status, dict(resp.getheaders()), data

    def token_from(self, path: str) -> str:
        status, _, body = self._request("GET", path)
        found = CSRF.search(body)
        if not found:
            raise RuntimeError(f"no CSRF token on {path} (HTTP {status})")
        self.csrf = found.group(1).decode()
        return self.csrf

    def sign_in(self, username: str) -> None:
        token = self.token_from("/console/login")
        body = urlencode({"username": username, "password": PASSWORD,
                          "csrf_token": token}).encode()
        status, _, _ = self._request(
            "POST", "/console/login", body,
            {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"sign-in of {username} failed: HTTP {status}")

    def raw(self, page: Page, i: int) -> bytes:
        """The request's bytes (built before the clock starts)."""
        path = page.paths[i % len(page.paths)]
        head = [f"{page.method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                "User-Agent: console-bench", "Accept: text/html"]
        if self.cookie:
            head.append(f"Cookie: {self.cookie}")
        if page.htmx:
            head.append("HX-Request: true")
        body = b""
        if page.form is not None:
            body = urlencode({**page.form(i), "csrf_token": self.csrf}).encode()
            head += ["Content-Type: application/x-www-form-urlencoded",
                     f"Content-Length: {len(body)}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class Figures:
    page: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    bytes: int = 0

    def pct(self, q: float) -> float:
        return wb.RunResult(self.page, latencies_ms=self.latencies_ms).pct(q)


def measure(page: Page, requests: list[tuple[str | None, bytes]], concurrency: int,
            port: int) -> Figures:
    """Closed loop: ``concurrency`` threads, one connection each (one per request when the
    request has its own source address), requests split among them."""
    figures = Figures(page.name)
    lock = threading.Lock()

    def client(batch: list[tuple[str | None, bytes]]) -> None:
        conn = wb._Conn(port, 30.0)
        for source, data in batch:
            if source is not None:
                conn.close()
                conn = _FromConn(port, 30.0, source)
            t0 = time.perf_counter()
            try:
                status, body = conn.exchange(data)
                ok = status == 200 and page.marker in body
                err = "" if ok else f"HTTP {status}: {body[:160]!r}"
            except Exception as exc:  # a failed request is a figure, not a crash
                conn.close()
                ok, body, err = False, b"", f"{type(exc).__name__}: {exc}"
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                if ok:
                    figures.latencies_ms.append(ms)
                    figures.bytes += len(body)
                else:
                    figures.errors += 1
                    figures.first_error = figures.first_error or err
        conn.close()

    threads = [threading.Thread(target=client, args=(requests[k::concurrency],))
               for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return figures


# -- in-process query profile ------------------------------------------------------------------

def query_profile(env: dict[str, str], url: str, page_list: list[Page], repeat: int,
                  slow_ms: float) -> None:
    """Each page through Flask's test client with every statement timed; plans of slow ones."""
    from sqlalchemy import event

    from callcenter.config import Settings
    from callcenter.db import dispose_all, get_engine
    from webhooks.app import create_app

    app = create_app(Settings.from_env(env=env))
    engine = get_engine(url)
    captured: list[tuple[str, object]] = []  # (statement, DBAPI parameters) as executed

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        captured.append((statement, parameters))

    clients = {}
    for user in (AGENT, SUPERVISOR, WRAPPER):
        client = app.test_client()
        page = client.get("/console/login").get_data()
        token = CSRF.search(page).group(1).decode()  # type: ignore[union-attr]
        client.post("/console/login", data={"username": user, "password": PASSWORD,
                                            "csrf_token": token})
        clients[user] = client
    clients[None] = app.test_client()
    event.listen(engine, "before_cursor_execute", before)
    print(f"\nqueries per page (in-process, {repeat} requests each after one warm-up; each "
          f"distinct SELECT re-run alone; those over {slow_ms:.0f} ms get a plan)")
    plans: dict[str, str] = {}
    try:
        for page in page_list:
            if page.method != "GET":
                continue
            client = clients[page.user]
            headers = {"HX-Request": "true"} if page.htmx else {}
            client.get(page.paths[0], headers=headers)
            captured.clear()
            t = time.perf_counter()
            for i in range(repeat):
                client.get(page.paths[i % len(page.paths)], headers=headers)
            wall = (time.perf_counter() - t) * 1000 / repeat
            per = len(captured) / repeat
            captured.clear()  # one more request: its statements, each re-run on its own
            client.get(page.paths[0], headers=headers)
            # execute + fetch (SQLite computes rows lazily, in fetch: timing cursor.execute
            # alone would undercount it), best of three; a statement run several times with
            # other parameters (one query per status) counts each run.
            alone: dict[str, list[float]] = {}
            for stmt, params in captured:
                if stmt.lstrip().upper().startswith("SELECT"):
                    alone.setdefault(stmt, []).append(rerun(engine, stmt, params))
            total = sum(sum(v) for v in alone.values())
            print(f"\n  {page.name}: {wall:.1f} ms/request in-process, {per:.0f} statements, "
                  f"SELECTs re-run alone {total:.1f} ms")
            for stmt, runs in sorted(alone.items(), key=lambda kv: -sum(kv[1]))[:4]:
                print(f"    {sum(runs):7.1f} ms ×{len(runs)}  {' '.join(stmt.split())[:150]}")
                if max(runs) >= slow_ms and stmt not in plans:
                    worst = max(range(len(runs)), key=runs.__getitem__)
                    slowest = [p for s_, p in captured if s_ == stmt][worst]
                    plans[stmt] = explain(engine, stmt, slowest)  # for the slowest run
    finally:
        event.remove(engine, "before_cursor_execute", before)
    for stmt, plan in plans.items():
        print(f"\n  plan of: {' '.join(stmt.split())[:400]}")
        print("    " + plan.replace("\n", "\n    "))
    dispose_all()


def rerun(engine, statement: str, parameters: object) -> float:  # type: ignore[no-untyped-def]
    """Milliseconds for ``statement`` with its captured parameters, execute + fetchall, best
    of three (on a raw DBAPI cursor: no ORM, no result processing)."""
    best = float("inf")
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        for _ in range(3):
            cursor = raw.cursor()
            t0 = time.perf_counter()
            cursor.execute(statement, parameters)
            cursor.fetchall()
            best = min(best, (time.perf_counter() - t0) * 1000)
            cursor.close()
        conn.rollback()
    return best


def explain(engine, statement: str, parameters: object) -> str:  # type: ignore[no-untyped-def]
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            cursor = raw.cursor()
            cursor.execute(prefix + statement, parameters)
            rows = cursor.fetchall()
            cursor.close()
            conn.rollback()
    except Exception as exc:  # a plan is diagnostics: never fail the run for it
        return f"(no plan: {type(exc).__name__}: {exc})"
    if postgres:
        return "\n".join(r[0] for r in rows)
    return "\n".join(" | ".join(str(c) for c in r) for r in rows)


# -- the run -------------------------------------------------------------------------------

def run_backend(args: argparse.Namespace, backend: str, tmp: Path,
                db_url: str) -> dict[str, Figures]:
    import redis

    from callcenter.config import normalise_database_url
    from callcenter.migrate import upgrade

    redis.Redis.from_url(args.redis_url).flushdb()  # the look-up's rate-limit counters
    url = normalise_database_url(db_url)
    t = time.monotonic()
    upgrade(url)
    print(f"\n== {backend}: migrated ({time.monotonic() - t:.1f} s)", flush=True)
    seeded = seed(url, args.tickets, args.customers, args.audit)
    print(f"seeded     {seeded.tickets:,} tickets, {seeded.customers:,} customers, "
          f"{seeded.contacts:,} contacts, {seeded.callbacks:,} callbacks, "
          f"{seeded.emails:,} emails, {seeded.audit:,} audit rows in {seeded.seconds:.1f} s",
          flush=True)
    port = wb.free_port()
    env = wb.service_env(args, db_url, port, tmp)
    server = wb.start_server(f"service-{backend}", "webhooks.wsgi:app", ROOT, env, port, args,
                             tmp)
    results: dict[str, Figures] = {}
    page_list = [p for p in pages(seeded, args)
                 if not args.pages or any(w in p.name for w in args.pages.split(","))]
    try:
        wb.wait_ready(server)
        people = {}
        for user in (AGENT, SUPERVISOR, WRAPPER):
            people[user] = Browser(port)
            people[user].sign_in(user)
        stranger = Browser(port)
        if args.status_post:
            try:
                stranger.token_from("/status")
            except RuntimeError as exc:
                print(f"  public POST /status skipped: {exc}")
                page_list = [p for p in page_list if p.form is None]
        people[None] = stranger
        for page in page_list:
            who = people[page.user]
            total = args.warmup + args.requests
            batch = [(client_address(i) if page.own_address else None, who.raw(page, i))
                     for i in range(total)]
            measure(page, batch[:args.warmup], args.concurrency, port)
            figures = measure(page, batch[args.warmup:], args.concurrency, port)
            results[page.name] = figures
            print(f"  {page.name:<24} p50 {figures.pct(0.5):7.1f} ms  p95 "
                  f"{figures.pct(0.95):7.1f} ms  errors {figures.errors}"
                  + (f"  ({figures.first_error[:120]})" if figures.first_error else ""),
                  flush=True)
    finally:
        wb.stop_server(server)
    log = server.tail(15)
    if log.strip():
        print(f"gunicorn log (tail):\n{log}")
    if args.explain:
        query_profile(env, url, page_list, args.explain_repeat, args.slow_query_ms)
    return results


def report(all_results: dict[str, dict[str, Figures]], args: argparse.Namespace) -> bool:
    print(f"\nconsole pages, {args.tickets:,} tickets; {args.requests} measured requests "
          f"per page after {args.warmup} warm-up; {args.concurrency} client(s); gunicorn "
          f"{' '.join(wb.gunicorn_args(args))}")
    header = (f"{'backend':<10} {'page':<24} {'n':>5} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'p99 ms':>8} {'max ms':>8} {'KiB':>6}  goal p95 < {GOAL_P95_MS:.0f} ms")
    print(header)
    print("-" * len(header))
    ok = True
    for backend, results in all_results.items():
        for name, f in results.items():
            n = len(f.latencies_ms)
            p95 = f.pct(0.95)
            good = f.errors == 0 and n > 0 and p95 < GOAL_P95_MS
            ok &= good
            flag = "PASS" if good else ("ERRORS" if f.errors else "SLOW")
            kib = f.bytes / n / 1024 if n else 0
            print(f"{backend:<10} {name:<24} {n:>5} {f.errors:>4} {f.pct(0.5):>8.1f} "
                  f"{p95:>8.1f} {f.pct(0.99):>8.1f} {max(f.latencies_ms or [0]):>8.1f} "
                  f"{kib:>6.1f}  {flag}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--postgres-admin-url",
                        default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                        help="flushed at the end: use a database nothing else uses")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=60_000)
    parser.add_argument("--audit", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=300, help="measured, per page")
    parser.add_argument("--warmup", type=int, default=30, help="per page, not measured")
    parser.add_argument("--concurrency", type=int, default=1, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--floor-live", default="/console/floor/live",
                        help="the floor's htmx fragment URL")
    parser.add_argument("--no-status-post", dest="status_post", action="store_false",
                        help="skip the public POST /status look-up")
    parser.add_argument("--pages", default="",
                        help="only the pages whose name contains one of these (comma-separated)")
    parser.add_argument("--explain", action="store_true",
                        help="also time every SQL statement in-process and print plans")
    parser.add_argument("--explain-repeat", type=int, default=5)
    parser.add_argument("--slow-query-ms", type=float, default=10.0)
    args = parser.parse_args(argv)

    def _term(signum, frame):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    tmp = Path(tempfile.mkdtemp(prefix="console_bench_"))
    all_results: dict[str, dict[str, Figures]] = {}
    try:
        for backend in backends:
            with contextlib.ExitStack() as stack:
                if backend == "postgresql":
                    db_url = stack.enter_context(wb.postgres_database(
                        args.postgres_admin_url, f"console_bench_{os.getpid()}"))
                else:
                    db_url = f"sqlite:///{tmp / 'console.sqlite3'}"
                all_results[backend] = run_backend(args, backend, tmp, db_url)
        return 0 if report(all_results, args) else 1
    except KeyboardInterrupt:
        print("\ninterrupted: server stopped, database dropped", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
