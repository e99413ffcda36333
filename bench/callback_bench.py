"""Callbacks: scheduling precision, callbacks placed per worker vs RQ's empty-job floor,
and the periodic sweep's time with 100,000 tickets in the database.

    .venv/bin/python bench/callback_bench.py                    # SQLite (temporary file)
    .venv/bin/python bench/callback_bench.py --db postgresql    # own database, dropped after

Twilio's REST API is a stub served by this process (``Calls.json`` answers 201 like Twilio and
records ``time.time()`` on arrival); workers are real ``rq.Worker`` processes
(``bench/callback_worker.py``, the Procfile's ``rq worker --with-scheduler``) running the
service's ``workers.callbacks.place_callback`` against the database and Redis db 13.

Goals (issue): p99 scheduling lag < 2 s; callbacks placed ≥ 35 % of the empty-job floor.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

ACCOUNT_SID = "AC" + "c" * 32
TOKEN = "bench-auth-token"
HOTLINE = "+622150001234"
BASE_URL = "http://127.0.0.1:9"  # the outbound call's webhooks: nobody calls them here
QUEUES = ("urgent", "default")
GOAL_LAG_P99_S = 2.0
GOAL_RATIO = 0.35  # issue 14
JAKARTA = ZoneInfo("Asia/Jakarta")


def pct(data: list[float], q: float) -> float:
    data = sorted(data)
    if not data:
        return float("nan")
    return data[min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))]  # nearest rank


# -- the Twilio REST stub ------------------------------------------------------------------

class TwilioStub:
    """``POST …/Calls.json`` → 201 like Twilio; each arrival recorded as (time.time(), cb id)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int | None]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            # Twilio's API keeps connections alive, and the service's client keeps its session
            # for that; an HTTP/1.0 stub would make every job open a new connection.
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

            def log_message(self, *_args: object) -> None:
                pass

            def do_POST(self) -> None:
                now = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                if not self.path.endswith("/Calls.json"):
                    return self._send(404, {"code": 20404, "message": "not found",
                                            "status": 404})
                cb = parse_qs(urlparse(form.get("Url", "")).query).get("cb", [None])[0]
                with stub.lock:
                    stub.arrivals.append((now, int(cb) if cb else None))
                sid = "CA" + uuid.uuid4().hex
                self._send(201, {"sid": sid, "account_sid": ACCOUNT_SID, "status": "queued",
                                 "to": form.get("To"), "from": form.get("From"),
                                 "direction": "outbound-api", "api_version": "2010-04-01",
                                 "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json"})

            def do_GET(self) -> None:
                self._send(200, {"calls": [], "next_page_uri": None, "page": 0,
                                 "page_size": 50, "uri": self.path})

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> TwilioStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take(self) -> list[tuple[float, int | None]]:
        with self.lock:
            out, self.arrivals = self.arrivals, []
        return out


# -- workers -------------------------------------------------------------------------------

@dataclass
class Workers:
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(self, env: dict[str, str], tmp: Path, count: int, *, scheduler: bool,
              burst: bool, preload: bool, wait: float = 20.0,
              worker_class: str = "rq.Worker") -> None:
        for _ in range(count):
            log = tmp / f"worker{len(self.logs)}.log"
            cmd = [sys.executable, str(BENCH / "callback_worker.py"), *QUEUES]
            cmd += ["--with-scheduler"] * scheduler + ["--burst"] * burst
            cmd += ["--preload"] * preload + ["--worker-class", worker_class]
            with open(log, "wb") as handle:
                self.procs.append(subprocess.Popen(
                    cmd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True))
            self.logs.append(log)
        deadline = time.monotonic() + wait  # until each has printed "ready" (imports done)
        for proc, log in zip(self.procs[-count:], self.logs[-count:], strict=False):
            while b"ready" not in log.read_bytes():
                if proc.poll() is not None and not burst:
                    raise RuntimeError(f"worker exited:\n{self.tail(log)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker not ready after {wait:.0f} s\n{self.tail(log)}")
                time.sleep(0.05)

    @staticmethod
    def tail(log: Path, n: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
        return ""

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            # horses and the scheduler process are in the worker's own session/process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.procs.clear()

    def errors(self) -> str:
        out = []
        for log in self.logs:
            text = self.tail(log, 200)
            lines = [ln for ln in text.splitlines()
                     if "Traceback" in ln or "Error" in ln or "error" in ln]
            if lines:
                out.append(f"{log.name}: " + " | ".join(lines[:4]))
        return "\n".join(out)


# -- environment ---------------------------------------------------------------------------

@dataclass
class Ctx:
    args: argparse.Namespace
    tmp: Path
    db_url: str
    stub: TwilioStub
    offset: float  # BENCH_TIME_OFFSET (0 = real time)
    workers: Workers = field(default_factory=Workers)

    def env(self, dial_rate: float) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CALLCENTER_", "TWILIO_", "DATABASE_", "REDIS_",
                                    "CALLBACK_", "CALLING_"))}
        env.update({
            "HOME": str(self.tmp),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{BENCH}",
            "DATABASE_URL": self.db_url,
            "REDIS_URL": self.args.redis_url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_PHONE_NUMBER": HOTLINE,
            "TWILIO_API_URL": self.stub.url,
            "CALLING_HOURS": "00:00-23:59",
            "CALLBACK_DIAL_RATE": str(dial_rate),
            "PUBLIC_BASE_URL": BASE_URL,
            "SECRET_KEY": "bench-secret-key",
        })
        if self.offset:
            env["BENCH_TIME_OFFSET"] = repr(self.offset)
        return env

    def settings(self, dial_rate: float = 0.0):  # type: ignore[no-untyped-def]
        from callcenter.config import Settings

        return Settings.from_env(env=self.env(dial_rate))

    def redis(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis.from_url(self.args.redis_url, socket_connect_timeout=2)


def choose_offset(mode: str) -> tuple[float, str]:
    """0 when today (Asia/Jakarta) is a calling day, else travel to a Wednesday 10:00 WIB."""
    from callcenter.callbacks.calling_hours import is_calling_day

    now = datetime.now(JAKARTA)
    fine = is_calling_day(now.date()) and now.hour * 60 + now.minute in range(5, 23 * 60 + 50)
    if mode == "never" or (mode == "auto" and fine):
        why = "today is a calling day in Asia/Jakarta" if fine else \
            "WARNING: today is NOT a calling day in Asia/Jakarta: callbacks will be rescheduled"
        return 0.0, f"real time ({why})"
    day = now.date() + timedelta(days=1)
    while day.weekday() != 2 or not is_calling_day(day):
        day += timedelta(days=1)
    dest = datetime.combine(day, datetime.min.time().replace(hour=10), tzinfo=JAKARTA)
    return dest.timestamp() - time.time(), \
        f"time_machine: every process travels to {dest:%a %Y-%m-%d %H:%M} WIB (tick=True)"


@contextlib.contextmanager
def postgres_database(admin_url: str, name: str):  # type: ignore[no-untyped-def]
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        from callcenter.db import dispose_all

        dispose_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- callbacks through the service's own code ----------------------------------------------

_serial = [0]


def make_callbacks(ctx: Ctx, dues: list[datetime]) -> list[tuple[int, datetime]]:
    """One customer, voice ticket and scheduled callback per due time (committed, no job)."""
    from callcenter.callbacks.policy import request_callback
    from callcenter.db import session_scope
    from callcenter.models import Customer
    from callcenter.tickets.lifecycle import open_ticket

    settings = ctx.settings()
    out = []
    with session_scope(settings.database_url) as session:
        customers = []
        for _ in dues:
            _serial[0] += 1
            i = _serial[0]
            customers.append(Customer(order_id=f"CB-{i:07d}", name=f"Pelanggan {i}",
                                      phone=f"+62811{10000000 + i:08d}", product="Cankul Tunai",
                                      amount_due=1_500_000))
        session.add_all(customers)
        session.flush()
        for customer, due in zip(customers, dues, strict=False):
            ticket = open_ticket(session, channel="voice", customer_id=customer.id)
            callback, created = request_callback(session, settings, ticket,
                                                 reason="dropped_call", earliest=due)
            assert callback is not None and created
            out.append((callback.id, callback.due_at))
    return out


def schedule(ctx: Ctx, rows: list[tuple[int, datetime]]) -> None:
    from callcenter.db import session_scope
    from callcenter.models import Callback
    from workers.queues import schedule_callback_job

    settings = ctx.settings()
    with session_scope(settings.database_url) as session:
        for callback_id, _due in rows:
            schedule_callback_job(settings, session.get(Callback, callback_id))


def callback_statuses(ctx: Ctx, ids: list[int]) -> dict[str, int]:
    from sqlalchemy import func, select

    from callcenter.db import session_scope
    from callcenter.models import Callback

    with session_scope(ctx.settings().database_url) as session:
        rows = session.execute(select(Callback.status, func.count()).where(
            Callback.id.in_(ids)).group_by(Callback.status)).all()
    return {status: n for status, n in rows}


def job_times(ctx: Ctx, job_ids: list[str]) -> list[tuple[str, datetime | None,
                                                          datetime | None, datetime | None]]:
    """(id, enqueued_at, started_at, ended_at) of each job still in Redis (UTC)."""
    from rq.job import Job

    out = []
    conn = ctx.redis()
    for i in range(0, len(job_ids), 500):
        for job_id, job in zip(job_ids[i:i + 500],
                               Job.fetch_many(job_ids[i:i + 500], connection=conn), strict=False):
            if job is None:
                out.append((job_id, None, None, None))
                continue
            fix = [(t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t)
                   for t in (job.enqueued_at, job.started_at, job.ended_at)]
            out.append((job_id, *fix))
    return out


# -- 1. scheduling lag ---------------------------------------------------------------------

@dataclass
class LagResult:
    label: str
    workers: int
    n: int
    lags: list[float]
    not_placed: int
    early_runs: int
    enqueue_lead: list[float]  # due_at − enqueued_at (s): > 0 means put on the queue early
    statuses: dict[str, int]


def lag_phase(ctx: Ctx, label: str, workers: int, preload: bool) -> LagResult:
    from callcenter.models import utcnow
    from workers.queues import callback_job_id

    args = ctx.args
    ctx.redis().flushdb()
    ctx.workers.start(ctx.env(0), ctx.tmp, workers, scheduler=True, burst=False,
                      preload=preload, worker_class=args.lag_worker_class)
    time.sleep(1.5)  # the scheduler process takes its lock and starts polling
    ctx.stub.take()
    start = utcnow() + timedelta(seconds=args.lead)
    rng = random.Random(7)
    dues = sorted(start + timedelta(seconds=rng.uniform(0, args.spread))
                  for _ in range(args.callbacks))
    rows = make_callbacks(ctx, dues)
    if min(d for _, d in rows) <= utcnow():
        raise RuntimeError("creating the callbacks took longer than --lead: raise --lead")
    schedule(ctx, rows)
    due = dict(rows)
    last_due = max(due.values())
    deadline = time.monotonic() + max(0.0, (last_due - utcnow()).total_seconds()) + args.tail
    seen: dict[int, float] = {}
    while time.monotonic() < deadline and len(seen) < len(rows):
        for t, cb in ctx.stub.take():
            if cb in due:
                seen.setdefault(cb, t)
        time.sleep(0.2)
    ctx.workers.stop()
    for t, cb in ctx.stub.take():
        if cb in due:
            seen.setdefault(cb, t)
    lags = [seen[cb] - due[cb].timestamp() for cb in seen]
    from callcenter.models import Callback

    jobs = job_times(ctx, [callback_job_id(Callback(id=cb, due_at=d)) for cb, d in rows])
    pairs = list(zip(jobs, rows, strict=False))
    early = sum(1 for (_, _, started, _), (_, d) in pairs if started and started < d)
    leads = [(d - enq).total_seconds() for (_, enq, _, _), (_, d) in pairs if enq]
    return LagResult(label, workers, len(rows), lags, len(rows) - len(seen), early, leads,
                     callback_statuses(ctx, list(due)))


# -- 2. throughput -------------------------------------------------------------------------

@dataclass
class Rate:
    label: str
    workers: int
    total: int
    done: int
    span_s: float
    floor: bool = False
    note: str = ""
    floor_per_s: float = 0.0  # the floor of the same worker class

    @property
    def per_s(self) -> float:
        return self.done / self.span_s if self.span_s > 0 else 0.0

    @property
    def per_min_worker(self) -> float:
        return 60 * self.per_s / self.workers


def _rate_from_jobs(times: list[tuple[str, datetime | None, datetime | None, datetime | None]],
                    window_end: datetime | None = None) -> tuple[int, float]:
    """Jobs finished, and seconds from the first start to the last end."""
    done = [(s, e) for _, _, s, e in times if s and e and (window_end is None or e <= window_end)]
    if not done:
        return 0, 0.0
    return len(done), (max(e for _, e in done) - min(s for s, _ in done)).total_seconds()


def floor_phase(ctx: Ctx, m: int, worker_class: str = "rq.Worker") -> Rate:
    from rq import Queue

    ctx.redis().flushdb()
    q = Queue(QUEUES[0], connection=ctx.redis())
    jobs = q.enqueue_many([Queue.prepare_data("callback_worker.noop") for _ in range(m)])
    ids = [j.id for j in jobs]
    ctx.workers.start(ctx.env(0), ctx.tmp, 1, scheduler=True, burst=True, preload=False,
                      worker_class=worker_class)
    ctx.workers.wait(ctx.args.window + 10)
    ctx.workers.stop()
    done, span = _rate_from_jobs(job_times(ctx, ids))
    r = Rate(f"floor: empty job, {worker_class}", 1, m, done, span, floor=True)
    r.floor_per_s = r.per_s
    return r


def throughput_phase(ctx: Ctx, label: str, m: int, workers: int, preload: bool,
                     dial_rate: float, floor: Rate, worker_class: str = "rq.Worker") -> Rate:
    """m callbacks due now, enqueued, then burst workers; bounded by --window seconds."""
    from callcenter.models import Callback, utcnow
    from workers.queues import callback_job_id

    ctx.redis().flushdb()
    now = utcnow() - timedelta(seconds=1)
    rows = make_callbacks(ctx, [now] * m)
    schedule(ctx, rows)  # overdue: straight onto the urgent queue
    ctx.stub.take()
    ctx.workers.start(ctx.env(dial_rate), ctx.tmp, workers, scheduler=True, burst=True,
                      preload=preload, worker_class=worker_class)
    ctx.workers.wait(ctx.args.window)
    window_end = utcnow()
    ctx.workers.stop()
    ours = {cb for cb, _ in rows}
    arrivals = sorted(t for t, cb in ctx.stub.take() if cb in ours)
    if arrivals:
        # Callback jobs keep no result (result_ttl=0): time them by their Calls.json requests.
        done = len(arrivals)
        span = (arrivals[-1] - arrivals[0]) * done / max(done - 1, 1) if done > 1 else 0.0
    else:
        jobs = job_times(ctx, [callback_job_id(Callback(id=cb, due_at=d)) for cb, d in rows])
        done, span = _rate_from_jobs(jobs, window_end)
    note = f"{len(arrivals):,} Calls.json at the stub"
    statuses = callback_statuses(ctx, [cb for cb, _ in rows])
    if statuses.get("scheduled"):
        note += f"; {statuses['scheduled']:,} left undialled when the window closed"
    return Rate(label, workers, m, done, span, note=note, floor_per_s=floor.per_s)


def profile_callbacks(ctx: Ctx, n: int) -> None:
    """``n`` due callbacks placed one after another in this process by the job's function
    (no RQ): per callback, wall time and SQL statements; then cProfile by *wall* time, which
    shows where a job waits (the database's commits, Twilio) as well as what it computes."""
    import cProfile
    import io
    import pstats

    from sqlalchemy import event

    from callcenter.db import get_engine
    from callcenter.models import utcnow
    from workers.callbacks import place_callback

    env = ctx.env(0.0)
    saved = dict(os.environ)
    os.environ.update(env)
    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    engine = get_engine(ctx.settings().database_url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = make_callbacks(ctx, [utcnow() - timedelta(seconds=1)] * (n + 20))
        for callback_id, _ in rows[:20]:  # warm: imports, pools, statement caches
            place_callback(callback_id)
        statements[0] = 0
        half = rows[20:20 + n // 2]
        t0 = time.perf_counter()
        placed = sum(1 for callback_id, _ in half if place_callback(callback_id))
        wall = time.perf_counter() - t0
        print(f"\nin-process: {placed}/{len(half)} placed, {1000 * wall / len(half):.2f} ms "
              f"wall and {statements[0] / len(half):.1f} SQL statements per callback")
        profiler = cProfile.Profile(time.perf_counter)
        profiler.enable()
        for callback_id, _ in rows[20 + n // 2:]:
            place_callback(callback_id)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(
            r"(callcenter|workers)/|commit|_exec_command|Cursor.execute|requests/sessions", 30)
        print(out.getvalue().replace(str(ROOT) + "/", ""))
    finally:
        event.remove(engine, "before_cursor_execute", count)
        os.environ.clear()
        os.environ.update(saved)


# -- 3. the sweep with 100,000 tickets -----------------------------------------------------

def seed_sweep(ctx: Ctx, tickets: int, customers: int) -> dict[str, int]:
    """Bulk rows (Core executemany): customers, tickets, contacts, callbacks."""
    from sqlalchemy import func, insert, select, text

    from callcenter.db import get_engine
    from callcenter.models import Callback, Contact, Customer, Ticket, utcnow
    from callcenter.tickets.numbers import number_for

    engine = get_engine(ctx.settings().database_url)
    rng = random.Random(3)
    now = utcnow()
    counts = {"silent": 0, "silent_with_callback": 0, "scheduled_callbacks": 0}
    with engine.begin() as conn:
        def next_id(model) -> int:  # type: ignore[no-untyped-def]
            return (conn.scalar(select(func.max(model.id))) or 0) + 1

        c0, t0, k0, b0 = next_id(Customer), next_id(Ticket), next_id(Contact), next_id(Callback)
        cust_rows = [dict(id=c0 + i, order_id=f"SW-{i:07d}", name=f"Pelanggan {i}",
                          phone=f"+62813{20000000 + i:08d}", email=None, product="Cankul Tunai",
                          application_status="disbursed", amount_due=1_000_000,
                          due_date=date(2026, 12, 1), va_bank="BCA",
                          va_number=f"{7700000000 + i:010d}", timezone=None,
                          created_at=now, updated_at=now) for i in range(customers)]
        ticket_rows, contact_rows, callback_rows = [], [], []
        k = k0
        for i in range(tickets):
            tid = t0 + i
            r = rng.random()
            status = ("pending_customer" if r < 0.05 else "open" if r < 0.25 else
                      "pending_documents" if r < 0.30 else "resolved")
            opened = now - timedelta(days=rng.uniform(0, 90))
            customer_id = c0 + rng.randrange(customers)
            ticket_rows.append(dict(
                id=tid, number=number_for(tid), customer_id=customer_id, channel="voice",
                status=status, category="inquiry", language="id", reason=None, summary=None,
                opened_at=opened, due_at=opened + timedelta(days=2), updated_at=opened,
                resolved_at=opened + timedelta(hours=3) if status == "resolved" else None))
            contact_rows.append(dict(asks_customer=False,
                id=k, ticket_id=tid, channel="voice", direction="inbound", kind="customer",
                external_id="CA" + uuid.UUID(int=rng.getrandbits(128)).hex, status="completed",
                from_number=None, to_number=HOTLINE, started_at=opened, ended_at=opened,
                duration_s=60, verified=True, menu_path=[], answers=[], ivr_state={},
                queue_state=None))
            k += 1
            if status == "pending_customer":  # our SMS question, unanswered for > 24 h
                sent = now - timedelta(hours=rng.uniform(25, 24 * 10))
                if sent < opened:
                    sent = opened + timedelta(minutes=5)
                    sent = min(sent, now - timedelta(hours=25))
                contact_rows.append(dict(asks_customer=True,
                    id=k, ticket_id=tid, channel="sms", direction="outbound", kind="customer",
                    external_id="SM" + uuid.UUID(int=rng.getrandbits(128)).hex,
                    status="delivered", from_number=HOTLINE, to_number=None, started_at=sent,
                    ended_at=None, duration_s=None, verified=False, menu_path=[], answers=[],
                    ivr_state={}, queue_state=None))
                k += 1
                counts["silent"] += 1
                if rng.random() < 0.10:  # already called back since: left alone
                    callback_rows.append(dict(
                        ticket_id=tid, reason="no_response", status="completed",
                        phone="+6281300000000", due_at=sent + timedelta(hours=24), attempts=1,
                        created_at=sent + timedelta(hours=24), updated_at=now))
                    counts["silent_with_callback"] += 1
            elif status == "resolved" and rng.random() < 0.03:
                callback_rows.append(dict(
                    ticket_id=tid, reason="dropped_call", status=rng.choice(
                        ["completed", "failed", "cancelled"]), phone="+6281300000000",
                    due_at=opened + timedelta(minutes=5), attempts=1, created_at=opened,
                    updated_at=opened))
            elif status == "open" and counts["scheduled_callbacks"] < ctx.args.scheduled:
                callback_rows.append(dict(
                    ticket_id=tid, reason="more_explanation", status="scheduled",
                    phone="+6281300000000",
                    due_at=now + timedelta(hours=rng.uniform(1, 20)), attempts=0,
                    created_at=now, updated_at=now))
                counts["scheduled_callbacks"] += 1
        for i, row in enumerate(callback_rows):
            row.update(id=b0 + i, call_sid=None, dialing_since=None, api_errors=0,
                       last_error=None)
        for model, rows in ((Customer, cust_rows), (Ticket, ticket_rows),
                            (Contact, contact_rows), (Callback, callback_rows)):
            for i in range(0, len(rows), 10_000):
                conn.execute(insert(model), rows[i:i + 10_000])
        if conn.dialect.name == "postgresql":
            for table in ("customers", "tickets", "contacts", "callbacks"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    counts.update(customers=len(cust_rows), tickets=len(ticket_rows),
                  contacts=len(contact_rows), callbacks=len(callback_rows))
    return counts


def explain(ctx: Ctx, stmt) -> str:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from callcenter.db import get_engine

    engine = get_engine(ctx.settings().database_url)
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN ANALYZE " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        rows = conn.execute(text(prefix + sql)).all()
    if engine.dialect.name == "postgresql":
        return "\n".join(r[0] for r in rows)
    return "\n".join(" | ".join(str(c) for c in r) for r in rows)


def sweep_phase(ctx: Ctx) -> tuple[dict[str, int], list[tuple[str, float, str]], str]:
    from callcenter.callbacks import policy as cbs
    from callcenter.db import session_scope
    from workers.callbacks import reconcile
    from workers.sweeps import sweep_no_response, sweep_once

    ctx.redis().flushdb()
    from sqlalchemy import update

    from callcenter.db import get_engine
    from callcenter.models import Callback

    with get_engine(ctx.settings().database_url).begin() as conn:  # earlier phases' leftovers
        conn.execute(update(Callback).where(Callback.status.in_(("scheduled", "dialing")))
                     .values(status="cancelled"))
    t = time.perf_counter()
    counts = seed_sweep(ctx, ctx.args.tickets, ctx.args.customers)
    counts["seed_s"] = round(time.perf_counter() - t, 1)
    settings = ctx.settings()
    steps: list[tuple[str, float, str]] = []

    def timed(name: str, fn, describe) -> None:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        result = fn()
        steps.append((name, time.perf_counter() - t, describe(result)))

    with session_scope(settings.database_url) as session:
        timed("tickets_without_response (query only)",
              lambda: cbs.tickets_without_response(session, settings),
              lambda r: f"{len(r)} tickets (LIMIT 500)")
        session.rollback()
    with session_scope(settings.database_url) as session:
        timed("due_callbacks (reconcile's query)",
              lambda: cbs.due_callbacks(session, datetime.now(UTC) + timedelta(hours=24)),
              lambda r: f"{len(r)} callbacks")
    timed("sweep_no_response", lambda: sweep_no_response(settings),
          lambda r: f"{r} callbacks created and scheduled")
    timed("reconcile", lambda: reconcile(settings), lambda r: str(r))
    timed("sweep_once (no worker running)", lambda: sweep_once(settings),
          lambda r: "dispatch enqueued + reconcile + sweep_no_response")
    plan = ""
    if any(sec > 1.0 for _, sec, _ in steps) or ctx.args.explain:
        with session_scope(settings.database_url) as session:
            from sqlalchemy import and_, exists, func, select

            from callcenter.models import Callback, Contact, Ticket

            # the same statement tickets_without_response builds
            cutoff = datetime.now(UTC) - timedelta(hours=settings.no_response_hours)
            latest = (select(Contact.ticket_id.label("ticket_id"),
                             func.max(Contact.started_at).label("last"))
                      .where(Contact.ticket_id.is_not(None)).group_by(Contact.ticket_id)
                      .subquery())
            stmt = (select(Ticket.id).join(latest, latest.c.ticket_id == Ticket.id)
                    .join(Contact, and_(Contact.ticket_id == Ticket.id,
                                        Contact.started_at == latest.c.last))
                    .where(Ticket.status == "pending_customer", Ticket.customer_id.is_not(None),
                           Contact.direction == "outbound", Contact.asks_customer.is_(True),
                           Contact.channel.in_(cbs.WRITTEN_CHANNELS), latest.c.last < cutoff,
                           ~exists(select(Callback.id).where(
                               Callback.ticket_id == Ticket.id,
                               Callback.created_at >= latest.c.last)))
                    .order_by(latest.c.last).limit(500))
            plan = explain(ctx, stmt)
    return counts, steps, plan


# -- the run -------------------------------------------------------------------------------

def run(ctx: Ctx) -> int:
    from callcenter.migrate import upgrade

    args = ctx.args
    t0 = time.monotonic()
    upgrade(ctx.settings().database_url)
    print(f"database   {args.db}: migrated ({time.monotonic() - t0:.1f} s); Redis "
          f"{args.redis_url} (flushed); Twilio API stub {ctx.stub.url}")
    print("workers    bench/callback_worker.py = rq.SimpleWorker with its scheduler, as the "
          "Procfile's `callcenter worker`")

    lags: list[LagResult] = []
    for preload in (False, True) if args.preload == "both" else (args.preload == "yes",):
        label = "preloaded" if preload else "Procfile"
        label = args.lag_worker_class.rsplit(".", 1)[-1]
        for w in args.lag_workers:
            r = lag_phase(ctx, label, w, preload)
            print(f"lag        {label:<9} {w} worker(s): {r.n - r.not_placed}/{r.n} placed, "
                  f"p50 {pct(r.lags, .5):.3f} s p99 {pct(r.lags, .99):.3f} s "
                  f"[{time.monotonic() - t0:.0f} s]")
            lags.append(r)

    # The Procfile's worker class first (the goal is judged on this pair), then the forking
    # rq.Worker for comparison: it re-imports everything per job (why the Procfile avoids it).
    floor = floor_phase(ctx, args.burst, "rq.SimpleWorker")
    rates = [floor]
    print(f"floor      {floor.done}/{floor.total} empty jobs in {floor.span_s:.1f} s "
          f"[{time.monotonic() - t0:.0f} s]")
    rates.append(throughput_phase(ctx, "callbacks, rq.SimpleWorker as Procfile, no pacing",
                                  args.burst, 1, False, 0, floor, "rq.SimpleWorker"))
    print(f"throughput SimpleWorker: {rates[-1].done} in {rates[-1].span_s:.1f} s "
          f"[{time.monotonic() - t0:.0f} s]")
    if not args.quick:
        forking = floor_phase(ctx, args.burst, "rq.Worker")
        rates.append(forking)
        rates.append(throughput_phase(ctx, "callbacks, rq.Worker (fork per job), no pacing",
                                      args.burst, 1, False, 0, forking))
        print(f"throughput rq.Worker: {rates[-1].done} in {rates[-1].span_s:.1f} s "
              f"[{time.monotonic() - t0:.0f} s]")
    if args.paced:
        rates.append(throughput_phase(ctx, "callbacks, SimpleWorker, CALLBACK_DIAL_RATE=1, 2 w.",
                                      args.paced, 2, True, 1.0, floor, "rq.SimpleWorker"))
        rates[-1].floor_per_s = 0.0  # paced on purpose: no ratio

    if args.profile:
        profile_callbacks(ctx, args.profile)

    sweep = None
    if args.tickets:
        sweep = sweep_phase(ctx)
        print(f"sweep      seeded in {sweep[0]['seed_s']} s [{time.monotonic() - t0:.0f} s]")

    return report(ctx, lags, rates, sweep)


def report(ctx: Ctx, lags: list[LagResult], rates: list[Rate], sweep) -> int:  # type: ignore[no-untyped-def]
    args = ctx.args
    print(f"\n== scheduling lag: due_at → Calls.json at the stub ({args.callbacks} callbacks due "
          f"over {args.spread:.0f} s, CALLBACK_DIAL_RATE=0, db {args.db})")
    head = (f"{'worker setup':<12} {'workers':>7} {'placed':>9} {'p50 s':>7} {'p99 s':>7} "
            f"{'max s':>7} {'min s':>7} {'ran early':>9} {'enq. early':>10}  callback rows")
    print(head)
    print("-" * len(head))
    for r in lags:
        early_enq = sum(1 for x in r.enqueue_lead if x > 0)
        print(f"{r.label:<12} {r.workers:>7} {r.n - r.not_placed:>5}/{r.n:<3} "
              f"{pct(r.lags, .5):>7.3f} {pct(r.lags, .99):>7.3f} {max(r.lags or [math.nan]):>7.3f} "
              f"{min(r.lags or [math.nan]):>7.3f} {r.early_runs:>9} {early_enq:>10}  "
              f"{', '.join(f'{k} {v}' for k, v in sorted(r.statuses.items()))}")
    print("  ran early: the job started before the callback's due_at (claim() then refuses it "
          "and the job ends without dialling)")
    print("  enq. early: RQ's scheduler put the job on the queue before due_at "
          f"(max {max((x for r in lags for x in r.enqueue_lead), default=0):.3f} s early)")

    print(f"\n== throughput: {args.burst} callbacks due now, 1 worker, bounded to "
          f"{args.window:.0f} s (first job start → last job end, from RQ's job records)")
    floor = rates[0]
    head = (f"{'target':<52} {'done':>10} {'secs':>6} {'jobs/s':>7} {'per min/worker':>14} "
            f"{'vs floor':>8}")
    print(head)
    print("-" * len(head))
    for r in rates:
        ratio = r.per_s / r.workers / r.floor_per_s if r.floor_per_s else 0.0
        print(f"{r.label:<52} {r.done:>5}/{r.total:<4} {r.span_s:>6.1f} {r.per_s:>7.1f} "
              f"{r.per_min_worker:>14.0f} {'' if r.floor else f'{ratio:.1%}':>8}"
              f"{'  ' + r.note if r.note else ''}")

    print("\n== goals")
    main_lag = lags[0] if lags else None
    ok = True
    if main_lag:
        p99 = pct(main_lag.lags, .99) if not main_lag.not_placed else math.inf
        good = p99 < GOAL_LAG_P99_S
        ok &= good
        print(f"  p99 scheduling lag ({main_lag.label}, {main_lag.workers} worker)  "
              f"{p99:7.3f} s  goal < {GOAL_LAG_P99_S:.0f} s  {'PASS' if good else 'MISS'}"
              + (f"   ({main_lag.not_placed} of {main_lag.n} never dialled: lag counted as ∞)"
                 if main_lag.not_placed else ""))
    main_rate = rates[1]
    ratio = main_rate.per_s / floor.per_s if floor.per_s else 0.0
    good = ratio >= GOAL_RATIO
    ok &= good
    print(f"  callbacks/floor ({main_rate.label})  {ratio:7.1%}    goal ≥ {GOAL_RATIO:.0%}  "
          f"{'PASS' if good else 'MISS'}")

    if sweep:
        counts, steps, plan = sweep
        print(f"\n== sweep with {counts['tickets']:,} tickets ({counts['customers']:,} customers, "
              f"{counts['contacts']:,} contacts, {counts['callbacks']:,} callbacks of which "
              f"{counts['scheduled_callbacks']} scheduled within 24 h; {counts['silent']:,} "
              f"silent pending_customer tickets, {counts['silent_with_callback']:,} of them "
              f"already called back; seeded in {counts['seed_s']} s), db {args.db}")
        head = f"{'step':<40} {'seconds':>8}  result"
        print(head)
        print("-" * 70)
        for name, sec, result in steps:
            print(f"{name:<40} {sec:>8.3f}  {result}{'   SLOW (> 1 s)' if sec > 1 else ''}")
        if plan:
            print("\nplan of tickets_without_response:\n" + plan)
    errs = ctx.workers.errors()
    if errs:
        print("\nworker log lines mentioning errors:\n" + errs)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-admin-url",
                        default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13",
                        help="flushed before each phase and at the end")
    parser.add_argument("--callbacks", type=int, default=300, help="scheduling-lag callbacks")
    parser.add_argument("--spread", type=float, default=20.0,
                        help="seconds over which their due times are spread")
    parser.add_argument("--lead", type=float, default=3.0,
                        help="seconds from now to the first due time")
    parser.add_argument("--tail", type=float, default=8.0,
                        help="seconds to wait after the last due time")
    parser.add_argument("--lag-workers", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1], help="e.g. 1,2: one lag run per worker count")
    parser.add_argument("--preload", choices=("no", "yes", "both"), default="no",
                        help="lag runs as the Procfile (no), with workers.callbacks "
                             "pre-imported in the worker (yes), or both")
    parser.add_argument("--lag-worker-class", default="rq.SimpleWorker",
                        help="e.g. rq.SimpleWorker (no fork per job) for the lag runs")
    parser.add_argument("--burst", type=int, default=1000, help="throughput: callbacks due now")
    parser.add_argument("--window", type=float, default=15.0,
                        help="throughput: seconds each burst worker may run")
    parser.add_argument("--paced", type=int, default=10,
                        help="callbacks for the CALLBACK_DIAL_RATE=1 run (0: skip)")
    parser.add_argument("--tickets", type=int, default=100_000, help="sweep (0: skip)")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--scheduled", type=int, default=300,
                        help="sweep: scheduled callbacks due within 24 h")
    parser.add_argument("--quick", action="store_true",
                        help="throughput: only the floor and the Procfile worker")
    parser.add_argument("--explain", action="store_true", help="always print the sweep's plan")
    parser.add_argument("--profile", type=int, default=0,
                        help="also place this many callbacks in-process, profiled by wall time")
    parser.add_argument("--travel", choices=("auto", "always", "never"), default="auto",
                        help="time_machine to a Wednesday 10:00 WIB (auto: only when today "
                             "is not a calling day)")
    args = parser.parse_args(argv)

    def _term(signum, frame):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    offset, clock = choose_offset(args.travel)
    print(f"clock      {clock}")
    traveller = None
    if offset:
        import time_machine

        traveller = time_machine.travel(time.time() + offset, tick=True)
        traveller.start()
    tmp = Path(tempfile.mkdtemp(prefix="callback_bench_"))
    stub = TwilioStub().start()
    ctx = None
    try:
        with contextlib.ExitStack() as stack:
            if args.db == "postgresql":
                db_url = stack.enter_context(
                    postgres_database(args.postgres_admin_url, f"bench_cb_{os.getpid()}"))
            else:
                db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
            ctx = Ctx(args, tmp, db_url, stub, offset)
            try:
                return run(ctx)
            finally:
                ctx.workers.stop()
                from callcenter.db import dispose_all

                dispose_all()
    except KeyboardInterrupt:
        print("\ninterrupted: workers stopped, database dropped, Redis db flushed",
              file=sys.stderr)
        return 130
    finally:
        stub.stop()
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)
        if traveller is not None:
            traveller.stop()


if __name__ == "__main__":
    sys.exit(main())
