"""The dev run's demo data lets a newcomer sign in to the console right away."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from callcenter.models import Agent, Template, User
from manage.cli import main
from manage.demo import DEMO_PASSWORD
from tests.console.conftest import csrf_from


def test_seed_demo_creates_one_user_per_role_once_and_an_approved_reply(env, session, console):
    first = CliRunner().invoke(main, ["seed-demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "sari (agent)" in first.output and DEMO_PASSWORD in first.output
    again = CliRunner().invoke(main, ["seed-demo"], env=env)
    assert again.exit_code == 0 and "console users" not in again.output
    roles = {u.username: u.role for u in session.scalars(select(User))}
    assert roles == {"sari": "agent", "dewi": "supervisor", "qori": "qa", "adi": "admin"}
    sari = session.scalars(select(User).where(User.username == "sari")).one()
    agent = session.get(Agent, sari.agent_id)
    assert agent is not None and agent.presence == "available" and agent.available
    approved = session.scalars(select(Template).where(Template.status == "approved")).all()
    assert sorted(t.language for t in approved) == ["en", "id"]

    client = console.client()
    token = csrf_from(client.get("/console/login").get_data(as_text=True))
    signed = client.post("/console/login", data={"username": "dewi", "password": DEMO_PASSWORD,
                                                 "csrf_token": token})
    assert signed.status_code == 302
