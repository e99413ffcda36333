"""Users: hashed passwords, roles, lock-out after repeated failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from callcenter.models import AuditEntry, User, utcnow
from callcenter.people import users
from callcenter.voice import agents
from manage.cli import main


def test_password_is_hashed_and_checked(session):
    user = users.create_user(session, "sari", "correct horse battery", "agent")
    assert "correct horse" not in user.password_hash
    assert users.authenticate(session, "sari", "correct horse battery") is user
    assert users.authenticate(session, "sari", "wrong password!!") is None


def test_five_failures_lock_the_account_for_a_while(session):
    users.create_user(session, "sari", "correct horse battery", "agent")
    now = utcnow()
    for _ in range(users.MAX_FAILURES):
        users.authenticate(session, "sari", "guess guess guess", now=now)
    assert users.authenticate(session, "sari", "correct horse battery", now=now) is None
    later = now + users.LOCK_FOR + timedelta(seconds=1)
    assert users.authenticate(session, "sari", "correct horse battery", now=later) is not None


@pytest.mark.parametrize(("password", "role", "message"), [
    ("short", "agent", "at least"), ("long enough password", "boss", "role must be")])
def test_bad_users_are_refused(session, password, role, message):
    with pytest.raises(users.UserError, match=message):
        users.create_user(session, "x", password, role)


def test_admin_has_every_role_qa_only_its_own(session):
    qa = users.create_user(session, "quinn", "long enough password", "qa")
    admin = users.create_user(session, "ada", "long enough password", "admin")
    assert users.has_role(qa, "qa") and not users.has_role(qa, "supervisor")
    assert users.has_role(admin, "qa", "supervisor")


def test_cli_adds_a_user(env, session):
    result = CliRunner().invoke(main, ["users", "add", "quinn", "--role", "qa",
                                       "--password", "long enough password"], env=env)
    assert result.exit_code == 0, result.output
    assert session.query(User).one().role == "qa"


def test_a_user_added_on_the_command_line_is_in_the_audit_trail_as_the_console_adds_them(
        env, session):
    """One action, one audit row, whoever adds the person: the People page or the CLI
    (whose actor names the operating-system account that ran it)."""
    CliRunner().invoke(main, ["users", "add", "quinn", "--role", "qa",
                              "--password", "long enough password"], env=env)
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.subject, entry.detail) == ("create_user", "user:quinn",
                                                           "role qa")
    assert entry.actor.startswith("cli:")
    assert "long enough password" not in f"{entry.actor} {entry.detail}"


def test_a_blank_or_spaced_user_name_is_refused(session):
    for name, message in (("", "required"), ("two words", "spaces"), ("x" * 81, "at most 80")):
        with pytest.raises(users.UserError, match=message):
            users.create_user(session, name, "long enough password", "agent")


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(session):
    root = users.create_user(session, "root", "long enough password", "admin")
    with pytest.raises(users.UserError, match="root is the last active admin"):
        users.set_role(session, root, "supervisor")
    with pytest.raises(users.UserError, match="last active admin"):
        users.set_active(session, None, root, False)
    assert root.role == "admin" and root.active
    ada = users.create_user(session, "ada", "long enough password", "admin")
    assert users.set_role(session, root, "supervisor") == "admin"
    assert root.role == "supervisor"
    with pytest.raises(users.UserError, match="ada is the last active admin"):
        users.set_active(session, root, ada, False)
    with pytest.raises(users.UserError, match="role must be one of"):
        users.set_role(session, ada, "boss")


def test_an_inactive_admin_does_not_count_as_the_remaining_admin(session):
    root = users.create_user(session, "root", "long enough password", "admin")
    old = users.create_user(session, "old", "long enough password", "admin")
    assert users.set_active(session, root, old, False) is True
    session.flush()
    with pytest.raises(users.UserError, match="last active admin"):
        users.set_role(session, root, "qa")
    assert users.set_active(session, root, old, False) is False  # already inactive: no change


def test_nobody_deactivates_themselves_and_a_deactivated_agent_goes_away(session):
    admin = users.create_user(session, "root", "long enough password", "admin")
    users.create_user(session, "ada", "long enough password", "admin")
    with pytest.raises(users.UserError, match="cannot deactivate yourself"):
        users.set_active(session, admin, admin, False)
    agent = agents.add_agent(session, "Sari", phone="+628110000001", available=True)
    sari = users.create_user(session, "sari", "long enough password", "agent")
    users.link_agent(session, sari, agent.id)
    users.set_active(session, admin, sari, False)
    assert not sari.active and agent.presence == "away" and not agent.available
    assert users.authenticate(session, "sari", "long enough password") is None
    users.set_active(session, admin, sari, True)
    assert users.authenticate(session, "sari", "long enough password") is sari


def test_unlock_and_a_new_password(session):
    sari = users.create_user(session, "sari", "long enough password", "agent")
    sari.locked_until = utcnow() + timedelta(minutes=5)
    sari.failed_logins = 2
    assert users.is_locked(sari)
    assert users.authenticate(session, "sari", "long enough password") is None
    assert users.unlock(sari) is True and not users.is_locked(sari) and sari.failed_logins == 0
    assert users.unlock(sari) is False
    with pytest.raises(users.UserError, match="at least 10"):
        users.set_password(sari, "short")
    users.set_password(sari, "a brand new password")
    assert users.authenticate(session, "sari", "long enough password") is None
    assert users.authenticate(session, "sari", "a brand new password") is sari


def test_an_agent_is_linked_to_one_user_at_most(session):
    agent = agents.add_agent(session, "Sari", client_identity="sari")
    sari = users.create_user(session, "sari", "long enough password", "agent")
    dewi = users.create_user(session, "dewi", "long enough password", "agent")
    assert users.link_agent(session, sari, agent.id) is agent
    session.flush()
    assert users.link_agent(session, sari, agent.id) is agent  # linking again is no conflict
    with pytest.raises(users.UserError, match="agent Sari is linked to sari already"):
        users.link_agent(session, dewi, agent.id)
    with pytest.raises(users.UserError, match="no such agent"):
        users.link_agent(session, dewi, agent.id + 100)
    assert users.link_agent(session, sari, None) is None and sari.agent_id is None
    session.flush()
    assert users.link_agent(session, dewi, agent.id) is agent


def test_the_database_refuses_two_people_on_one_agent(session):
    """Backstop for users.link_agent: a routed call pops on exactly one screen."""
    from sqlalchemy.exc import IntegrityError

    agent = agents.add_agent(session, "Sari", phone="+628110000001")
    first = users.create_user(session, "sari", "long enough password", "agent")
    second = users.create_user(session, "sari2", "long enough password", "agent")
    first.agent_id = agent.id
    session.flush()
    second.agent_id = agent.id
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
