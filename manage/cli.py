"""The ``callcenter`` command: a thin shell over the domain (like ``rq/cli``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

from callcenter.config import ConfigError, Settings
from callcenter.db import session_scope
from callcenter.logs import configure_logging
from callcenter.migrate import upgrade
from callcenter.models import Agent
from callcenter.people.customer_import import BadFile, import_customers
from callcenter.phones import InvalidPhone, mask_phone, to_e164
from callcenter.voice import agents as agent_registry
from manage import demo


@click.group()
def main() -> None:
    """Call-centre service: run it, import customers, manage agents, try the hotline."""


def production_settings() -> Settings:
    """The settings of a long-running process (worker, scheduler): outside debug, a dev secret
    or a missing ``PUBLIC_BASE_URL`` stops the start with every offending setting named on
    stderr and exit status 1 (CONTRACT "Production settings")."""
    try:
        settings = Settings.from_env()
        settings.check_for_production()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings


@main.command("migrate")
def migrate_command() -> None:
    """Apply database migrations (the Procfile's release step).

    Not checked for production secrets: it needs only ``DATABASE_URL`` (a release phase often
    runs without the runtime's secrets), signs nothing, gives Twilio no URL, and the web,
    worker and scheduler it prepares refuse to start on their own."""
    settings = Settings.from_env()
    upgrade(settings.database_url)
    click.echo("database is at the latest migration")


@main.command("import-customers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_customers_command(path: Path) -> None:
    """Upsert customers from a CSV by order_id; bad rows are listed, good rows kept."""
    settings = Settings.from_env()
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream, session_scope(
            settings.database_url
        ) as session:
            report = import_customers(session, stream)
    except BadFile as exc:
        click.echo(f"{path}: {exc}", err=True)
        sys.exit(2)
    for error in report.errors:
        click.echo(f"{path}: {error}", err=True)
    click.echo(f"imported {report.inserted} new, updated {report.updated}, "
               f"refused {len(report.errors)}")
    if report.errors:
        sys.exit(1)


@main.group("agents")
def agents_group() -> None:
    """Register agents and set who is available for routed calls."""


@agents_group.command("add")
@click.argument("name")
@click.option("--phone", help="agent's phone number (any Indonesian form)")
@click.option("--client", "client_identity", help="Twilio Client identity instead of a phone")
@click.option("--available/--unavailable", default=False)
def agents_add(name: str, phone: str | None, client_identity: str | None,
               available: bool) -> None:
    settings = Settings.from_env()
    try:
        with session_scope(settings.database_url) as session:
            agent = agent_registry.add_agent(session, name, phone=phone,
                                             client_identity=client_identity,
                                             available=available)
            where = mask_phone(agent.phone) if agent.phone else f"client:{client_identity}"
    except (agent_registry.AgentError, InvalidPhone) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"agent {name} added ({where}), {'available' if available else 'unavailable'}")


@agents_group.command("list")
def agents_list() -> None:
    settings = Settings.from_env()
    with session_scope(settings.database_url) as session:
        for agent in session.scalars(select(Agent).order_by(Agent.name)):
            where = mask_phone(agent.phone) if agent.phone else f"client:{agent.client_identity}"
            state = "available" if agent.available else "unavailable"
            busy = " (on a call)" if agent.current_call_sid else ""
            click.echo(f"{agent.name}\t{where}\t{state}{busy}")


def _set_available(name: str, available: bool) -> None:
    from callcenter.audit import command_line_actor

    settings = Settings.from_env()
    try:
        with session_scope(settings.database_url) as session:
            agent_registry.set_available(session, name, available, actor=command_line_actor())
    except agent_registry.AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    if available:
        from workers.queues import enqueue_dispatch_agents

        try:
            enqueue_dispatch_agents(settings)
        except Exception as exc:
            click.echo(f"note: could not trigger routing now ({exc.__class__.__name__})")
    click.echo(f"agent {name} is {'available' if available else 'unavailable'}")


@agents_group.command("available")
@click.argument("name")
def agents_available(name: str) -> None:
    _set_available(name, True)


@agents_group.command("unavailable")
@click.argument("name")
def agents_unavailable(name: str) -> None:
    _set_available(name, False)


@main.group("users")
def users_group() -> None:
    """People using the console and the API (agent, supervisor, qa, admin)."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["agent", "supervisor", "qa", "admin"]),
              required=True)
@click.option("--agent", "agent_name", metavar="AGENT_NAME",
              help="link to this registered agent (callcenter agents add): presence and "
                   "screen pop")
@click.password_option(help="at least 10 characters (asked when omitted)")
def users_add(username: str, role: str, agent_name: str | None, password: str) -> None:
    """Someone new may sign in to the console and the API; with --agent, linked to the agent
    whose calls they take. Nothing is written when the agent is unknown or taken."""
    from callcenter.audit import command_line_actor
    from callcenter.people.admin import add_user, link_agent
    from callcenter.people.users import UserError

    settings = Settings.from_env()
    actor = command_line_actor()
    try:
        with session_scope(settings.database_url) as session:
            if agent_name is not None:
                agent = agent_registry.agent_named(session, agent_name)  # before the user
            user = add_user(session, username, password, role, actor=actor)
            if agent_name is not None:
                link_agent(session, user, agent.id, actor=actor)
    except agent_registry.AgentError as exc:
        raise click.ClickException(f"{exc}: add the agent first (callcenter agents add "
                                   f"NAME --phone …); no user was added") from exc
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    linked = f", linked to agent {agent_name}" if agent_name else ""
    click.echo(f"user {username} added with role {role}{linked}")


@users_group.command("list")
def users_list() -> None:
    """Everyone who may sign in: name, role, active, linked agent, language (no secrets)."""
    from callcenter.models import User

    settings = Settings.from_env()
    with session_scope(settings.database_url) as session:
        agents = {a.id: a.name for a in session.scalars(select(Agent))}
        rows = [(u.username, u.role, "active" if u.active else "deactivated",
                 agents.get(u.agent_id or 0, "-"), u.language or "id")
                for u in session.scalars(select(User).order_by(User.username))]
    click.echo("username\trole\tstate\tagent\tlanguage")
    for row in rows:
        click.echo("\t".join(row))


@users_group.command("deactivate")
@click.argument("username")
def users_deactivate(username: str) -> None:
    """They cannot sign in any more and every open console session of theirs ends now (as the
    People page does); their agent is set away. Refused for the last admin."""
    from datetime import timedelta

    from callcenter.audit import command_line_actor
    from callcenter.models import User
    from callcenter.people.admin import set_active
    from callcenter.people.users import UserError
    from webhooks.console.sessions import ConsoleSessions, SessionStoreDown
    from workers.queues import redis_connection

    settings = Settings.from_env()
    sessions = ConsoleSessions(redis_connection(settings), settings.queue_prefix,
                               timedelta(hours=settings.console_session_hours))
    try:
        with session_scope(settings.database_url) as session:
            user = session.scalars(select(User).where(User.username == username)).first()
            if user is None:
                raise UserError(f"no user named {username!r}")
            changed = set_active(session, user, False, by=None, actor=command_line_actor(),
                                 sessions=sessions)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    except SessionStoreDown as exc:
        raise click.ClickException(f"the console's sessions could not be ended (Redis: {exc}); "
                                   "nothing changed, try again") from exc
    click.echo(f"user {username} deactivated: signed out everywhere" if changed
               else f"user {username} is deactivated already")


@main.group("report")
def report_group() -> None:
    """Regulatory reports."""


@report_group.command("quarterly")
@click.option("--year", type=int, help="default: the last full quarter's")
@click.option("--quarter", type=int, help="1, 2, 3 or 4 (default: the last full quarter)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True, help="folder for the CSV and XLSX")
@click.option("--include-inquiries", is_flag=True,
              help="count questions and information requests as complaints too")
def report_quarterly(year: int | None, quarter: int | None, out_dir: Path,
                     include_inquiries: bool) -> None:
    """Write the quarterly complaint report (pengaduan-YYYY-QN.csv and .xlsx) for OJK; without
    --year and --quarter, for the last quarter that has ended (in the centre's time zone)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from callcenter.compliance.reports import (
        ReportError,
        last_full_quarter,
        quarterly_report,
        write_csv,
        write_xlsx,
    )

    settings = Settings.from_env()
    if (year is None) != (quarter is None):
        raise click.UsageError("give both --year and --quarter, or neither for the last full "
                               "quarter")
    if year is None or quarter is None:
        year, quarter = last_full_quarter(datetime.now(ZoneInfo(settings.timezone)).date())
    try:
        with session_scope(settings.database_url) as session:
            report = quarterly_report(session, settings, year, quarter,
                                      include_inquiries=include_inquiries)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(report, out_dir / f"{report.basename}.csv")
    xlsx_path = write_xlsx(report, out_dir / f"{report.basename}.xlsx")
    total = report.total
    average = "-" if total.average_days is None else f"{total.average_days} hari"
    click.echo(f"{report.lender}: laporan pengaduan {report.period_label}")
    click.echo(f"diterima {total.received}, selesai {total.settled} "
               f"(tepat waktu {total.settled_in_time}, terlambat {total.settled_late}), "
               f"dalam proses {total.in_progress}, rata-rata penyelesaian {average}")
    click.echo(f"batas waktu penyampaian ke OJK: {report.due_label} "
               f"({report.due_date.isoformat()})")
    click.echo(f"ditulis: {csv_path} dan {xlsx_path}")


@main.command("seed-demo")
def seed_demo() -> None:
    """Demo customers (made up), one available demo agent, console users and an approved
    reply template, for the dev run. The users' password is printed: demo only."""
    for line in demo.seed_demo(Settings.from_env().database_url):
        click.echo(line)


@main.command("call")
@click.option("--from", "from_", required=True, help="caller ID, e.g. 0812-3456-7890")
@click.option("--answer", is_flag=True,
              help="instead of calling, wait for the service to call this number back")
@click.option("--simulator", "control_url", default="http://127.0.0.1:8081",
              show_default=True, help="the local Twilio simulator started by `callcenter dev`")
def call(from_: str, answer: bool, control_url: str) -> None:
    """Phone the hotline from this terminal through the local Twilio simulator."""
    from simulator.phone import answer_phone, run_phone

    try:
        caller = to_e164(from_)
    except InvalidPhone as exc:
        raise click.ClickException(f"--from: {exc}") from exc
    if answer:
        answer_phone(control_url, caller)
    else:
        run_phone(control_url, caller)


@main.command("dev")
@click.option("--port", default=5000, show_default=True)
@click.option("--simulator-port", default=8081, show_default=True)
@click.option("--mail-port", default=8025, show_default=True,
              help="the local mail sink that prints outgoing email (unless SMTP_URL is set)")
def dev(port: int, simulator_port: int, mail_port: int) -> None:
    """Run web + worker + scheduler + the Twilio simulator with embedded defaults."""
    from manage.dev import run_dev

    run_dev(port=port, simulator_port=simulator_port, mail_port=mail_port)


@main.command("purge")
def purge_command() -> None:
    """Anonymise personal data past RETENTION_DAYS now (the sweep does it hourly)."""
    from callcenter.compliance.retention import purge

    settings = Settings.from_env()
    with session_scope(settings.database_url) as session:
        result = purge(session, settings)
    click.echo(f"anonymised {result.tickets} tickets and {result.customers} customers "
               f"older than {settings.retention_days} days")


@main.command("worker")
def worker_command() -> None:
    """Run jobs (SMS, email, agent routing, callbacks) with RQ's scheduler, on this
    deployment's queues (CALLCENTER_RQ_PREFIX); the Procfile's worker."""
    from workers.worker import run_worker

    settings = production_settings()
    # phone numbers masked in the worker's lines too
    configure_logging(settings.debug, settings.log_format)
    run_worker(settings)


@main.command("scheduler")
@click.option("--interval", default=10.0, show_default=True)
def scheduler(interval: float) -> None:
    """Periodic sweeps: route queued callers to agents even if a trigger was lost, recreate
    lost callback jobs, owe no-response callbacks, convert overdue oral complaints, resend the
    outbox, settle silent calls, purge, and send the morning digest (each step on its own)."""
    from workers.sweeps import run_forever

    settings = production_settings()
    configure_logging(settings.debug, settings.log_format)
    run_forever(interval, settings)


if __name__ == "__main__":
    main()
