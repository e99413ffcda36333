"""Users: hashed passwords, roles, lock-out after repeated failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from callcenter import users
from callcenter.models import User, utcnow
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
