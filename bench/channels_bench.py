"""Inbound SMS/WhatsApp and email webhooks under gunicorn vs. a bare Flask floor, one run.

    .venv/bin/python bench/channels_bench.py                    # SQLite (temporary file)
    .venv/bin/python bench/channels_bench.py --db postgresql    # creates/drops bench_ch_<pid>

Same gunicorn command line, client and figures as ``bench/webhook_bench.py`` (whose helpers it
imports). Three targets, driven one at a time in alternating rounds:

- ``floor``: ``bench/floor_app.py`` (bare Flask, fixed TwiML), sent the same form bodies as
  ``message``; a response counts when it is 200 and contains a Gather verb;
- ``message``: ``POST /twilio/messaging/incoming``, Twilio's inbound SMS fields (half of them
  from ``whatsapp:+62…``), a fresh MessageSid each, signed (``X-Twilio-Signature``); counts
  when 200 with a TwiML ``<Message>`` carrying the ticket number;
- ``email``: ``POST /email/inbound``, a SendGrid Inbound Parse multipart post (90 % from a
  seeded customer's address, 10 % from unknown senders), a fresh Message-ID each, HTTP basic
  auth; counts when 200 with a JSON body naming the ticket.

Rows written are checked: one inbound contact per message/email and no duplicate; one
outbound reply contact per message; one acknowledgement email (and RQ job) per new email
ticket. No goal is set (issue): the ratio to the floor is informational.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from base64 import b64encode
from datetime import date, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import webhook_bench as wb  # noqa: E402  (its gunicorn, client, percentile and DB helpers)

ROOT = wb.ROOT
MESSAGE_PATH = "/twilio/messaging/incoming"
EMAIL_PATH = "/email/inbound"
FLOOR_PATH = wb.PATH  # the only route floor_app.py has
EMAIL_AUTH = "parse:bench-parse-password"
SUPPORT = "cs@cankul.co.id"
DEFAULT_QUEUE = "default"  # workers.queues.DEFAULT: where the acknowledgement jobs go
_TICKET_IN_MESSAGE = re.compile(rb"<Message>[^<]*\b\d{7,10}\b[^<]*</Message>")


# -- the client (webhook_bench's, with a check per target) ---------------------------------

def _ok_floor(status: int, body: bytes) -> bool:
    return status == 200 and b"Gather" in body


def _ok_message(status: int, body: bytes) -> bool:
    return status == 200 and _TICKET_IN_MESSAGE.search(body) is not None


def _ok_email(status: int, body: bytes) -> bool:
    return status == 200 and body.lstrip().startswith(b"{") and b'"ticket"' in body


CHECKS = {"floor": _ok_floor, "message": _ok_message, "email": _ok_email}


def _client(port: int, requests: list[bytes], check: str, barrier, results,  # type: ignore[no-untyped-def]
            timeout: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    ok_fn = CHECKS[check]
    conn = wb._Conn(port, timeout)
    samples: list[tuple[float, float, bool]] = []
    first_error = ""
    barrier.wait()
    cpu0 = time.process_time()
    for data in requests:
        t0 = time.perf_counter()
        try:
            status, body = conn.exchange(data)
            ok = ok_fn(status, body)
            if not ok and not first_error:
                first_error = f"HTTP {status}: {body[:300]!r}"
        except Exception as exc:  # a failed request is a result, not a crash
            conn.close()
            ok = False
            first_error = first_error or f"{type(exc).__name__}: {exc}"
        samples.append((t0, time.perf_counter(), ok))
    cpu = time.process_time() - cpu0
    conn.close()
    results.put((samples, cpu, conn.reconnects, first_error))


def drive(name: str, port: int, requests: list[bytes], concurrency: int, timeout: float,
          server_pids: list[int]) -> wb.RunResult:
    """webhook_bench.drive with this bench's per-target response check."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(concurrency + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_client, daemon=True,
                         args=(port, requests[i::concurrency], name, barrier, results, 10.0))
             for i in range(concurrency)]
    for p in procs:
        p.start()
    result = wb.RunResult(name)
    collected = []
    finished = False
    try:
        barrier.wait(timeout=30)
        cpu_before = wb._cpu_of(server_pids)
        deadline = time.monotonic() + timeout
        while len(collected) < concurrency:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{name}: clients did not finish within {timeout:.0f} s")
            try:
                collected.append(results.get(timeout=min(left, 1.0)))
            except Exception:  # queue.Empty
                if not any(p.is_alive() for p in procs) and results.empty():
                    raise RuntimeError(f"{name}: a client process died") from None
        result.server_cpu_s = wb._cpu_of(server_pids) - cpu_before
        finished = True
    finally:  # on an error or Ctrl-C the clients are killed at once
        deadline = time.monotonic() + (5 if finished else 0)
        for p in procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
    starts, ends = [], []
    for samples, cpu, reconnects, first_error in collected:
        result.client_cpu_s += cpu
        result.connections += reconnects
        result.first_error = result.first_error or first_error
        for t0, t1, ok in samples:
            starts.append(t0)
            ends.append(t1)
            result.requests += 1
            if ok:
                result.latencies_ms.append((t1 - t0) * 1000)
            else:
                result.errors += 1
    result.wall_s = max(ends) - min(starts) if starts else 0.0
    return result


# -- requests ------------------------------------------------------------------------------

def _raw(port: int, path: str, content_type: str, body: bytes,
         extra_headers: list[str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}", *extra_headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def message_params(customer: tuple[str, str, str], rng: random.Random,
                   whatsapp: bool) -> dict[str, str]:
    """Twilio's inbound-SMS parameter set (WhatsApp: the same with ``whatsapp:`` addresses)."""
    sid = "SM" + uuid.uuid4().hex
    phone = customer[1]
    return {"ToCountry": "ID", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
            "FromCity": "", "Body": rng.choice((
                "Halo, saya mau tanya tagihan bulan ini berapa?",
                "Kenapa pembayaran saya belum masuk? Sudah transfer kemarin.",
                "Tolong kirim nomor virtual account saya.",
                "Saya mau minta keringanan, gaji telat bulan ini.")),
            "FromCountry": "ID",
            "To": ("whatsapp:" if whatsapp else "") + wb.HOTLINE, "ToZip": "",
            "NumSegments": "1", "MessageSid": sid, "AccountSid": wb.ACCOUNT_SID,
            "From": ("whatsapp:" if whatsapp else "") + phone, "ApiVersion": "2010-04-01"}


def message_requests(port: int, count: int, customers: list[tuple[str, str, str]], *,
                     sign: bool, path: str = MESSAGE_PATH, seed: int = 7) -> list[bytes]:
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(wb.TOKEN)
    url = f"http://127.0.0.1:{port}{MESSAGE_PATH}"  # PUBLIC_BASE_URL + path, as Twilio signs
    rng = random.Random(seed)
    out = []
    for i in range(count):
        params = message_params(rng.choice(customers), rng, whatsapp=i % 2 == 1)
        headers = ["User-Agent: TwilioProxy/1.1"]
        if sign:
            headers.append(f"X-Twilio-Signature: {validator.compute_signature(url, params)}")
        out.append(_raw(port, path, "application/x-www-form-urlencoded",
                        urlencode(params).encode(), headers))
    return out


def _multipart(fields: dict[str, str]) -> tuple[str, bytes]:
    boundary = "xYzZY" + uuid.uuid4().hex  # SendGrid's boundaries look like this
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + value.encode() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def email_fields(customer: tuple[str, str, str] | None, rng: random.Random,
                 now: float) -> dict[str, str]:
    """One SendGrid Inbound Parse post (no attachment); ``customer`` None: unknown sender."""
    if customer is None:
        tag = uuid.uuid4().hex[:12]
        name, address = "Orang Asing", f"stranger-{tag}@example.net"
    else:
        name, address = customer[0], customer[2]
    message_id = f"<{uuid.uuid4().hex}.{int(now)}@example.com>"
    subject = rng.choice(("Pertanyaan tentang tagihan", "Pembayaran belum tercatat",
                          "Permohonan keringanan", "Nomor virtual account"))
    text = ("Selamat siang,\n\nSaya sudah membayar cicilan lewat transfer bank kemarin sore, "
            "tetapi di aplikasi masih tertulis belum dibayar. Mohon dicek.\n\n"
            f"Terima kasih,\n{name}\n")
    html = "<div>" + text.replace("\n", "<br>") + "</div>"
    sent = format_datetime(_dt(now))
    headers = (f"Received: by mx0047p1mdw1.sendgrid.net with SMTP id bench{uuid.uuid4().hex[:8]}"
               f" {sent}\n"
               "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1; "
               "h=from:to:subject:date:message-id; bh=AAAA; b=BBBB\n"
               "MIME-Version: 1.0\n"
               f"From: {name} <{address}>\n"
               f"To: Cankul CS <{SUPPORT}>\n"
               f"Subject: {subject}\n"
               f"Date: {sent}\n"
               f"Message-ID: {message_id}\n"
               'Content-Type: multipart/alternative; boundary="000000000000abcdef"\n')
    return {"headers": headers, "dkim": "{@example.com : pass}",
            "to": f"Cankul CS <{SUPPORT}>", "html": html, "from": f"{name} <{address}>",
            "text": text, "sender_ip": "203.0.113.7", "spam_report": "", "envelope":
            json.dumps({"to": [SUPPORT], "from": address}),
            "attachments": "0", "subject": subject, "spam_score": "0.1",
            "charsets": json.dumps({"to": "UTF-8", "html": "UTF-8", "subject": "UTF-8",
                                    "from": "UTF-8", "text": "UTF-8"}),
            "SPF": "pass"}


def _dt(ts: float):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)


def email_requests(port: int, count: int, customers: list[tuple[str, str, str]], *,
                   auth: bool, path: str = EMAIL_PATH, unknown_share: float = 0.10,
                   seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    basic = "Authorization: Basic " + b64encode(EMAIL_AUTH.encode()).decode()
    now = time.time()
    out = []
    for _ in range(count):
        customer = None if rng.random() < unknown_share else rng.choice(customers)
        content_type, body = _multipart(email_fields(customer, rng, now))
        out.append(_raw(port, path, content_type, body,
                        ["User-Agent: Sendlib/1.0", *([basic] if auth else [])]))
    return out


# -- database and Redis --------------------------------------------------------------------

def seed_customers(url: str, n: int) -> list[tuple[str, str, str]]:
    """``n`` customers: (name, phone +6281234500001…, email c1@example.com…), bulk-inserted."""
    from sqlalchemy import insert

    from callcenter.db import dispose_all, session_scope
    from callcenter.migrate import upgrade
    from callcenter.models import Customer

    upgrade(url)
    people = [(f"Pelanggan {i}", f"+62812{34500000 + i:08d}", f"c{i}@example.com")
              for i in range(1, n + 1)]
    today = date.today()
    with session_scope(url) as session:
        session.execute(insert(Customer), [dict(
            order_id=f"BENCH-{i:06d}", name=name, phone=phone, email=email,
            product="Cankul Tunai", application_status="disbursed",
            amount_due=1_000_000 + 1_000 * i, due_date=today + timedelta(days=i % 30),
            va_bank="BCA", va_number=f"{8800000000 + i:010d}")
            for i, (name, phone, email) in enumerate(people, start=1)])
    dispose_all()
    return people


COUNTERS = ("social_in", "social_out", "email_in", "tickets", "acks", "dup_ext", "jobs")


def snapshot(url: str, redis_client) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from callcenter.db import dispose_all, session_scope
    from callcenter.models import Contact, OutboundEmail, Ticket

    social = Contact.channel.in_(("sms", "whatsapp"))
    count = select(func.count()).select_from(Contact)
    with session_scope(url) as session:
        dup = select(Contact.channel, Contact.external_id).where(
            Contact.external_id.is_not(None), Contact.direction == "inbound").group_by(
            Contact.channel, Contact.external_id).having(func.count() > 1).subquery()
        out = {
            "social_in": session.scalar(count.where(social, Contact.direction == "inbound")),
            "social_out": session.scalar(count.where(social, Contact.direction == "outbound")),
            "email_in": session.scalar(count.where(Contact.channel == "email",
                                                   Contact.direction == "inbound")),
            "tickets": session.scalar(select(func.count()).select_from(Ticket)),
            "acks": session.scalar(select(func.count()).select_from(OutboundEmail)),
            "dup_ext": session.scalar(select(func.count()).select_from(dup)),
        }
    dispose_all()
    out["jobs"] = int(redis_client.llen(f"rq:queue:{DEFAULT_QUEUE}"))
    return {k: int(v or 0) for k, v in out.items()}


def doubled_social_tickets(url: str) -> int:
    """Customers with more than one open SMS/WhatsApp ticket (two first messages at once)."""
    from sqlalchemy import func, select

    from callcenter.db import dispose_all, session_scope
    from callcenter.models import Ticket

    with session_scope(url) as session:
        doubled = select(Ticket.customer_id).where(
            Ticket.channel.in_(("sms", "whatsapp")), Ticket.customer_id.is_not(None)).group_by(
            Ticket.customer_id).having(func.count() > 1).subquery()
        n = session.scalar(select(func.count()).select_from(doubled)) or 0
    dispose_all()
    return int(n)


def email_ticket_stats(url: str) -> dict[str, int]:
    """New email tickets and acknowledgements, split by known/unknown sender."""
    from sqlalchemy import func, select

    from callcenter.db import dispose_all, session_scope
    from callcenter.models import Ticket

    with session_scope(url) as session:
        rows = session.execute(select(Ticket.customer_id.is_(None), func.count())
                               .where(Ticket.channel == "email")
                               .group_by(Ticket.customer_id.is_(None))).all()
    dispose_all()
    by = {bool(unknown): n for unknown, n in rows}
    return {"known": by.get(False, 0), "unknown": by.get(True, 0)}


# -- the run -------------------------------------------------------------------------------

def run(args: argparse.Namespace, tmp: Path, db_url: str, redis_client) -> int:  # type: ignore[no-untyped-def]
    from callcenter.config import normalise_database_url

    url = normalise_database_url(db_url)
    t = time.monotonic()
    customers = seed_customers(url, args.customers)
    print(f"database   {args.db}: migrated, {len(customers):,} customers seeded "
          f"({time.monotonic() - t:.1f} s)")

    floor_port, service_port = wb.free_port(), wb.free_port()
    env = wb.service_env(args, db_url, service_port, tmp)
    env.update({"EMAIL_WEBHOOK_AUTH": EMAIL_AUTH, "SMTP_URL": "smtp://127.0.0.1:1",
                "CALLCENTER_SUPPORT_EMAIL": SUPPORT})
    per_round = max(1, args.requests // args.rounds)
    total = args.warmup + args.rounds * per_round
    t = time.monotonic()
    work = {
        "floor": message_requests(floor_port, total, customers, sign=False, path=FLOOR_PATH,
                                  seed=3),
        "message": message_requests(service_port, total, customers, sign=True),
        "email": email_requests(service_port, total, customers, auth=True,
                                unknown_share=args.unknown_share),
    }
    size = {k: sum(map(len, v)) // len(v) for k, v in work.items()}
    print(f"targets    floor = bare Flask POST {FLOOR_PATH} (message bodies, unread); "
          f"message = POST {MESSAGE_PATH}; email = POST {EMAIL_PATH}")
    print(f"requests   {total:,} per target built before timing ({time.monotonic() - t:.1f} s;"
          f" mean size floor {size['floor']} B, message {size['message']} B, email "
          f"{size['email']} B); warm-up {args.warmup}, then {args.rounds} alternating "
          f"round(s) of {per_round:,}")
    print(f"gunicorn   {' '.join(wb.gunicorn_args(args))} (same for both)")
    print(f"client     {args.concurrency} processes × 1 keep-alive connection, closed loop, "
          f"{os.cpu_count()} CPUs shared with the server")

    servers = [wb.start_server("floor", "floor_app:app", BENCH, env, floor_port, args, tmp),
               wb.start_server("service", "webhooks.wsgi:app", ROOT, env, service_port, args,
                               tmp)]
    floor_server, service_server = servers
    targets = {"floor": floor_server, "message": service_server, "email": service_server}
    results: dict[str, list[wb.RunResult]] = {}
    delta = {name: dict.fromkeys(COUNTERS, 0) for name in targets}
    sent = dict.fromkeys(targets, 0)

    def one_run(name: str, batch: list[bytes]) -> wb.RunResult:
        server = targets[name]
        before = snapshot(url, redis_client)
        res = drive(name, server.port, batch, args.concurrency, args.timeout,
                    [server.proc.pid])
        after = snapshot(url, redis_client)
        for key in COUNTERS:
            delta[name][key] += after[key] - before[key] if key != "dup_ext" else after[key]
        sent[name] += res.requests
        return res

    try:
        for server in servers:
            wb.wait_ready(server)
        for name in targets:
            warm = one_run(name, work[name][:args.warmup])
            if warm.errors == warm.requests:
                raise RuntimeError(f"{name}: every warm-up request failed: "
                                   f"{warm.first_error}\n{targets[name].tail()}")
        for rnd in range(args.rounds):
            for name in targets:
                start = args.warmup + rnd * per_round
                time.sleep(0.3)
                one = one_run(name, work[name][start:start + per_round])
                print(f"round {rnd + 1}/{args.rounds}  {name:<8} {one.rps:7.0f} req/s  "
                      f"p50 {one.pct(0.5):6.2f} ms  p99 {one.pct(0.99):6.2f} ms  "
                      f"errors {one.errors}")
                results.setdefault(name, []).append(one)
    finally:
        for server in servers:
            wb.stop_server(server)

    merged = {name: wb.merge(runs) for name, runs in results.items()}
    ok = report(merged, delta, sent, email_ticket_stats(url), doubled_social_tickets(url))
    for server in servers:
        log = server.tail(10)
        if log.strip():
            print(f"\n{server.name} log (tail):\n{log}")
    return 0 if ok else 1


def _row(r: wb.RunResult, floor: wb.RunResult | None) -> str:
    n = max(r.requests, 1)
    ratio = f"{r.rps / floor.rps:6.1%}" if floor is not None and floor.rps else "     -"
    return (f"{r.name:<8} {r.requests:>8,} {r.errors:>6,} {r.rps:>8.0f} {r.pct(0.50):>7.2f} "
            f"{r.pct(0.90):>7.2f} {r.pct(0.99):>7.2f} {max(r.latencies_ms or [0]):>7.2f} "
            f"{ratio:>8} {1000 * r.server_cpu_s / n:>8.3f} {1000 * r.client_cpu_s / n:>8.3f}")


def report(results: dict[str, wb.RunResult], delta: dict[str, dict[str, int]],
           sent: dict[str, int], email_tickets: dict[str, int], doubled: int) -> bool:
    header = (f"{'target':<8} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>7} "
              f"{'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'/floor':>8} {'srv CPU':>8} "
              f"{'cli CPU':>8}")
    floor = results["floor"]
    all_ok = True

    def check(label: str, got: int, expected: int) -> None:
        nonlocal all_ok
        good = got == expected
        all_ok &= good
        print(f"  {label:<44} {got:>7,}  expected {expected:>7,}  {'OK' if good else 'MISMATCH'}")

    for name, title in (("message", f"inbound SMS/WhatsApp — POST {MESSAGE_PATH}"),
                        ("email", f"inbound email — POST {EMAIL_PATH}")):
        r = results[name]
        print(f"\n{title}  (CPU columns: ms per request)")
        print(header)
        print("-" * len(header))
        print(_row(floor, None))
        print(_row(r, floor))
        d, n = delta[name], sent[name]
        print(f"rows written ({n:,} requests incl. warm-up; errors {r.errors}):")
        if name == "message":
            check("inbound sms/whatsapp contacts (1 each)", d["social_in"], n)
            check("outbound reply contacts (1 each)", d["social_out"], n)
            check("email contacts", d["email_in"], 0)
            check("duplicate (channel, external_id) inbound", d["dup_ext"], 0)
            print(f"  tickets opened: {d['tickets']:,} (a customer's later messages thread onto "
                  f"the open ticket; informational); customers with 2+ message tickets: "
                  f"{doubled:,} (two first messages at once)")
        else:
            check("inbound email contacts (1 each)", d["email_in"], n)
            check("sms/whatsapp contacts", d["social_in"] + d["social_out"], 0)
            check("duplicate (channel, external_id) inbound", d["dup_ext"], 0)
            check("acknowledgement emails (1 per new ticket)", d["acks"], d["tickets"])
            check("RQ send_email jobs (1 per acknowledgement)", d["jobs"], d["acks"])
            print(f"  email tickets opened: {email_tickets['known']:,} for known customers, "
                  f"{email_tickets['unknown']:,} for unknown senders (informational)")
        if r.first_error:
            print(f"  first error: {r.first_error}")
        all_ok &= r.errors == 0
    if floor.first_error:
        print(f"first error (floor): {floor.first_error}")
    busy = (floor.client_cpu_s / floor.wall_s / (os.cpu_count() or 1)) if floor.wall_s else 0
    print(f"\nclient CPU during the floor run: {busy:.0%} of the machine; req/s is the median "
          f"round, latencies pooled over rounds; no goal is set (informational)")
    return all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-admin-url",
                        default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="where to CREATE/DROP the bench_ch_<pid> database")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11",
                        help="flushed before and after: use a database nothing else uses")
    parser.add_argument("--requests", type=int, default=1500,
                        help="measured per target, split over --rounds")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating floor/message/email rounds; req/s is the median")
    parser.add_argument("--warmup", type=int, default=100, help="per target, not measured")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both targets)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (both)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--unknown-share", type=float, default=0.10,
                        help="share of emails from senders who are not customers")
    parser.add_argument("--access-log", action="store_true",
                        help="gunicorn access log (to a file) on both targets")
    parser.add_argument("--timeout", type=float, default=90,
                        help="seconds allowed per measured phase before giving up")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rounds < 1 or args.concurrency < 1 or args.warmup < 1:
        parser.error("--requests, --rounds, --concurrency and --warmup must be ≥ 1")

    import redis

    def _term(signum, frame):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    redis_client = redis.Redis.from_url(args.redis_url, socket_connect_timeout=2)
    if redis_client.dbsize():
        print(f"refusing: {args.redis_url} is not empty (it is flushed at the end)",
              file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="channels_bench_"))
    try:
        with contextlib.ExitStack() as stack:
            if args.db == "postgresql":
                db_url = stack.enter_context(
                    wb.postgres_database(args.postgres_admin_url, f"bench_ch_{os.getpid()}"))
            else:
                db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
            return run(args, tmp, db_url, redis_client)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, database dropped, Redis db flushed",
              file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(Exception):
            redis_client.flushdb()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
