"""``callcenter dev``: the whole service on one machine with no accounts and no set-up.

Web (gunicorn), the worker (``callcenter worker``), the periodic sweeps, the local Twilio
simulator and the mail sink run under :class:`manage.supervisor.Supervisor`, which restarts one
that dies and stops them all on Ctrl-C (piped output too), SIGTERM or a closed terminal; SQLite
and an embedded real Redis are used unless ``DATABASE_URL``/``REDIS_URL`` are set. Demo
customers and one demo agent are seeded.
"""

from __future__ import annotations

import shlex
import signal
import socket
import sys
from pathlib import Path

import click

from callcenter.config import PROJECT_ROOT, Settings, child_environment
from callcenter.migrate import upgrade
from manage import demo
from manage.embedded_redis import EmbeddedRedis
from manage.supervisor import Program, Supervisor


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


def dev_processes(settings: Settings, *, port: int, simulator_port: int,
                  mail_port: int | None) -> dict[str, str]:
    """Each process of the dev run and its command line; the mail sink only with a
    ``mail_port`` (no ``SMTP_URL`` of one's own)."""
    python = shlex.quote(sys.executable)
    processes = {
        "web": f"{shlex.quote(_bin('gunicorn'))} webhooks.wsgi:app "
               f"--config python:webhooks.gunicorn_conf --bind 127.0.0.1:{port} "
               f"--workers 2 --no-control-socket",
        "worker": f"{python} -m manage.cli worker",
        "scheduler": f"{python} -m manage.cli scheduler",
        "twilio": f"{python} -m simulator serve --port {simulator_port} "
                  f"--service-url http://127.0.0.1:{port} --auto-agent-hangup-after 8 "
                  f"--auto-agent {demo.DEMO_AGENT_PHONE} "
                  f"--account-sid {shlex.quote(settings.twilio_account_sid)} "
                  f"--auth-token {shlex.quote(settings.twilio_auth_token)} "
                  f"--hotline {shlex.quote(settings.twilio_phone_number)}",
    }
    if mail_port is not None:
        processes["mail"] = (f"{python} -m aiosmtpd -n -u -l 127.0.0.1:{mail_port} "
                             "-c aiosmtpd.handlers.Debugging stdout")
    return processes


def _interrupt(signum: int, _frame: object) -> None:
    """Before the supervisor takes over, SIGTERM and SIGHUP stop the start-up like Ctrl-C,
    so the embedded Redis is stopped on the way out."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_dev(port: int = 5000, simulator_port: int = 8081, mail_port: int = 8025) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    settings = Settings.from_env()
    # CONTRACT: in dev, outgoing mail goes to a local sink that prints it (no login, no TLS).
    local_mail = settings.smtp_url is None
    # Checked before anything starts: a second run would otherwise take over the first one's
    # embedded Redis socket and leave both broken.
    busy = ports_in_use([port, simulator_port] + ([mail_port] if local_mail else []))
    if busy:
        raise click.ClickException(
            f"port(s) {', '.join(map(str, busy))} already in use on 127.0.0.1: is another "
            "`callcenter dev` running? Stop it, or pick other ports (--port, --simulator-port, "
            "--mail-port).")
    embedded: EmbeddedRedis | None = None
    # The dev run is a debug run, whatever .env says: its processes use the embedded dev
    # secrets, which a production start refuses (callcenter.config.production_problems).
    overrides = {"PYTHONUNBUFFERED": "1", "CALLCENTER_DEBUG": "1"}
    code = 130
    try:
        if settings.redis_url is None:
            embedded = EmbeddedRedis(settings.embedded_redis_socket)
            embedded.start()
            overrides["REDIS_URL"] = embedded.url
            click.echo(f"embedded Redis on {embedded.socket_path}")
        web_url = f"http://127.0.0.1:{port}"
        simulator_url = f"http://127.0.0.1:{simulator_port}"
        env = child_environment({
            "DATABASE_URL": settings.database_url,
            "PUBLIC_BASE_URL": web_url,
            "TWILIO_API_URL": simulator_url,
            "SMTP_URL": f"smtp://127.0.0.1:{mail_port}",
            "EMAIL_WEBHOOK_AUTH": "dev:dev-password",
            # So a newcomer can watch a dropped call come back as a callback at any hour: 30 s
            # after the drop, with the calling window open all day (production: 5 min,
            # 08:00-20:00).
            "CALLBACK_DROPPED_DELAY": "30",
            "CALLING_HOURS": "00:00-23:59",
            # The gunicorn workers' webhook metrics meet in one folder (emptied by gunicorn
            # at start, webhooks.gunicorn_conf).
            "PROMETHEUS_MULTIPROC_DIR": str(settings.instance_dir / "prometheus"),
        }, overrides)
        upgrade(settings.database_url)
        if not demo.has_customers(settings.database_url):
            for line in demo.seed_demo(settings.database_url):
                click.echo(line)
        processes = dev_processes(settings, port=port, simulator_port=simulator_port,
                                  mail_port=mail_port if local_mail else None)
        supervisor = Supervisor([Program(name, cmd, env=env, cwd=str(PROJECT_ROOT))
                                 for name, cmd in processes.items()])
        click.echo(f"\nHotline webhooks on {web_url}; local Twilio on {simulator_url}.\n"
                   "In another terminal:  .venv/bin/callcenter call --from 0812-3456-7890\n"
                   "(Order ID 20261001, Budi Santoso). Ctrl-C stops everything.\n")
        code = supervisor.run()
    except KeyboardInterrupt:
        pass
    finally:
        if embedded is not None:
            embedded.stop()
    sys.exit(code)
