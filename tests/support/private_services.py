"""Servers of a fault test's own, so that an outage it causes hurts nobody else.

The suite shares the machine's Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432) across
runs; a fault test must never stop those. It starts its own instead, on a free port, and
stops and restarts only these:

- Private Redis servers are :mod:`tests.support.private_redis`'s.
- :class:`PrivatePostgres`: ``initdb`` into a temporary folder and ``pg_ctl start`` on a free
  port with its socket in that folder (as the ``postgres`` user when the tests run as root,
  which ``initdb`` refuses).
- :class:`AppProcess`: the service under gunicorn, :class:`ServiceProcess` ``callcenter
  worker`` or ``scheduler``: the Procfile's processes against those servers, each writing
  its output to a log in the test's own folder (``tmp_path``, kept by pytest for a look
  after a failure). Their environment comes from
  :func:`tests.support.production.production_environment` (a production start).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import requests

from callcenter.config import PROJECT_ROOT
from tests.support.production import production_environment
from tests.support.smtp import free_port


def _wait(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Until ``check`` answers; a ``RuntimeError`` from it (the process is gone) ends the wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except RuntimeError:
            raise
        except Exception:  # not up yet
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up within {timeout}s")


def _stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop one process this module started (its own session: its children too)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return on_path


def postgres_installed() -> bool:
    try:
        _pg_bin("initdb")
        _pg_bin("pg_ctl")
    except RuntimeError:
        return False
    return True


class PrivatePostgres:
    """A PostgreSQL cluster of this test only, in a temporary folder, on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="cc-pg-"))
        self.data = self.folder / "data"
        self.url = (f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres")
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)

    def init(self) -> PrivatePostgres:
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8")
        return self.start()

    def start(self) -> PrivatePostgres:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=60")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-w",
                  "-l", str(self.folder / "log"), "start")
        _wait(self.accepting, "private PostgreSQL")
        return self

    def accepting(self) -> bool:
        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                                 connect_timeout=1):
                return True
        except psycopg.Error:
            return False

    def stop(self) -> None:
        """Down at once, every session cut (``-m immediate``: a crash, as an outage is)."""
        if self.data.exists():
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def service_environment(**values: str) -> dict[str, str]:
    """The environment of a service process: the test's, as a production start has it
    (:func:`tests.support.production.production_environment`), with ``values`` on top."""
    return production_environment(**values)


class AppProcess:
    """The Procfile's ``web:``: the service under gunicorn on a free port."""

    def __init__(self, env: dict[str, str], logs: Path, port: int | None = None,
                 workers: int = 2) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PUBLIC_BASE_URL": self.url}
        self.workers = workers
        self.log = logs / "web.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> AppProcess:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [gunicorn, "webhooks.wsgi:app", "--config", "python:webhooks.gunicorn_conf",
                 "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                 "--threads", "4", "--no-control-socket", "--timeout", "60"],
                cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        _wait(self._answering, "gunicorn")
        return self

    def _answering(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {self.log.read_text(errors='replace')}")
        return requests.get(self.url + "/", timeout=1).status_code < 500

    def stop(self) -> None:
        if self._process is not None:
            _stop_process(self._process)
            self._process = None


class ServiceProcess:
    """Another of the Procfile's processes: ``callcenter worker``, ``callcenter scheduler``;
    or, with ``python=True``, ``python -m <module> …`` (the worker at a moved clock)."""

    def __init__(self, env: dict[str, str], logs: Path, *command: str,
                 python: bool = False) -> None:
        self.env = env
        self.command = command
        self.python = python
        name = (command[1] if python else command[0]).rsplit(".", 1)[-1]
        self.log = logs / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        executable = sys.executable if self.python else str(
            Path(sys.executable).parent / "callcenter")
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [executable, *self.command], cwd=PROJECT_ROOT, env=self.env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a lost machine would."""
        if self._process is not None:
            _stop_process(self._process, signal.SIGKILL)
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            _stop_process(self._process)
            self._process = None
