"""``callcenter dev``: the whole service on one machine with no accounts and no set-up.

Web (gunicorn), an RQ worker with its scheduler, the periodic sweeps and the local Twilio
simulator run under honcho; SQLite and an embedded real Redis are used unless
``DATABASE_URL``/``REDIS_URL`` are set. Demo customers and one demo agent are seeded.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
from pathlib import Path

import click
from honcho.manager import Manager
from honcho.printer import Printer

from callcenter.config import PROJECT_ROOT, Settings, embedded_redis_socket
from callcenter.migrate import upgrade
from manage.demo import DEMO_AGENT_PHONE
from manage.embedded_redis import EmbeddedRedis


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def ports_in_use(ports: list[int]) -> list[int]:
    """Ports something already answers on (another dev run, most likely)."""
    busy = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


def run_dev(port: int = 5000, simulator_port: int = 8081, mail_port: int = 8025) -> None:
    settings = Settings.from_env()
    # Checked before anything starts: a second run would otherwise take over the first one's
    # embedded Redis socket and leave both broken.
    busy = ports_in_use([port, simulator_port] + ([mail_port] if "SMTP_URL" not in os.environ
                                                  else []))
    if busy:
        raise click.ClickException(
            f"port(s) {', '.join(map(str, busy))} already in use on 127.0.0.1: is another "
            "`callcenter dev` running? Stop it, or pick other ports (--port, --simulator-port, "
            "--mail-port).")
    embedded: EmbeddedRedis | None = None
    env = dict(os.environ)
    if settings.redis_url is None:
        embedded = EmbeddedRedis(embedded_redis_socket())
        embedded.start()
        env["REDIS_URL"] = embedded.url
        click.echo(f"embedded Redis on {embedded.socket_path}")
    web_url = f"http://127.0.0.1:{port}"
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    env.setdefault("DATABASE_URL", settings.database_url)
    env.setdefault("PUBLIC_BASE_URL", web_url)
    env.setdefault("TWILIO_API_URL", simulator_url)
    env.setdefault("CALLCENTER_DEBUG", "1")
    # CONTRACT: in dev, outgoing mail goes to a local sink that prints it (no login, no TLS).
    local_mail = "SMTP_URL" not in env
    env.setdefault("SMTP_URL", f"smtp://127.0.0.1:{mail_port}")
    env.setdefault("EMAIL_WEBHOOK_AUTH", "dev:dev-password")
    # So a newcomer can watch a dropped call come back as a callback at any hour: 30 s after
    # the drop, with the calling window open all day (production: 5 min, 08:00-20:00).
    env.setdefault("CALLBACK_DROPPED_DELAY", "30")
    env.setdefault("CALLING_HOURS", "00:00-23:59")
    env["PYTHONUNBUFFERED"] = "1"
    try:
        upgrade(env["DATABASE_URL"])
        _seed(env)
        manager = Manager(Printer(sys.stdout))
        python = shlex.quote(sys.executable)
        processes = {
            "web": f"{shlex.quote(_bin('gunicorn'))} webhooks.wsgi:app --bind 127.0.0.1:{port} "
                   f"--workers 2 --no-control-socket",
            "worker": f"{shlex.quote(_bin('rq'))} worker --with-scheduler "
                      f"--worker-class rq.SimpleWorker "
                      f"--url {shlex.quote(env['REDIS_URL'])} urgent default",
            "scheduler": f"{python} -m manage.cli scheduler",
            "twilio": f"{python} -m simulator serve --port {simulator_port} "
                      f"--service-url {web_url} --auto-agent-hangup-after 8 "
                      f"--auto-agent {DEMO_AGENT_PHONE} "
                      f"--account-sid {shlex.quote(settings.twilio_account_sid)} "
                      f"--auth-token {shlex.quote(settings.twilio_auth_token)} "
                      f"--hotline {shlex.quote(settings.twilio_phone_number)}",
        }
        if local_mail:
            processes["mail"] = (f"{python} -m aiosmtpd -n -u -l 127.0.0.1:{mail_port} "
                                 "-c aiosmtpd.handlers.Debugging stdout")
        for name, cmd in processes.items():
            manager.add_process(name, cmd, env=env, cwd=str(PROJECT_ROOT))
        click.echo(f"\nHotline webhooks on {web_url}; local Twilio on {simulator_url}.\n"
                   "In another terminal:  .venv/bin/callcenter call --from 0812-3456-7890\n"
                   "(Order ID 20261001, Budi Santoso). Ctrl-C stops everything.\n")
        # A closed terminal sends SIGHUP, which honcho does not handle: stop everything then
        # too, rather than leave gunicorn, the worker and Redis running orphaned.
        signal.signal(signal.SIGHUP, lambda *_: manager.terminate())
        try:
            manager.loop()
        except BaseException:
            manager.kill()  # e.g. a broken stdout pipe: never leave the children orphaned
            raise
        code = manager.returncode or 0
    finally:
        if embedded is not None:
            embedded.stop()
    sys.exit(code)


def _seed(env: dict[str, str]) -> None:
    """Demo data once, through the same code as the CLI."""
    from sqlalchemy import select

    from callcenter.db import session_scope
    from callcenter.models import Customer

    with session_scope(env["DATABASE_URL"]) as session:
        if session.scalars(select(Customer.id).limit(1)).first() is not None:
            return
    from click.testing import CliRunner

    from manage.cli import main

    result = CliRunner().invoke(main, ["seed-demo"], env=env)
    click.echo(result.output.strip())
