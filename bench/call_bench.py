"""Whole IVR calls under the Procfile's gunicorn vs. the bare-Flask floor, in one run.

    .venv/bin/python bench/call_bench.py                    # SQLite (temporary file)
    .venv/bin/python bench/call_bench.py --db postgresql    # creates, then drops, bench_call_<pid>
    .venv/bin/python bench/call_bench.py --profile 200      # + cProfile of 200 calls in-process

Each call is replayed as Twilio would send it: a fresh CallSid, form fields and
``X-Twilio-Signature`` as Twilio computes them, every answer posted to the action URL that the
previous TwiML named, in order — incoming, language, Order ID, name confirmation, one answer
from the menu (the bill), the summary/goodbye — then the call's status callback. ``--concurrency``
callers (processes, one connection each) each own a share of the round's calls and take them
through one step at a time: every caller finishes a step for all its calls before any starts
the next, so each step's req/s and latency are measured on their own, like the floor's.

Rounds alternate with ``bench/floor_app.py`` (bare Flask, fixed TwiML) under the same gunicorn
command line — the Procfile's ``web:`` options, read from the Procfile — and through the same
client (it signs each request and reads each response's action, for the floor too).

Checked after every round: each call has exactly one contact, ended ``completed`` with its
ticket resolved; the ticket number it was told (digit by digit) is its ticket's; no 5xx and no
unexpected answer (a 200 apology counts as an error). Goal: every stateful IVR step (language
… summary) at ≥ 20 % of the floor's req/s with p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import re
import shlex
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from html import unescape
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import webhook_bench as wb  # noqa: E402  (its client connection, figures, DB and gunicorn helpers)

ROOT = wb.ROOT
STATUS_PATH = "/twilio/voice/status"  # the number's status callback (README)
# The steps of one call, in order; all but the greeting read or write the database.
STEPS = ("incoming", "language", "order", "name", "answer", "summary", "status")
IVR_STEPS = ("language", "order", "name", "answer", "summary")  # the goal's stateful steps
KEYS = {"language": "1", "name": "1", "answer": "3", "summary": "2"}  # 3: the bill; 2: end
GOAL_RATIO = 0.20
GOAL_P99_MS = 50.0
_ACTION = re.compile(rb'<Gather [^>]*action="([^"]+)"')


@dataclass(frozen=True)
class Call:
    """One caller: a seeded customer's phone, Order ID digits and name, a fresh CallSid."""

    sid: str
    phone: str
    order_digits: str
    name: str


def make_calls(phones: list[str], first: int, count: int) -> list[Call]:
    """Calls from the customers ``first`` … (webhook_bench's seed: BENCH-<i>, Pelanggan <i>)."""
    return [Call("CA" + uuid.uuid4().hex, phones[i % len(phones)], f"{i:06d}", f"Pelanggan {i}")
            for i in range(first, first + count)]


# -- one step of one call: what Twilio sends, what must come back ---------------------------

def step_params(step: str, call: Call) -> dict[str, str]:
    """Twilio's form fields for ``step`` (Gather results carry Digits and FinishedOnKey)."""
    params = wb.incoming_params(call.sid, call.phone)
    if step in ("incoming", "floor"):
        return params
    params["CallStatus"] = "in-progress"
    if step == "status":
        params.update(CallStatus="completed", CallDuration="94", Duration="2",
                      SequenceNumber="0", Timestamp=formatdate(usegmt=True),
                      CallbackSource="call-progress-events")
        return params
    digits = call.order_digits if step == "order" else KEYS[step]
    params.update(Digits=digits, FinishedOnKey="#" if step == "order" else "")
    return params


def _spoken(text: str) -> bytes:
    return escape(text).encode()


def expected_words(step: str, call: Call) -> bytes:
    """A stretch of what the caller must hear after ``step`` (from the content file)."""
    from callcenter.content import Content

    if step == "floor":
        return b"<Gather"
    if step == "status":
        return b""
    key = {"incoming": "greeting", "language": "ask_order", "order": "confirm_name",
           "name": "menu", "answer": "anything_else", "summary": "goodbye"}[step]
    return _spoken(Content.load().text("id", key, name=call.name))


def judge(step: str, expect: bytes, status: int, body: bytes) -> tuple[bool, str | None]:
    """(the answer is right, the action URL it names for the next step)."""
    if step == "status":
        return status == 204, None
    if status != 200 or expect not in body:
        return False, None
    match = _ACTION.search(body)
    if step in ("floor", "summary"):  # the floor's Gather leads nowhere; the goodbye hangs up
        return step == "floor" or (b"<Hangup" in body and match is None), None
    return match is not None, unescape(match.group(1).decode()) if match else None


@dataclass(frozen=True)
class Request:
    """One step of one call, built and signed before the clock starts."""

    step: str
    path: str
    data: bytes
    expect: bytes


class Signer:
    def __init__(self, port: int):
        from twilio.request_validator import RequestValidator

        self.port, self.validator = port, RequestValidator(wb.TOKEN)
        self.base = f"http://127.0.0.1:{port}"  # PUBLIC_BASE_URL: what Twilio signs

    def request(self, step: str, call: Call, path: str) -> Request:
        params = step_params(step, call)
        signature = self.validator.compute_signature(self.base + path, params)
        return Request(step, path, wb._raw_post(self.port, params, signature, path),
                       expected_words(step, call))


def plan(signer: Signer, calls: list[Call], paths: dict[str, str]) -> dict[str, list[Request]]:
    """Per call, its requests in order, to the URLs the service's TwiML named in the warm-up
    (``paths``: step → URL); a caller told another URL signs a request for it there and then."""
    return {call.sid: [signer.request(step, call, path) for step, path in paths.items()]
            for call in calls}


# -- the callers ---------------------------------------------------------------------------

@dataclass
class StepOutcome:
    """One caller's share of one step."""

    samples: list[tuple[float, float, bool, int]] = field(default_factory=list)
    cpu_s: float = 0.0
    connections: int = 0
    first_error: str = ""
    paths: Counter[str] = field(default_factory=Counter)  # the URLs posted to
    resigned: int = 0  # requests signed during the run: the TwiML named an unplanned URL
    summaries: dict[str, bytes] = field(default_factory=dict)  # CallSid → the goodbye TwiML


def _caller(signer: Signer, calls: list[Call], planned: dict[str, list[Request]], barrier,  # type: ignore[no-untyped-def]
            results, timeout: float) -> None:
    """One simulated caller process: for each step, its calls one after another."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    conn = wb._Conn(signer.port, timeout)
    named: dict[str, str | None] = {call.sid: wb.PATH for call in calls}
    for index in range(len(planned[calls[0].sid])):
        out = StepOutcome()
        opened = conn.reconnects
        barrier.wait()
        cpu0 = time.process_time()
        for call in calls:
            request = planned[call.sid][index]
            path = request.path if request.step == "status" else named.pop(call.sid, None)
            if path is None:
                now = time.perf_counter()
                out.samples.append((now, now, False, 0))
                out.first_error = out.first_error or f"{request.step}: no action named before"
                continue
            if path != request.path:
                request = signer.request(request.step, call, path)
                out.resigned += 1
            t0 = time.perf_counter()
            try:
                status, body = conn.exchange(request.data)
            except Exception as exc:  # a failed request is a result, not a crash
                conn.close()
                status, body = 0, f"{type(exc).__name__}: {exc}".encode()
            t1 = time.perf_counter()
            ok, named[call.sid] = judge(request.step, request.expect, status, body)
            out.paths[path] += 1
            if request.step == "summary":
                out.summaries[call.sid] = body
            out.samples.append((t0, t1, ok, status))
            if not ok and not out.first_error:
                out.first_error = f"{request.step} {path}: HTTP {status}: {body[:300]!r}"
        out.cpu_s = time.process_time() - cpu0
        out.connections = conn.reconnects - opened
        results.put(out)
    conn.close()


@dataclass
class StepResult:
    run: wb.RunResult
    server_errors: int = 0  # 5xx
    db_cpu_s: float = 0.0
    resigned: int = 0
    paths: Counter[str] = field(default_factory=Counter)
    summaries: dict[str, bytes] = field(default_factory=dict)


def play(signer: Signer, calls: list[Call], planned: dict[str, list[Request]],
         args: argparse.Namespace, server_pids: list[int], db_pids) -> dict[str, StepResult]:  # type: ignore[no-untyped-def]
    """Take ``calls`` through their planned steps with ``args.concurrency`` callers, one
    step at a time (every caller finishes a step before any starts the next)."""
    n = args.concurrency
    barrier, results, procs = wb.start_clients(
        _caller, [(signer, calls[i::n], planned) for i in range(n)], 10.0)
    steps = [r.step for r in planned[calls[0].sid]]
    out: dict[str, StepResult] = {}
    try:
        for step in steps:
            time.sleep(0.2)
            pids = db_pids()
            cpu_before, db_before = wb._cpu_of(server_pids), wb._cpu_of(pids)
            barrier.wait(timeout=30)
            outcomes = [_collect(results, procs, step, args.timeout) for _ in range(n)]
            res = StepResult(wb.RunResult(step), db_cpu_s=wb._cpu_of(pids) - db_before)
            res.run.server_cpu_s = wb._cpu_of(server_pids) - cpu_before
            _tally(res, outcomes)
            out[step] = res
    finally:  # on an error or Ctrl-C the callers are killed at once
        for p in procs:
            p.join(timeout=5 if len(out) == len(steps) else 0)
            if p.is_alive():
                p.kill()
                p.join()
    return out


def _collect(results, procs, step: str, timeout: float) -> StepOutcome:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{step}: callers did not finish within {timeout:.0f} s")
        with contextlib.suppress(Exception):  # queue.Empty
            return results.get(timeout=min(left, 1.0))
        if not any(p.is_alive() for p in procs) and results.empty():
            raise RuntimeError(f"{step}: a caller process died")


def _tally(res: StepResult, outcomes: list[StepOutcome]) -> None:
    run = res.run
    starts, ends = [], []
    for o in outcomes:
        run.client_cpu_s += o.cpu_s
        run.connections += o.connections
        run.first_error = run.first_error or o.first_error
        res.summaries.update(o.summaries)
        res.paths.update(o.paths)
        res.resigned += o.resigned
        for t0, t1, ok, status in o.samples:
            starts.append(t0)
            ends.append(t1)
            run.requests += 1
            res.server_errors += status >= 500
            if ok:
                run.latencies_ms.append((t1 - t0) * 1000)
            else:
                run.errors += 1
    run.wall_s = max(ends) - min(starts) if starts else 0.0


# -- what the calls left in the database -------------------------------------------------

def check_calls(url: str, calls: list[Call], summaries: dict[str, bytes]) -> Counter[str]:
    """Per call: one contact, completed, its ticket resolved and its number spoken."""
    from sqlalchemy import select

    from callcenter.db import dispose_all, session_scope
    from callcenter.models import Contact, Ticket

    sids = [c.sid for c in calls]
    rows = []
    with session_scope(url) as session:
        for i in range(0, len(sids), 500):
            rows += session.execute(
                select(Contact.external_id, Contact.status, Ticket.number, Ticket.status)
                .outerjoin(Ticket, Contact.ticket_id == Ticket.id)
                .where(Contact.channel == "voice", Contact.external_id.in_(sids[i:i + 500]))
            ).all()
    dispose_all()
    per_call = Counter(row[0] for row in rows)
    tally: Counter[str] = Counter(calls=len(calls))
    tally["one contact"] = sum(per_call[sid] == 1 for sid in sids)
    for sid, contact_status, number, ticket_status in rows:
        tally["completed, ticket resolved"] += (contact_status == "completed"
                                                and ticket_status == "resolved")
        spoken = number is not None and " ".join(number).encode() in summaries.get(sid, b"")
        tally["its ticket number spoken"] += spoken
    return tally


def count_rows(url: str) -> tuple[int, int]:
    from sqlalchemy import func, select

    from callcenter.db import dispose_all, session_scope
    from callcenter.models import Contact, Ticket

    with session_scope(url) as session:
        counts = (session.scalar(select(func.count()).select_from(Contact)) or 0,
                  session.scalar(select(func.count()).select_from(Ticket)) or 0)
    dispose_all()
    return counts


def postgres_backends(admin_url: str, name: str):  # type: ignore[no-untyped-def]
    """A function listing the server processes connected to database ``name`` (their CPU is
    the database's share of a step); for SQLite the database works inside gunicorn."""
    import psycopg

    def pids() -> list[int]:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            return [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()", (name,))]

    return pids


# -- gunicorn as the Procfile runs it ------------------------------------------------------

def procfile_web_options(workers: int) -> list[str]:
    """The options of the Procfile's ``web:`` line after the app, without ``--bind``;
    ``${VAR:-default}`` expanded (WEB_CONCURRENCY from ``--workers``)."""
    line = next(ln for ln in (ROOT / "Procfile").read_text().splitlines()
                if ln.startswith("web:"))
    values = {"WEB_CONCURRENCY": str(workers)}
    line = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m[1], m[2]), line)
    words = shlex.split(line.split(":", 1)[1])
    options = words[words.index("webhooks.wsgi:app") + 1:]
    if "--bind" in options:
        at = options.index("--bind")
        del options[at:at + 2]
    return options


def start(name: str, app: str, chdir: Path, env: dict[str, str], port: int, options: list[str],
          tmp: Path) -> wb.Server:
    """gunicorn with the Procfile's options; its stdout (the access log: ``-``) to a file."""
    import subprocess

    log = tmp / f"{name}.log"
    cmd = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
           "--chdir", str(chdir), *options]
    with open(log, "wb") as handle:
        proc = subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return wb.Server(name, port, proc, log)


def problems_in_log(server: wb.Server) -> list[str]:
    text = server.log.read_text(errors="replace") if server.log.exists() else ""
    return [ln for ln in text.splitlines()
            if " ERROR " in ln or "Traceback" in ln or "[CRITICAL]" in ln][:5]


# -- the run -------------------------------------------------------------------------------

def run(args: argparse.Namespace, tmp: Path, db_url: str, db_pids) -> int:  # type: ignore[no-untyped-def]
    from callcenter.config import normalise_database_url

    url = normalise_database_url(db_url)
    measured = args.rounds * args.calls
    needed = args.warmup + measured + args.profile
    t = time.monotonic()
    phones = wb.prepare_database(url, max(args.customers, needed))
    print(f"database   {args.db}: migrated, {len(phones):,} customers seeded "
          f"({time.monotonic() - t:.1f} s); every call from a customer of its own")

    floor_port, service_port = wb.free_port(), wb.free_port()
    env = wb.service_env(args, db_url, service_port, tmp)
    options = procfile_web_options(args.workers)
    print(f"gunicorn   {' '.join(options)}  (the Procfile's web: options, both targets; "
          f"access log to a file)")
    print(f"calls      {' → '.join(STEPS)}; {args.concurrency} callers, step by step; "
          f"warm-up {args.warmup} calls, then {args.rounds} round(s) of {args.calls} calls, "
          f"each after a floor run of {args.floor_requests} requests")
    servers = [start("floor", "floor_app:app", BENCH, env, floor_port, options, tmp),
               start("service", "webhooks.wsgi:app", ROOT, env, service_port, options, tmp)]
    floor_server, service_server = servers
    results: dict[str, list[wb.RunResult]] = {}
    extra: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    rows_before = count_rows(url)

    floor_signer, service_signer = Signer(floor_port), Signer(service_port)
    # Until the warm-up has shown which URL each step's TwiML names, callers sign as they go.
    paths = {step: wb.PATH if step == "incoming" else STATUS_PATH if step == "status" else ""
             for step in STEPS}

    def floor_run() -> wb.RunResult:
        calls = make_calls(phones, 0, args.floor_requests)  # the floor reads no database
        planned = plan(floor_signer, calls, {"floor": wb.PATH})
        return play(floor_signer, calls, planned, args, [floor_server.proc.pid],
                    list)["floor"].run

    def calls_run(first: int, count: int) -> dict[str, StepResult]:
        calls = make_calls(phones, first, count)
        planned = plan(service_signer, calls, paths)
        steps = play(service_signer, calls, planned, args, [service_server.proc.pid], db_pids)
        checks.update(check_calls(url, calls, steps["summary"].summaries))
        return steps

    try:
        for server in servers:
            wb.wait_ready(server)
        floor_run()
        warm = calls_run(0, args.warmup)
        if all(r.run.errors == r.run.requests for r in warm.values()):
            raise RuntimeError(f"every warm-up request failed: {warm['incoming'].run.first_error}"
                               f"\n{service_server.tail()}")
        paths.update({step: res.paths.most_common(1)[0][0] for step, res in warm.items()
                      if res.paths})
        print(f"urls       {' → '.join(paths.values())} (named by the warm-up's TwiML)")
        for rnd in range(args.rounds):
            floor = floor_run()
            results.setdefault("floor", []).append(floor)
            steps = calls_run(args.warmup + rnd * args.calls, args.calls)
            line = [f"floor {floor.rps:5.0f}"]
            for name, res in steps.items():
                results.setdefault(name, []).append(res.run)
                extra[f"{name} 5xx"] += res.server_errors
                extra[f"{name} db"] += res.db_cpu_s
                extra["resigned"] += res.resigned
                line.append(f"{name} {res.run.rps:4.0f}/{res.run.pct(0.99):.0f}")
            print(f"round {rnd + 1}/{args.rounds}  req/s (/p99 ms): {'  '.join(line)}")
    finally:
        for server in servers:
            wb.stop_server(server)

    contacts, tickets = (a - b for a, b in zip(count_rows(url), rows_before, strict=True))
    merged = {name: wb.merge(runs) for name, runs in results.items()}
    ok = report(merged, extra, checks, args.warmup + measured, contacts, tickets)
    for server in servers:
        for line in problems_in_log(server):
            print(f"{server.name} log: {line}")
    if args.profile:
        profile_calls(env, url, make_calls(phones, args.warmup + measured, args.profile),
                      service_port, args.profile_step)
    return 0 if ok else 1


def report(results: dict[str, wb.RunResult], extra: Counter[str], checks: Counter[str],
           calls: int, contacts: int, tickets: int) -> bool:
    floor = results["floor"]
    header = (f"{'step':<9} {'requests':>8} {'errors':>6} {'5xx':>4} {'req/s':>7} "
              f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'/floor':>7} "
              f"{'srv CPU':>8} {'db CPU':>7} {'cli CPU':>8}")
    print(f"\n{header}\n{'-' * len(header)}")
    for name, r in results.items():
        n = max(r.requests, 1)
        ratio = f"{r.rps / floor.rps:7.1%}" if name != "floor" and floor.rps else "      -"
        db = f"{1000 * extra[f'{name} db'] / n:7.3f}" if name != "floor" else "      -"
        print(f"{name:<9} {r.requests:>8,} {r.errors:>6,} {extra[f'{name} 5xx']:>4} "
              f"{r.rps:>7.0f} {r.pct(0.50):>7.2f} {r.pct(0.90):>7.2f} {r.pct(0.99):>7.2f} "
              f"{max(r.latencies_ms or [0]):>7.2f} {ratio} {1000 * r.server_cpu_s / n:>8.3f} "
              f"{db} {1000 * r.client_cpu_s / n:>8.3f}")
    print("(CPU columns: ms per request; req/s the median round, latencies pooled; db CPU: "
          "PostgreSQL's backends, 0 on SQLite where gunicorn does the database's work)")
    stateful = [results[s] for s in IVR_STEPS]
    together = len(stateful) / sum(1 / r.rps for r in stateful if r.rps) if floor.rps else 0
    print(f"\nstateful IVR steps ({', '.join(IVR_STEPS)}), the goal: each ≥ {GOAL_RATIO:.0%} "
          f"of the floor, p99 < {GOAL_P99_MS:.0f} ms")
    all_ok = True
    for r in stateful:
        good = r.rps >= GOAL_RATIO * floor.rps and r.pct(0.99) < GOAL_P99_MS
        all_ok &= good
        print(f"  {r.name:<9} {r.rps / floor.rps:6.1%} of the floor   p99 {r.pct(0.99):6.2f} ms"
              f"   {'PASS' if good else 'MISS'}")
    print(f"  together  {together / floor.rps:6.1%} of the floor (a call's five steps back to "
          f"back); greeting {results['incoming'].rps / floor.rps:.1%}; status callback "
          f"{results['status'].rps / floor.rps:.1%}")
    print(f"\ncorrectness ({calls:,} calls incl. warm-up):")

    def check(label: str, got: int, expected: int) -> None:
        nonlocal all_ok
        all_ok &= got == expected
        print(f"  {label:<44} {got:>7,}  expected {expected:>7,}  "
              f"{'OK' if got == expected else 'MISMATCH'}")

    check("calls with exactly one contact", checks["one contact"], calls)
    check("calls completed, ticket resolved", checks["completed, ticket resolved"], calls)
    check("calls told their own ticket number", checks["its ticket number spoken"], calls)
    check("contact rows written (one per call)", contacts, calls)
    check("tickets opened (one per call)", tickets, calls)
    check("unexpected answers (errors) in all steps",
          sum(r.errors for n, r in results.items() if n != "floor"), 0)
    check("5xx", sum(v for k, v in extra.items() if k.endswith("5xx")), 0)
    print(f"  requests to a URL the warm-up had not named (signed on the spot): "
          f"{int(extra['resigned']):,}")
    for r in results.values():
        if r.first_error:
            print(f"first error ({r.name}): {r.first_error}")
    return all_ok


def profile_calls(env: dict[str, str], url: str, calls: list[Call], port: int,
                  only: str | None = None) -> None:
    """Whole calls through Flask's test client in this process (no gunicorn, no client
    processes): per step, CPU ms and SQL statements; then cProfile (CPU time) of the
    stateful steps, the greeting left out."""
    from sqlalchemy import event

    from callcenter.config import Settings
    from callcenter.db import dispose_all, get_engine
    from webhooks.app import create_app

    client = create_app(Settings.from_env(env=env)).test_client()
    signer = Signer(port)
    cpu: Counter[str] = Counter()
    statements: Counter[str] = Counter()
    current = [""]

    shown: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements[current[0]] += 1
        if len(shown) < 40 and current[0] != "incoming":
            shown.append(f"  {current[0]:8} {' '.join(sql.split())[:150]}")

    event.listen(get_engine(url), "before_cursor_execute", count)

    def one_call(call: Call, profiler: cProfile.Profile | None) -> None:
        path: str | None = wb.PATH
        for step in STEPS:
            params = step_params(step, call)
            path = STATUS_PATH if step == "status" else path
            assert path is not None
            headers = {"X-Twilio-Signature": signer.validator.compute_signature(
                signer.base + path, params)}
            on = profiler is not None and step != "incoming" and (
                only in (None, step))
            current[0] = step
            t0 = time.process_time()
            if on:
                profiler.enable()
            response = client.post(path, data=params, headers=headers)
            if on:
                profiler.disable()
            cpu[step] += time.process_time() - t0
            ok, path = judge(step, expected_words(step, call), response.status_code,
                             response.data)
            if not ok:
                raise RuntimeError(f"profile: {step} failed: {response.data[:300]!r}")

    half = len(calls) // 2
    for call in calls[:10]:
        one_call(call, None)  # warm: engine, statement caches, imports
    shown.clear()
    one_call(calls[10], None)
    print("\nthe SQL of one call, by step:\n" + "\n".join(shown))
    cpu.clear()
    statements.clear()
    for call in calls[11:half]:
        one_call(call, None)
    n = max(1, half - 11)
    print(f"\nin-process ({url.split(':')[0]}, Flask test client, {n} calls, no profiler): "
          f"per step")
    print("  " + "  ".join(f"{s} {1000 * cpu[s] / n:.2f} ms/{statements[s] / n:.0f} SQL"
                           for s in STEPS))
    profiler = cProfile.Profile(time.process_time)
    for call in calls[half:]:
        one_call(call, profiler)
    print(f"cProfile, CPU time, {len(calls) - half} calls' stateful steps (the profiler "
          f"inflates call-heavy code):")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/(callcenter|webhooks)/", 30)
    stats.sort_stats("tottime").print_stats(25)
    print(re.sub(r"\S*/site-packages/|" + re.escape(str(ROOT)) + "/", "", out.getvalue()))
    event.remove(get_engine(url), "before_cursor_execute", count)
    dispose_all()


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--db", choices=("sqlite", "postgresql"), default="sqlite")
    add("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="where to CREATE/DROP the bench_call_<pid> database")
    add("--redis-url", default="redis://127.0.0.1:6379/10",
        help="must be empty; flushed at the end (nothing is enqueued on this call path)")
    for flag, default, text in (
            ("--calls", 600, "measured calls per round"),
            ("--rounds", 3, "alternating floor/calls rounds; req/s is the median round"),
            ("--warmup", 100, "calls before measuring (and one floor run)"),
            ("--floor-requests", 2000, "floor requests per round"),
            ("--concurrency", 8, "concurrent callers"),
            ("--workers", 2, "gunicorn workers: the Procfile's ${WEB_CONCURRENCY}"),
            ("--customers", 1000, "seeded customers (at least one per call)"),
            ("--profile", 0, "also cProfile this many whole calls in-process")):
        add(flag, type=int, default=default, help=text)
    add("--profile-step", choices=IVR_STEPS, default=None,
        help="cProfile only this step (default: every stateful step)")
    add("--timeout", type=float, default=180, help="seconds allowed per step before giving up")
    args = parser.parse_args(argv)
    if min(args.calls, args.rounds, args.warmup, args.concurrency, args.floor_requests) < 1:
        parser.error("--calls, --rounds, --warmup, --concurrency, --floor-requests must be ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    import redis

    args = arguments(argv)
    if redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).dbsize():
        print(f"refusing: {args.redis_url} is not empty (it is flushed at the end)",
              file=sys.stderr)
        return 2

    def body(tmp: Path, db_url: str, name: str | None) -> int:
        backends = postgres_backends(args.postgres_admin_url, name) if name else list
        return run(args, tmp, db_url, backends)

    return wb.run_with_database(args, "bench_call", body)

if __name__ == "__main__":
    sys.exit(main())
