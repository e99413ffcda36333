"""Incoming-call webhook under gunicorn vs. a bare Flask floor, side by side in one run.

    .venv/bin/python bench/webhook_bench.py                    # SQLite, 8 callers
    .venv/bin/python bench/webhook_bench.py --db postgresql    # creates, then drops, bench_<pid>

Both targets run under the same gunicorn command line (workers, worker class, threads) and are
driven one after the other by the same closed-loop client: ``--concurrency`` client processes,
each with one keep-alive connection, sending requests that were built and signed before the
clock starts. Every request is a new call (fresh CallSid). A response counts as an error
unless it is 200 and contains a Gather verb.

Three targets, one round each in turn: ``floor`` (bare Flask), ``greeting`` (the service's
``POST /twilio/voice/incoming``, which must write nothing to the database: checked) and,
informational, ``answer`` (the caller's first answer ``POST /twilio/voice/step?s=1`` with
``Digits=1``, on the same service gunicorn, which inserts exactly one contact per call:
checked).

Goal (issue), for the incoming-call webhook only: greeting throughput ≥ 50 % of the floor's,
and greeting p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import math
import multiprocessing as mp
import os
import pstats
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

PATH = "/twilio/voice/incoming"
ANSWER_PATH = "/twilio/voice/step?s=1"  # the caller's first answer (language choice)
TOKEN = "bench-auth-token"
ACCOUNT_SID = "AC" + "b" * 32
HOTLINE = "+622150001234"
GOAL_RATIO = 0.50
GOAL_P99_MS = 50.0


# -- the client ----------------------------------------------------------------------------

class _Conn:
    """A minimal HTTP/1.1 keep-alive client over a raw socket (cheap on the client's CPU)."""

    def __init__(self, port: int, timeout: float):
        self.port, self.timeout = port, timeout
        self.sock: socket.socket | None = None
        self.reconnects = 0

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reconnects += 1
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, data: bytes) -> tuple[int, bytes]:
        reused = self.sock is not None
        try:
            return self._exchange(data)
        except (ConnectionError, _EmptyReply):
            self.close()
            if not reused:
                raise
            return self._exchange(data)  # the server closed an idle keep-alive: resend once

    def _exchange(self, data: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = self._open()
        sock = self.sock
        sock.sendall(data)
        buf = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                raise _EmptyReply() if not buf else ConnectionError("closed mid-response")
            buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
        head, body = buf[:end], buf[end + 4:]
        lines = head.split(b"\r\n")
        version, status = lines[0].split(b" ", 2)[:2]
        length, close = 0, version == b"HTTP/1.0"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed mid-body")
            body += chunk
        if close:
            self.close()
        return int(status), body


class _EmptyReply(Exception):
    pass


def _client(port: int, requests: list[bytes], barrier, results, timeout: float) -> None:  # type: ignore[no-untyped-def]
    """One simulated caller: send its requests back to back, time each one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    conn = _Conn(port, timeout)
    samples: list[tuple[float, float, bool]] = []
    first_error = ""
    barrier.wait()
    cpu0 = time.process_time()
    for data in requests:
        t0 = time.perf_counter()
        try:
            status, body = conn.exchange(data)
            ok = status == 200 and b"Gather" in body
            if not ok and not first_error:
                first_error = f"HTTP {status}: {body[:200]!r}"
        except Exception as exc:  # a failed request is a result, not a crash
            conn.close()
            ok = False
            first_error = first_error or f"{type(exc).__name__}: {exc}"
        samples.append((t0, time.perf_counter(), ok))
    cpu = time.process_time() - cpu0
    conn.close()
    results.put((samples, cpu, conn.reconnects, first_error))


@dataclass
class RunResult:
    name: str
    requests: int = 0
    errors: int = 0
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    connections: int = 0
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))]  # nearest rank


def merge(runs: list[RunResult]) -> RunResult:
    """Rounds pooled: latencies and counts summed; req/s is the median round's."""
    out = RunResult(runs[0].name)
    for r in runs:
        out.requests += r.requests
        out.errors += r.errors
        out.latencies_ms += r.latencies_ms
        out.client_cpu_s += r.client_cpu_s
        out.server_cpu_s += r.server_cpu_s
        out.connections += r.connections
        out.first_error = out.first_error or r.first_error
    median = sorted(r.rps for r in runs)[len(runs) // 2]
    out.wall_s = out.requests / median if median else 0.0
    return out


def drive(name: str, port: int, requests: list[bytes], concurrency: int, timeout: float,
          server_pids: list[int]) -> RunResult:
    """Closed loop: ``concurrency`` client processes share ``requests`` round-robin."""
    barrier, results, procs = start_clients(
        _client, [(port, requests[i::concurrency]) for i in range(concurrency)], 10.0)
    result = RunResult(name)
    finished = False
    try:
        barrier.wait(timeout=30)
        cpu_before = _cpu_of(server_pids)
        deadline = time.monotonic() + timeout
        collected = []
        while len(collected) < concurrency:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{name}: clients did not finish within {timeout:.0f} s")
            try:
                collected.append(results.get(timeout=min(left, 1.0)))
            except Exception:  # queue.Empty
                if not any(p.is_alive() for p in procs) and results.empty():
                    raise RuntimeError(f"{name}: a client process died") from None
        result.server_cpu_s = _cpu_of(server_pids) - cpu_before
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


def start_clients(target: Callable[..., None], shares: list[tuple[Any, ...]],
                  timeout: float):  # type: ignore[no-untyped-def]
    """One forked client process per share, each called ``target(*share, barrier, results,
    timeout)``; they all start sending when the parent, too, waits on ``barrier``."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(shares) + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*share, barrier, results, timeout), daemon=True)
             for share in shares]
    for p in procs:
        p.start()
    return barrier, results, procs


def _cpu_of(pids: list[int]) -> float:
    """User+system CPU seconds of the gunicorn master and its workers (psutil when present)."""
    try:
        import psutil
    except ImportError:
        return 0.0
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            master = psutil.Process(pid)
            for proc in [master, *master.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = proc.cpu_times()
                    total += t.user + t.system
    return total


# -- requests ------------------------------------------------------------------------------

def _raw_post(port: int, params: dict[str, str], signature: str | None,
              path: str = PATH) -> bytes:
    body = urlencode(params).encode()
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(body)}", "User-Agent: TwilioProxy/1.1"]
    if signature:
        head.append(f"X-Twilio-Signature: {signature}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def incoming_params(call_sid: str, caller: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": call_sid,
            "CallStatus": "ringing", "Direction": "inbound", "From": caller, "Caller": caller,
            "To": HOTLINE, "Called": HOTLINE, "FromCountry": "ID", "ToCountry": "ID"}


def signed_requests(port: int, count: int, phones: list[str], *, sign: bool,
                    path: str = PATH, extra: dict[str, str] | None = None) -> list[bytes]:
    """``count`` requests to ``path``, each a new CallSid from a seeded caller, signed.

    The signature covers ``PUBLIC_BASE_URL + path`` (query string included), as Twilio's.
    """
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    url = f"http://127.0.0.1:{port}{path}"
    rng = random.Random(42)
    out = []
    for _ in range(count):
        params = incoming_params("CA" + uuid.uuid4().hex, rng.choice(phones))
        if extra:
            params.update(extra)
        out.append(_raw_post(port, params, validator.compute_signature(url, params)
                             if sign else None, path))
    return out


# -- databases -----------------------------------------------------------------------------

def seed_phones(n: int) -> list[str]:
    return [f"+62812{10000000 + i:08d}" for i in range(n)]


def prepare_database(url: str, customers: int) -> list[str]:
    from callcenter.db import dispose_all, session_scope
    from callcenter.migrate import upgrade
    from callcenter.models import Customer

    upgrade(url)
    phones = seed_phones(customers)
    today = date.today()
    with session_scope(url) as session:
        session.add_all(Customer(
            order_id=f"BENCH-{i:06d}", name=f"Pelanggan {i}", phone=phone,
            email=f"pelanggan{i}@example.com", product="Cankul Tunai",
            application_status="disbursed", amount_due=1_000_000 + 1_000 * i,
            due_date=today + timedelta(days=i % 30), va_bank="BCA",
            va_number=f"{8800000000 + i:010d}") for i, phone in enumerate(phones))
    dispose_all()
    return phones


def count_contacts(url: str) -> int:
    from sqlalchemy import func, select

    from callcenter.db import dispose_all, session_scope
    from callcenter.models import Contact

    with session_scope(url) as session:
        n = session.scalar(select(func.count()).select_from(Contact)) or 0
    dispose_all()
    return n


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


# -- gunicorn ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    def tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""


def gunicorn_args(args: argparse.Namespace) -> list[str]:
    out = ["--workers", str(args.workers), "--worker-class", args.worker_class,
           "--threads", str(args.threads), "--no-control-socket", "--log-level", "warning",
           "--timeout", "30", "--graceful-timeout", "5"]
    if args.worker_class == "gthread":
        out += ["--keep-alive", "5"]
    return out


def start_server(name: str, app: str, chdir: Path, env: dict[str, str], port: int,
                 args: argparse.Namespace, tmp: Path) -> Server:
    log = tmp / f"{name}.log"
    cmd = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
           "--chdir", str(chdir), *gunicorn_args(args)]
    if args.access_log:
        cmd += ["--access-logfile", str(tmp / f"{name}.access.log")]
    with open(log, "wb") as handle:
        proc = subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return Server(name, port, proc, log)


def wait_ready(server: Server, timeout: float = 30.0) -> None:
    """Until the master answers HTTP (workers finish booting during the warm-up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name}: gunicorn exited\n{server.tail()}")
        with contextlib.suppress(OSError), \
                socket.create_connection(("127.0.0.1", server.port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            if s.recv(16).startswith(b"HTTP/"):
                return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name}: not ready after {timeout:.0f} s\n{server.tail()}")


def stop_server(server: Server) -> None:
    proc = server.proc
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    # Workers are in the master's own session/process group: make sure none outlives it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


# -- the run -------------------------------------------------------------------------------

def service_env(args: argparse.Namespace, db_url: str, port: int, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CALLCENTER_", "TWILIO_", "DATABASE_", "REDIS_"))}
    env.update({
        "HOME": str(tmp),  # belt and braces: nothing of gunicorn's lands in the real ~
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": db_url,
        "REDIS_URL": args.redis_url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "SECRET_KEY": "bench-secret-key",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    })
    return env


def run(args: argparse.Namespace, tmp: Path, db_url: str) -> int:
    from callcenter.config import normalise_database_url

    url = normalise_database_url(db_url)
    t = time.monotonic()
    phones = prepare_database(url, args.customers)
    print(f"database   {args.db}: migrated, {len(phones):,} customers seeded "
          f"({time.monotonic() - t:.1f} s)")

    floor_port, service_port = free_port(), free_port()
    env = service_env(args, db_url, service_port, tmp)
    total = args.warmup + args.rounds * args.requests
    t = time.monotonic()
    work = {
        "floor": signed_requests(floor_port, total, phones, sign=False),
        "greeting": signed_requests(service_port, total, phones, sign=True),
        "answer": signed_requests(service_port, total, phones, sign=True, path=ANSWER_PATH,
                                  extra={"Digits": "1", "CallStatus": "in-progress"}),
    }
    print(f"targets    floor = bare Flask; greeting = POST {PATH}; answer = POST {ANSWER_PATH} "
          f"Digits=1 (informational; same service gunicorn as greeting)")
    print(f"requests   {total:,} per target built and signed before timing "
          f"({time.monotonic() - t:.1f} s); warm-up {args.warmup:,}, then {args.rounds} "
          f"alternating round(s) of {args.requests:,}")
    print(f"gunicorn   {' '.join(gunicorn_args(args))}"
          f"{' --access-logfile <file>' if args.access_log else ''} (same for both)")
    print(f"client     {args.concurrency} processes × 1 keep-alive connection, closed loop, "
          f"{os.cpu_count()} CPUs shared with the server")

    servers = [start_server("floor", "floor_app:app", BENCH, env, floor_port, args, tmp),
               start_server("service", "webhooks.wsgi:app", ROOT, env, service_port, args, tmp)]
    floor_server, service_server = servers
    # target → server; greeting and answer are two endpoints of the same service gunicorn
    targets = {"floor": floor_server, "greeting": service_server, "answer": service_server}
    results: dict[str, list[RunResult]] = {}
    written = dict.fromkeys(targets, 0)  # contact rows inserted while each target ran
    sent = dict.fromkeys(targets, 0)
    try:
        for server in servers:
            wait_ready(server)
        for name, server in targets.items():  # the answer's warm-up comes last: see below
            before = count_contacts(url)
            warm = drive(name, server.port, work[name][:args.warmup],
                         args.concurrency, args.timeout, [server.proc.pid])
            written[name] += count_contacts(url) - before
            sent[name] += warm.requests
            if warm.errors == warm.requests:
                raise RuntimeError(f"{name}: every warm-up request failed: "
                                   f"{warm.first_error}\n{server.tail()}")
        for rnd in range(args.rounds):  # floor, greeting, answer, floor, …: one at a time
            for name, server in targets.items():
                start = args.warmup + rnd * args.requests
                time.sleep(0.3)
                before = count_contacts(url)
                one = drive(name, server.port, work[name][start:start + args.requests],
                            args.concurrency, args.timeout, [server.proc.pid])
                written[name] += count_contacts(url) - before
                sent[name] += one.requests
                print(f"round {rnd + 1}/{args.rounds}  {name:<8} {one.rps:7.0f} req/s  "
                      f"p50 {one.pct(0.5):6.2f} ms  p99 {one.pct(0.99):6.2f} ms  "
                      f"errors {one.errors}")
                results.setdefault(name, []).append(one)
    finally:
        for server in servers:
            stop_server(server)

    merged = {name: merge(runs) for name, runs in results.items()}
    report(args, merged, written, sent)
    for server in servers:
        log = server.tail(10)
        if log.strip():
            print(f"\n{server.name} log (tail):\n{log}")
    if args.profile:
        profile_in_process(env, url, phones, args.profile, service_port)
    floor, service = merged["floor"], merged["greeting"]
    ok = (service.errors == 0 and service.rps >= GOAL_RATIO * floor.rps
          and service.pct(0.99) < GOAL_P99_MS and written["greeting"] == 0)
    return 0 if ok else 1


def report(args: argparse.Namespace, results: dict[str, RunResult], written: dict[str, int],
           sent: dict[str, int]) -> None:
    print()
    header = (f"{'target':<8} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>7} "
              f"{'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'srv CPU ms/req':>14} "
              f"{'cli CPU ms/req':>14} {'conns':>6}")
    print(header)
    print("-" * len(header))
    for r in results.values():
        n = max(r.requests, 1)
        print(f"{r.name:<8} {r.requests:>8,} {r.errors:>6,} {r.rps:>8.0f} {r.pct(0.50):>7.2f} "
              f"{r.pct(0.90):>7.2f} {r.pct(0.99):>7.2f} {max(r.latencies_ms or [0]):>7.2f} "
              f"{1000 * r.server_cpu_s / n:>14.3f} {1000 * r.client_cpu_s / n:>14.3f} "
              f"{r.connections:>6}")
    floor, service, answer = results["floor"], results["greeting"], results["answer"]
    ratio = service.rps / floor.rps if floor.rps else 0.0
    p99 = service.pct(0.99)
    print()
    print("incoming-call webhook (greeting) — the issue's goals:")
    print(f"  throughput greeting/floor {ratio:6.1%}   goal ≥ {GOAL_RATIO:.0%}   "
          f"{'PASS' if ratio >= GOAL_RATIO else 'MISS'}")
    print(f"  greeting p99              {p99:6.2f} ms goal < {GOAL_P99_MS:.0f} ms  "
          f"{'PASS' if p99 < GOAL_P99_MS else 'MISS'}")
    print(f"  greeting errors           {service.errors:6d}      goal 0       "
          f"{'PASS' if service.errors == 0 else 'MISS'}")
    print(f"  contact rows written      {written['greeting']:6,}      goal 0       "
          f"{'PASS' if written['greeting'] == 0 else 'MISS'}   "
          f"({sent['greeting']:,} greetings incl. warm-up)")
    ok_rows = written["answer"] == sent["answer"]
    print("first answer (step?s=1, Digits=1) — informational, no goal:")
    print(f"  throughput answer/floor   {answer.rps / floor.rps if floor.rps else 0:6.1%}   "
          f"p99 {answer.pct(0.99):.2f} ms   errors {answer.errors}")
    print(f"  contact rows written      {written['answer']:6,}      expected {sent['answer']:,} "
          f"(one per call: {'OK' if ok_rows else 'MISMATCH'})")
    for r in (service, answer, floor):
        if r.first_error:
            print(f"first error ({r.name}): {r.first_error}")
    busy = (floor.client_cpu_s / floor.wall_s / (os.cpu_count() or 1)) if floor.wall_s else 0
    print(f"client CPU during the floor run: {busy:.0%} of the machine")


def profile_in_process(env: dict[str, str], url: str, phones: list[str], n: int,
                       port: int) -> None:
    """cProfile of ``n`` incoming calls through Flask's test client (no gunicorn, one process)."""
    from twilio.request_validator import RequestValidator

    from callcenter.config import Settings
    from webhooks.app import create_app

    app = create_app(Settings.from_env(env=env))
    client = app.test_client()
    validator = RequestValidator(TOKEN)
    signed_url = f"http://127.0.0.1:{port}{PATH}"
    batch = []
    for i in range(n + 20):
        params = incoming_params("CA" + uuid.uuid4().hex, phones[i % len(phones)])
        batch.append((params, validator.compute_signature(signed_url, params)))
    for params, sig in batch[:20]:  # warm: engine, content, imports
        client.post(PATH, data=params, headers={"X-Twilio-Signature": sig})
    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.enable()
    for params, sig in batch[20:]:
        client.post(PATH, data=params, headers={"X-Twilio-Signature": sig})
    profiler.disable()
    wall = time.perf_counter() - t
    print(f"\nprofile: {n} incoming calls in-process via the Flask test client: "
          f"{1000 * wall / n:.2f} ms/call (profiler on)")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(25)
    print(out.getvalue())
    from callcenter.db import dispose_all

    dispose_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="where to CREATE/DROP the bench_<pid> database")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                        help="flushed at the end: use a database nothing else uses")
    parser.add_argument("--requests", type=int, default=2000, help="measured, per target")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating floor/service rounds; req/s is the median round")
    parser.add_argument("--warmup", type=int, default=200, help="per target, not measured")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent callers")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both targets)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (both)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--access-log", action="store_true",
                        help="as the Procfile: gunicorn access log (to a file) on both targets")
    parser.add_argument("--timeout", type=float, default=180,
                        help="seconds allowed per measured phase before giving up")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also cProfile N incoming calls in-process and print the top")
    args = parser.parse_args(argv)
    return run_with_database(args, "bench", lambda tmp, db_url, _name: run(args, tmp, db_url))


def run_with_database(args: argparse.Namespace, prefix: str,
                      body: Callable[[Path, str, str | None], int]) -> int:
    """``body(tmp, database_url, postgres_name)`` on a fresh database: a temporary SQLite file
    (``--db sqlite``), or ``<prefix>_<pid>`` created and then dropped on PostgreSQL. Ctrl-C or
    SIGTERM end it cleanly; the temporary folder and Redis db ``args.redis_url`` are cleared
    at the end."""

    def _term(signum, frame):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}_"))
    try:
        with contextlib.ExitStack() as stack:
            if args.db == "postgresql":
                name = f"{prefix}_{os.getpid()}"
                db_url = stack.enter_context(postgres_database(args.postgres_admin_url, name))
                return body(tmp, db_url, name)
            return body(tmp, f"sqlite:///{tmp / 'bench.sqlite3'}", None)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, database dropped", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())
