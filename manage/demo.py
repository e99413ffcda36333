"""Demo customers, people and texts for the dev run: made up, never used outside
``callcenter dev`` and ``callcenter seed-demo`` (both call :func:`seed_demo`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.channels import templates
from callcenter.config import PROJECT_ROOT
from callcenter.db import session_scope
from callcenter.models import Agent, Customer, User
from callcenter.people import users
from callcenter.people.customer_import import import_customers
from callcenter.statuses import Presence
from callcenter.voice import agents

DEMO_CSV = PROJECT_ROOT / "data" / "demo_customers.csv"
DEMO_AGENT_PHONE = "+628110000001"  # the dev run's simulator answers it as an agent
DEMO_PASSWORD = "demo-password"  # printed by seed-demo; a deployment adds its own users
DEMO_USERS = (("sari", "agent"), ("dewi", "supervisor"), ("qori", "qa"), ("adi", "admin"))
DEMO_REPLY = {
    "id": ("Tanggapan atas tiket {ticket}",
           "Halo {name}, terima kasih telah menghubungi kami. Kami sedang menindaklanjuti "
           "tiket {ticket} dan akan mengabari Anda."),
    "en": ("About your ticket {ticket}",
           "Hello {name}, thank you for contacting us. We are working on ticket {ticket} "
           "and will keep you informed."),
}


def seed_console(session: Session) -> list[tuple[str, str]]:
    """The demo agent Sari (on a phone the simulator answers), a user per role, and an
    approved reply template in both languages; returns the users it created."""
    agent = session.scalars(select(Agent).where(Agent.name == "Sari")).first()
    if agent is None:
        agent = agents.add_agent(session, "Sari", phone=DEMO_AGENT_PHONE, available=True)
    agent.presence = Presence.AVAILABLE if agent.available else agent.presence
    created: list[tuple[str, str]] = []
    people: dict[str, User] = {}
    for username, role in DEMO_USERS:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            user = users.create_user(session, username, DEMO_PASSWORD, role)
            created.append((username, role))
        people[username] = user
    people["sari"].agent_id = agent.id
    for language, (subject, body) in DEMO_REPLY.items():
        if templates.find_approved(session, "follow_up", language) is None:
            draft = templates.create_draft(session, people["sari"], key="follow_up",
                                           language=language, subject=subject, body=body)
            templates.approve(session, people["qori"], draft, read=templates.digest(draft))
    session.flush()
    return created


def seed_demo(database_url: str) -> list[str]:
    """The demo customers (``data/demo_customers.csv``, upserted), the agent, users and
    template of :func:`seed_console`; returns the lines to show (the users' password, demo
    only, when they were created)."""
    with DEMO_CSV.open(encoding="utf-8", newline="") as stream, session_scope(
        database_url
    ) as session:
        report = import_customers(session, stream)
        created = seed_console(session)
    lines = [f"demo data: {report.inserted} new customers, {report.updated} updated"]
    if created:
        lines.append(f"console users (password {DEMO_PASSWORD!r}): " + ", ".join(
            f"{name} ({role})" for name, role in created))
    return lines


def has_customers(database_url: str) -> bool:
    """Whether the database holds any customer yet (the dev run seeds an empty one only)."""
    with session_scope(database_url) as session:
        return session.scalars(select(Customer.id).limit(1)).first() is not None
