"""A person behind an API call: HTTP basic with a user's name and password.

``API_TOKEN`` identifies a system (read side); actions that a person answers for (approve a
template, register a walk-in, reply to a customer) need a user with the right role, and the
audit trail names them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, g, request

from callcenter.models import User
from callcenter.people import users
from webhooks.context import db


def current_user() -> User:
    user = g.get("user")
    if user is None:
        abort(401)
    return user


def require_user(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """401 without valid credentials (or while locked out), 403 without one of ``roles``."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            auth = request.authorization
            if auth is None or auth.type != "basic" or not auth.username:
                abort(401)
            session = db()
            user = users.authenticate(session, auth.username, auth.password or "")
            session.commit()  # failure counts and lock-outs persist
            if user is None:
                abort(401)
            if roles and not users.has_role(user, *roles):
                abort(403)
            g.user = user
            g.actor = f"user:{user.username}"
            return view(*args, **kwargs)

        return wrapper

    return decorator
