"""The operators' command line for people (issue 13 item 9): ``callcenter users add --agent``,
``users list``, ``users deactivate`` (the People page's actions, audited as ``cli:<account>``),
and ``report quarterly`` for the last full quarter by default."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from callcenter.models import Agent, AuditEntry, User
from callcenter.people import users
from callcenter.voice import agents
from manage.cli import main
from tests.console.conftest import console  # noqa: F401 (fixture)

PASSWORD = "long enough password"


def _run(env, *args: str):
    return CliRunner().invoke(main, list(args), env=env)


def test_a_user_added_with_an_agent_is_linked_to_it_and_audited(env, session):
    agents.add_agent(session, "Sari", phone="0811-0000-001")
    session.commit()
    done = _run(env, "users", "add", "sari", "--role", "agent", "--agent", "Sari",
                "--password", PASSWORD)
    assert done.exit_code == 0, done.output
    assert "linked to agent Sari" in done.output
    session.expire_all()
    user = session.scalars(select(User)).one()
    agent = session.scalars(select(Agent)).one()
    assert user.agent_id == agent.id
    trail = [(e.action, e.subject, e.detail) for e in
             session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert trail == [("create_user", "user:sari", "role agent"),
                     ("link_agent", "user:sari", f"agent:{agent.id}")]
    assert all(e.actor.startswith("cli:") for e in session.scalars(select(AuditEntry)))


def test_an_unknown_or_taken_agent_is_refused_and_no_user_is_added(env, session):
    unknown = _run(env, "users", "add", "sari", "--role", "agent", "--agent", "Nobody",
                   "--password", PASSWORD)
    assert unknown.exit_code != 0
    assert "no agent named 'Nobody'" in unknown.output and "agents add" in unknown.output
    agents.add_agent(session, "Sari", phone="0811-0000-001")
    session.commit()
    assert _run(env, "users", "add", "sari", "--role", "agent", "--agent", "Sari",
                "--password", PASSWORD).exit_code == 0
    taken = _run(env, "users", "add", "tono", "--role", "agent", "--agent", "Sari",
                 "--password", PASSWORD)
    assert taken.exit_code != 0 and "linked to sari already" in taken.output
    session.expire_all()
    assert [u.username for u in session.scalars(select(User))] == ["sari"]


def test_the_list_shows_role_state_agent_and_language_but_no_password(env, session):
    agent = agents.add_agent(session, "Sari", phone="0811-0000-001")
    sari = users.create_user(session, "sari", PASSWORD, "agent")
    sari.agent_id = agent.id
    dewi = users.create_user(session, "dewi", PASSWORD, "supervisor")
    users.set_language(dewi, "en")
    users.create_user(session, "adi", PASSWORD, "admin").active = False
    session.commit()
    listed = _run(env, "users", "list")
    assert listed.exit_code == 0, listed.output
    lines = [line.split("\t") for line in listed.output.splitlines()]
    assert lines == [["username", "role", "state", "agent", "language"],
                     ["adi", "admin", "deactivated", "-", "id"],
                     ["dewi", "supervisor", "active", "-", "en"],
                     ["sari", "agent", "active", "Sari", "id"]]
    assert sari.password_hash not in listed.output and "pbkdf2" not in listed.output
    assert "scrypt" not in listed.output


def test_deactivating_signs_the_person_out_of_an_open_console(env, session, console):  # noqa: F811
    browser = console.signed_in("sari", "agent")
    assert browser.get("/console/tickets").status_code == 200
    done = _run(env, "users", "deactivate", "sari")
    assert done.exit_code == 0, done.output
    assert "signed out everywhere" in done.output
    after = browser.get("/console/tickets")
    assert after.status_code == 302 and "/console/login" in after.headers["Location"]
    session.expire_all()
    assert session.scalars(select(User)).one().active is False
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "deactivate_user")).one()
    assert entry.subject == "user:sari" and entry.actor.startswith("cli:")
    again = _run(env, "users", "deactivate", "sari")
    assert again.exit_code == 0 and "deactivated already" in again.output
    # The session itself was ended, not only refused while inactive: reactivated, the old
    # cookie still opens nothing.
    session.scalars(select(User)).one().active = True
    session.commit()
    assert browser.get("/console/tickets").status_code == 302


def test_deactivating_an_unknown_user_or_the_last_admin_is_refused(env, session):
    users.create_user(session, "adi", PASSWORD, "admin")
    session.commit()
    unknown = _run(env, "users", "deactivate", "nobody")
    assert unknown.exit_code != 0 and "no user named 'nobody'" in unknown.output
    last = _run(env, "users", "deactivate", "adi")
    assert last.exit_code != 0
    session.expire_all()
    assert session.scalars(select(User)).one().active is True


def test_the_quarterly_report_defaults_to_the_last_full_quarter(env, session, tmp_path):
    late_november = datetime(2026, 11, 30, 10, tzinfo=ZoneInfo("Asia/Jakarta"))
    with time_machine.travel(late_november, tick=False):
        done = _run(env, "report", "quarterly", "--out", str(tmp_path))
    assert done.exit_code == 0, done.output
    assert (tmp_path / "pengaduan-2026-Q3.csv").exists()
    assert (tmp_path / "pengaduan-2026-Q3.xlsx").exists()
    new_year = datetime(2027, 1, 4, 9, tzinfo=ZoneInfo("Asia/Jakarta"))
    with time_machine.travel(new_year, tick=False):
        assert _run(env, "report", "quarterly", "--out", str(tmp_path)).exit_code == 0
    assert (tmp_path / "pengaduan-2026-Q4.csv").exists()
    half = _run(env, "report", "quarterly", "--year", "2026", "--out", str(tmp_path / "x"))
    assert half.exit_code != 0 and "both --year and --quarter" in half.output
