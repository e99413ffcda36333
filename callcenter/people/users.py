"""People who use the product, with roles; passwords hashed, lock-out after failures.

The rules of managing them are the functions below; each refusal is a :class:`UserError` whose
message is safe to show. The admin's changes go through :mod:`callcenter.people.admin`, which
adds the audit row. Rules:

- an admin never deactivates themselves, and nobody removes the last active admin (by
  deactivating or demoting them), so the product always keeps someone who can manage people;
- an agent is linked to at most one user (the presence switch and screen pop follow the link);
- a new password ends the user's open console sessions (:mod:`callcenter.people.admin` ends
  them in the session store; the session cookie also carries a fingerprint of the password
  hash, webhooks/console/auth.py, a second check);
- a deactivated user's sessions end the same way, and their agent is set "away", so routed
  calls stop ringing someone who can no longer sign in to set their presence.
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from callcenter.i18n import LANGUAGES, Msg
from callcenter.models import Agent, User, utcnow
from callcenter.statuses import Presence
from callcenter.voice import agents

ROLES = ("agent", "supervisor", "qa", "admin")
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 10
USERNAME_MAX = 80


class UserError(ValueError):
    """A refused user operation; the message is safe to show."""


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(Msg("role must be one of %(roles)s", roles=", ".join(ROLES)))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(Msg("password must have at least %(limit)s characters", limit=MIN_PASSWORD))


def _check_username(username: str) -> None:
    """Sign-in strips and cuts the name at 80 characters: a name it could not match is refused."""
    if not username:
        raise UserError(Msg("user name is required"))
    if len(username) > USERNAME_MAX:
        raise UserError(Msg("user name must have at most %(limit)s characters",
                            limit=USERNAME_MAX))
    if any(ch.isspace() or not ch.isprintable() for ch in username):
        raise UserError(Msg("user name must not contain spaces"))


def create_user(session: Session, username: str, password: str, role: str) -> User:
    _check_username(username)
    _check_role(role)
    _check_password(password)
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise UserError(Msg("user '%(name)s' exists already", name=username))
    user = User(username=username, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


@functools.cache
def _dummy_hash() -> str:
    """A hash made exactly as a stored one (same method and cost) of a password nobody knows."""
    return generate_password_hash(secrets.token_urlsafe(24))


def set_language(user: User, language: str) -> bool:
    """The person's console language (``id`` or ``en``); True when it changed."""
    if language not in LANGUAGES:
        raise UserError(Msg("language must be Indonesian (id) or English (en)"))
    changed = user.language != language
    user.language = language
    return changed


def authenticate(session: Session, username: str, password: str,
                 now: datetime | None = None) -> User | None:
    """The user when the password is right and the account is not locked; counts failures.

    An unknown name, a deactivated or a locked account costs one password hash like a known
    one does (against a dummy hash): the time taken does not tell which names exist.
    """
    now = now or utcnow()
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active or is_locked(user, now):
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCK_FOR
            user.failed_logins = 0
        return None
    user.failed_logins = 0
    user.locked_until = None
    return user


def actor_of(user: User) -> str:
    """How ``user`` is named in the audit trail, whether they act in the console or the API."""
    return f"user:{user.username}"


def has_role(user: User, *roles: str) -> bool:
    """Admins may do everything; otherwise the role must be one of ``roles``."""
    return user.role == "admin" or user.role in roles


def is_locked(user: User, now: datetime | None = None) -> bool:
    """Locked out after repeated failures, until ``locked_until`` passes."""
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def _active_admin_ids(session: Session) -> list[int]:
    """Active admins' ids, rows locked (PostgreSQL) so two admins removing each other at the
    same moment cannot both pass the last-admin check."""
    return list(session.scalars(
        select(User.id).where(User.role == "admin", User.active.is_(True))
        .order_by(User.id).with_for_update()))


def _refuse_last_admin(session: Session, user: User) -> None:
    if user.role == "admin" and user.active and _active_admin_ids(session) == [user.id]:
        raise UserError(Msg("%(name)s is the last active admin; make another admin first",
                            name=user.username))


def set_role(session: Session, user: User, role: str) -> str:
    """Give ``user`` another role (effective at their next request); returns the old role."""
    _check_role(role)
    old = user.role
    if role != old and old == "admin":
        _refuse_last_admin(session, user)
    user.role = role
    return old


def set_active(session: Session, actor: User | None, user: User, active: bool) -> bool:
    """Deactivate (every open session ends at its next request) or reactivate ``user``.

    Returns True when something changed. ``actor`` is the admin doing it (None from the CLI).
    """
    if user.active == active:
        return False
    if not active:
        if actor is not None and actor.id == user.id:
            raise UserError(Msg("you cannot deactivate yourself; ask another admin"))
        _refuse_last_admin(session, user)
        agent = session.get(Agent, user.agent_id) if user.agent_id is not None else None
        if agent is not None:
            agents.set_presence(agent, Presence.AWAY)
    user.active = active
    return True


def unlock(user: User) -> bool:
    """Lift a lock-out (and forget the failures counted so far); True when it was locked."""
    was_locked = is_locked(user)
    user.locked_until = None
    user.failed_logins = 0
    return was_locked


def set_password(user: User, password: str) -> None:
    """A new password; the user's open console sessions end at their next request."""
    _check_password(password)
    user.password_hash = generate_password_hash(password)


def link_agent(session: Session, user: User, agent_id: int | None) -> Agent | None:
    """Link ``user`` to an agent (or to none); an agent belongs to at most one user."""
    if agent_id is None:
        user.agent_id = None
        return None
    # The agent's row is locked (PostgreSQL) so two admins cannot give it to two users at once.
    agent = session.get(Agent, agent_id, with_for_update=True)
    if agent is None:
        raise UserError(Msg("no such agent"))
    other = session.scalars(select(User).where(
        User.agent_id == agent.id, User.id != user.id)).first()
    if other is not None:
        raise UserError(Msg("agent %(agent)s is linked to %(user)s already", agent=agent.name,
                            user=other.username))
    user.agent_id = agent.id
    return agent
