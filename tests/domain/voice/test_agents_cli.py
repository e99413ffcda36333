"""``callcenter agents``: register agents and toggle who takes routed calls."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from callcenter.models import Agent, AuditEntry
from manage.cli import main


def _run(env, *args: str):
    return CliRunner().invoke(main, ["agents", *args], env=env)


def test_agent_with_a_phone_is_stored_in_e164_and_listed_masked(env, session):
    result = _run(env, "add", "Sari", "--phone", "0811-0000-001", "--available")
    assert result.exit_code == 0, result.output
    agent = session.scalars(select(Agent)).one()
    assert agent.phone == "+628110000001" and agent.available
    listing = _run(env, "list").output
    assert "Sari" in listing and "+628110000001" not in listing and "0001" in listing


def test_agent_with_a_client_identity_is_dialled_as_client(env, session):
    assert _run(env, "add", "Budi", "--client", "budi-desk").exit_code == 0
    agent = session.scalars(select(Agent)).one()
    assert agent.address == "client:budi-desk" and not agent.available


def test_availability_toggles(env, session):
    _run(env, "add", "Sari", "--phone", "0811-0000-001")
    assert _run(env, "available", "Sari").exit_code == 0
    session.expire_all()
    assert session.scalars(select(Agent)).one().available
    assert _run(env, "unavailable", "Sari").exit_code == 0
    session.expire_all()
    assert not session.scalars(select(Agent)).one().available


def test_availability_set_on_the_command_line_is_audited_as_the_consoles_switch(env,
                                                                               session):
    """The console's presence switch and ``callcenter agents available|unavailable`` are one
    action: the same ``set_presence`` audit row, the CLI's actor naming the OS account."""
    _run(env, "add", "Sari", "--phone", "0811-0000-001")
    _run(env, "available", "Sari")
    _run(env, "unavailable", "Sari")
    agent = session.scalars(select(Agent)).one()
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(r.action, r.subject, r.detail) for r in rows] == [
        ("set_presence", f"agent:{agent.id}", "away -> available"),
        ("set_presence", f"agent:{agent.id}", "available -> away")]
    assert all(r.actor.startswith("cli:") for r in rows)


def test_bad_registrations_are_refused_with_a_reason(env, session):
    both = _run(env, "add", "X", "--phone", "0811-0000-001", "--client", "x")
    assert both.exit_code != 0 and "exactly one" in both.output
    bad = _run(env, "add", "Y", "--phone", "12")
    assert bad.exit_code != 0 and "phone" in bad.output.lower()
    _run(env, "add", "Sari", "--phone", "0811-0000-001")
    dup = _run(env, "add", "Sari", "--phone", "0811-0000-002")
    assert dup.exit_code != 0 and "exists already" in dup.output
    missing = _run(env, "available", "Nobody")
    assert missing.exit_code != 0 and "no agent named" in missing.output
