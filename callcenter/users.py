"""People who use the product, with roles; passwords hashed, lock-out after failures."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from callcenter.models import User, utcnow

ROLES = ("agent", "supervisor", "qa", "admin")
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 10


class UserError(ValueError):
    """A refused user operation; the message is safe to show."""


def create_user(session: Session, username: str, password: str, role: str) -> User:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise UserError(f"user {username!r} exists already")
    user = User(username=username, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str,
                 now: datetime | None = None) -> User | None:
    """The user when the password is right and the account is not locked; counts failures."""
    now = now or utcnow()
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        return None
    if user.locked_until is not None and user.locked_until > now:
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


def has_role(user: User, *roles: str) -> bool:
    """Admins may do everything; otherwise the role must be one of ``roles``."""
    return user.role == "admin" or user.role in roles
