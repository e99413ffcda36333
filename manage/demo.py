"""Demo people and texts for the dev run: made up, never used outside ``callcenter dev``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.channels import templates
from callcenter.models import Agent, User
from callcenter.people import users
from callcenter.voice import agents

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
        agent = agents.add_agent(session, "Sari", phone="+628110000001", available=True)
    agent.presence = "available" if agent.available else agent.presence
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
