"""Customer search with 100,000 customers: p50/p95 per query kind and of the customer page.

    .venv/bin/python bench/search_bench.py                      # SQLite and PostgreSQL
    .venv/bin/python bench/search_bench.py --db sqlite --requests 100
    .venv/bin/python bench/search_bench.py --customers 20000    # a quicker look

The goal: every search and the customer's page answer in < 100 ms p95 with 100,000
customers. For each backend the bench creates a fresh database (a temporary SQLite file, or
``search_bench_<pid>`` on PostgreSQL), migrates it and bulk-seeds ``--customers`` customers
(names drawn from common Indonesian given names and family names, so a name search finds
hundreds, as on a real book) with 1–3 tickets each on every channel and a contact per ticket
(Core executemany, a fixed random seed: the same data every run), then ANALYZE.

It times whole requests through the real app in-process (Flask's test client, signed in
through the real form, the audit row written and committed on each): the console's
``/console/customers?q=`` per query kind (phone typed ``0812-…``, Order ID, ticket number,
email, part of a name), the API's ``GET /api/customers?q=`` (phone, name) and the customer's
page. ``--warmup`` requests, then ``--requests`` timed ones with a different customer each.
A response counts as an error unless its status is the expected one. The exit status is 0
only when every p95 is under the goal.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import webhook_bench as wb  # noqa: E402  (PostgreSQL database helper)

GOAL_P95_MS = 100.0
PASSWORD = "bench search password"
AGENT = "bench-agent"
API_TOKEN = "bench-api-token"
CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
GIVEN = ["Budi", "Siti", "Agus", "Dewi", "Rina", "Andi", "Putri", "Eko", "Sri", "Joko",
         "Wahyu", "Ayu", "Rizky", "Fitri", "Hendra", "Indah", "Yusuf", "Nur", "Dian", "Bayu",
         "Lestari", "Teguh", "Ratna", "Fajar", "Maya", "Arif", "Wulan", "Dimas", "Sari", "Adi"]
FAMILY = ["Santoso", "Wijaya", "Saputra", "Hidayat", "Kusuma", "Pratama", "Setiawan",
          "Nugroho", "Susanto", "Gunawan", "Halim", "Siregar", "Nasution", "Lubis", "Harahap",
          "Simanjuntak", "Tanjung", "Wibowo", "Purnomo", "Rahman", "Hakim", "Suryadi",
          "Kurniawan", "Utomo", "Firmansyah", "Hasibuan", "Sinaga", "Putra", "Maulana", "Ginting"]
CHANNELS = ["voice", "sms", "whatsapp", "email", "walk_in"]
STATUSES = ["open", "pending_customer", "pending_documents", "resolved", "resolved"]


@dataclass
class Seeded:
    customers: int = 0
    tickets: int = 0
    contacts: int = 0
    seconds: float = 0.0
    ticket_of: dict[int, str] = field(default_factory=dict)  # customer id -> a ticket number


def seed(url: str, n_customers: int) -> Seeded:
    """Customers, their tickets and a contact per ticket, in bulk; then ANALYZE."""
    from sqlalchemy import insert, text

    from callcenter.db import get_engine, session_scope
    from callcenter.models import Contact, Customer, Ticket
    from callcenter.people import users
    from callcenter.tickets.numbers import number_for

    started, rng, now, out = time.monotonic(), random.Random(13), datetime.now(UTC), Seeded()
    with session_scope(url) as session:
        users.create_user(session, AGENT, PASSWORD, "agent")
    customers, tickets, contacts = [], [], []
    ticket_id = 0
    for i in range(n_customers):
        cid = i + 1
        customers.append(dict(
            id=cid, order_id=f"{30000000 + i}", name=f"{rng.choice(GIVEN)} "
            f"{rng.choice(FAMILY)}" + (f" {rng.choice(FAMILY)}" if i % 3 == 0 else ""),
            phone=f"+62812{30000000 + i:08d}", email=f"pelanggan{i}@example.com",
            product="Cankul Tunai", application_status="disbursed",
            amount_due=1_000_000 + i, due_date=date(2026, 12, 1) + timedelta(i % 28),
            va_bank="BCA", va_number=f"{8800000000 + i:010d}", created_at=now, updated_at=now))
        for _ in range(rng.randint(1, 3)):
            ticket_id += 1
            number = number_for(ticket_id)
            channel = rng.choice(CHANNELS)
            opened = now - timedelta(minutes=rng.randint(0, 60 * 24 * 90))
            tickets.append(dict(id=ticket_id, number=number, customer_id=cid, channel=channel,
                                status=rng.choice(STATUSES), category="inquiry",
                                language="id", opened_at=opened, updated_at=opened,
                                kind="written" if channel in ("email", "sms", "whatsapp")
                                else "oral", due_at=opened + timedelta(days=10)))
            contacts.append(dict(ticket_id=ticket_id, channel=channel, direction="inbound",
                                 kind="customer", status="completed", started_at=opened,
                                 verified=True, menu_path=[], answers=[], ivr_state={},
                                 sender_verified=True, asks_customer=False,
                                 body="Mohon dicek tagihan saya"))
            out.ticket_of.setdefault(cid, number)
    engine = get_engine(url)
    with engine.begin() as conn:
        for table, rows in ((Customer, customers), (Ticket, tickets), (Contact, contacts)):
            for start in range(0, len(rows), 5_000):
                conn.execute(insert(table), rows[start:start + 5_000])
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('tickets_id_seq', :n)"), {"n": ticket_id})
            conn.execute(text("SELECT setval('customers_id_seq', :n)"), {"n": n_customers})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    out.customers, out.tickets, out.contacts = len(customers), len(tickets), len(contacts)
    out.seconds = time.monotonic() - started
    return out


@dataclass
class Case:
    name: str
    path: Callable[[int], str]  # from a customer id
    api: bool = False
    expect: tuple[int, ...] = (200,)


def cases(seeded: Seeded) -> list[Case]:
    def national(cid: int) -> str:
        digits = f"0812{30000000 + cid - 1:08d}"
        return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"

    return [
        Case("search phone 0812-…", lambda c: f"/console/customers?q={national(c)}",
             expect=(303,)),
        Case("search Order ID", lambda c: f"/console/customers?q={30000000 + c - 1}",
             expect=(303,)),
        Case("search ticket number", lambda c: f"/console/customers?q={seeded.ticket_of[c]}",
             expect=(303,)),
        Case("search email", lambda c: f"/console/customers?q=pelanggan{c - 1}@example.com",
             expect=(303,)),
        Case("search name (given)", lambda c: f"/console/customers?q={GIVEN[c % len(GIVEN)]}"),
        Case("search name (family)",
             lambda c: f"/console/customers?q={FAMILY[c % len(FAMILY)].lower()}"),
        Case("search part of a name",
             lambda c: f"/console/customers?q={FAMILY[c % len(FAMILY)][1:4]}"),
        Case("search no match", lambda c: f"/console/customers?q=zz{c}qq"),
        Case("API phone", lambda c: f"/api/customers?q=%2B62812{30000000 + c - 1:08d}",
             api=True),
        Case("API name", lambda c: f"/api/customers?q={GIVEN[c % len(GIVEN)]}%20"
             f"{FAMILY[c % len(FAMILY)]}", api=True),
        Case("customer page", lambda c: f"/console/customers/{c}"),
    ]


def run_backend(args: argparse.Namespace, backend: str, db_url: str, tmp: Path
                ) -> dict[str, tuple[float, float, int, int]]:
    from callcenter.config import Settings, normalise_database_url
    from callcenter.db import dispose_all
    from callcenter.migrate import upgrade
    from webhooks.app import create_app

    url = normalise_database_url(db_url)
    upgrade(url)
    seeded = seed(url, args.customers)
    print(f"\n== {backend}: {seeded.customers:,} customers, {seeded.tickets:,} tickets, "
          f"{seeded.contacts:,} contacts seeded in {seeded.seconds:.1f} s", flush=True)
    env = {"DATABASE_URL": db_url, "REDIS_URL": args.redis_url, "SECRET_KEY": "bench-secret",
           "API_TOKEN": API_TOKEN, "TWILIO_AUTH_TOKEN": "bench", "TWILIO_ACCOUNT_SID":
           "AC" + "0" * 32, "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
           "HOME": str(tmp)}
    app = create_app(Settings.from_env(env=env))
    client = app.test_client()
    token = CSRF.search(client.get("/console/login").get_data()).group(1).decode()  # type: ignore[union-attr]
    reply = client.post("/console/login", data={"username": AGENT, "password": PASSWORD,
                                                "csrf_token": token})
    assert reply.status_code == 302, reply.status_code
    bearer = {"Authorization": f"Bearer {API_TOKEN}"}
    rng = random.Random(29)
    results = {}
    for case in cases(seeded):
        ids = [rng.randint(1, seeded.customers) for _ in range(args.warmup + args.requests)]
        times, errors = [], 0
        for n, cid in enumerate(ids):
            start = time.perf_counter()
            reply = client.get(case.path(cid), headers=bearer if case.api else {})
            reply.get_data()
            elapsed = (time.perf_counter() - start) * 1000
            errors += reply.status_code not in case.expect
            if n >= args.warmup:
                times.append(elapsed)
        times.sort()
        p50 = statistics.median(times)
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
        results[case.name] = (p50, p95, len(times), errors)
        print(f"  {case.name:<24} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  errors {errors}",
              flush=True)
    dispose_all()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--postgres-admin-url",
                        default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    everything: dict[str, dict[str, tuple[float, float, int, int]]] = {}
    with tempfile.TemporaryDirectory(prefix="search-bench-") as folder:
        tmp = Path(folder)
        for backend in backends:
            if backend == "sqlite":
                everything[backend] = run_backend(args, backend,
                                                  f"sqlite:///{tmp / 'bench.db'}", tmp)
            else:
                with wb.postgres_database(args.postgres_admin_url,
                                          f"search_bench_{os.getpid()}") as url:
                    everything[backend] = run_backend(args, backend, url, tmp)
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    print(f"\ncustomer search, {args.customers:,} customers; {args.requests} timed requests "
          f"per case after {args.warmup} warm-up; in-process (Flask test client), one client")
    header = (f"{'backend':<11} {'case':<24} {'n':>4} {'err':>4} {'p50 ms':>8} {'p95 ms':>8}"
              f"  goal p95 < {GOAL_P95_MS:.0f} ms")
    print(header)
    print("-" * len(header))
    ok = True
    for backend, results in everything.items():
        for name, (p50, p95, n, errors) in results.items():
            met = p95 < GOAL_P95_MS and errors == 0
            ok &= met
            print(f"{backend:<11} {name:<24} {n:>4} {errors:>4} {p50:8.1f} {p95:8.1f}  "
                  f"{'OK' if met else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
