"""The admin's changes to the people who use the product, one function per action, each
writing its audit row: the console's People page and ``callcenter users add`` call these.

The rules are :mod:`callcenter.people.users`' and :mod:`callcenter.voice.agents`' (a
:class:`users.UserError` or :class:`agents.AgentError` refuses and nothing is written);
``actor`` is who did it (``user:<admin>``, or ``cli:<account>`` from the command line). The
subject is ``user:<username>``; a password never reaches the trail. Nothing here commits.

A new password and a deactivation end the person's open console sessions here, through
:class:`OpenSessions`: the web side keeps the sessions (webhooks/console/sessions.py, in Redis)
and passes its store in, so the rule lives with the action and the domain needs no Flask.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.i18n import Msg
from callcenter.models import Agent, User
from callcenter.people import users
from callcenter.voice import agents

AGENT_FIELD_MAX = 120  # agents.name, agents.client_identity


class OpenSessions(Protocol):
    """Where the console's sign-ins are kept; ``end_all`` ends every one of a user's (and
    raises when it cannot, so the change is not committed as if it had)."""

    def end_all(self, user_id: int) -> None: ...


def _subject(user: User) -> str:
    return f"user:{user.username}"


def add_user(session: Session, username: str, password: str, role: str, *,
             actor: str) -> User:
    """Someone new may sign in, with ``role`` (``create_user``)."""
    user = users.create_user(session, username, password, role)
    audit.record(session, actor, "create_user", _subject(user), f"role {user.role}")
    return user


def change_role(session: Session, user: User, role: str, *, actor: str) -> str:
    """Another role, effective at the user's next request; returns the old one. Audited
    (``change_role``) only when it changed."""
    old = users.set_role(session, user, role)
    if old != user.role:
        audit.record(session, actor, "change_role", _subject(user), f"{old} -> {user.role}")
    return old


def set_active(session: Session, user: User, active: bool, *, by: User | None,
               actor: str, sessions: OpenSessions) -> bool:
    """Deactivate (signed out everywhere, their agent set away) or reactivate ``user``; ``by``
    is the admin doing it (None from the command line). True, and audited, when it changed."""
    changed = users.set_active(session, by, user, active)
    if changed and not active:
        sessions.end_all(user.id)
    if changed:
        audit.record(session, actor, "reactivate_user" if active else "deactivate_user",
                     _subject(user))
    return changed


def unlock(session: Session, user: User, *, actor: str) -> bool:
    """Lift a lock-out and forget the failures; True when it was locked."""
    was_locked = users.unlock(user)
    audit.record(session, actor, "unlock_user", _subject(user),
                 None if was_locked else "was not locked")
    return was_locked


def reset_password(session: Session, user: User, password: str, *, actor: str,
                   sessions: OpenSessions) -> None:
    """A new password; every open session of the user ends (a copied cookie too)."""
    users.set_password(user, password)
    sessions.end_all(user.id)
    audit.record(session, actor, "reset_password", _subject(user))


def link_agent(session: Session, user: User, agent_id: int | None, *,
               actor: str) -> Agent | None:
    """Link ``user`` to an agent (presence switch, screen pop), or to none."""
    agent = users.link_agent(session, user, agent_id)
    audit.record(session, actor, "link_agent", _subject(user),
                 f"agent:{agent.id}" if agent else "none")
    return agent


def add_agent_for(session: Session, user: User, *, name: str, phone: str | None,
                  client_identity: str | None, actor: str) -> Agent:
    """Register an agent (a phone number or a Twilio Client identity) and link it to
    ``user``. Raises ``agents.AgentError``, ``phones.InvalidPhone`` or ``users.UserError``."""
    if not name:
        raise agents.AgentError(Msg("the agent needs a name"))
    if len(name) > AGENT_FIELD_MAX or len(client_identity or "") > AGENT_FIELD_MAX:
        raise agents.AgentError(Msg("name and identity have at most %(limit)s characters",
                                     limit=AGENT_FIELD_MAX))
    agent = agents.add_agent(session, name, phone=phone, client_identity=client_identity)
    users.link_agent(session, user, agent.id)
    audit.record(session, actor, "create_agent", f"agent:{agent.id}",
                 agents.masked_address(agent))
    audit.record(session, actor, "link_agent", _subject(user), f"agent:{agent.id}")
    return agent
