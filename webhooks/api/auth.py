"""Who is behind an API call, and the name the audit trail gives them (``g.actor``).

- :func:`require_token`: a system with the ``API_TOKEN`` bearer (CONTRACT "JSON API": the read
  side only); the actor is ``api:`` and a digest of the token, so rotated tokens stay apart
  and the secret is never stored.
- :func:`require_user`: a person, HTTP basic with a user's name and password, for every write
  (a callback, a reply, a walk-in, a template's approval: someone answers for each); the
  actor is ``user:<name>``. tests/webhooks/test_api_writes.py holds every write route to it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from flask import abort, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from callcenter.people import users
from webhooks.context import db, settings
from webhooks.params import storable

View = Callable[..., Any]
REALM = "callcenter"


def _person_required() -> Unauthorized:
    """401 that says what to send (RFC 9110: a user's HTTP basic credentials)."""
    return Unauthorized("this takes a person: HTTP basic with a user's name and password",
                        www_authenticate=WWWAuthenticate("basic", {"realm": REALM}))


def require_token(view: View) -> View:
    """401 without one of the configured bearer tokens (and always while none is set)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        tokens = settings().api_tokens
        # Bytes, not str: compare_digest refuses non-ASCII text (a UTF-8 token arrives latin-1
        # decoded), and a crafted header must be a wrong token (401), never a server error.
        given_bytes = given.encode()
        if not given or not any(hmac.compare_digest(given_bytes, t.encode()) for t in tokens):
            abort(401)
        g.actor = "api:" + hashlib.sha256(given.encode()).hexdigest()[:10]
        return view(*args, **kwargs)

    return wrapper


def require_user(*roles: str) -> Callable[[View], View]:
    """401 without valid credentials (or while locked out), 403 without one of ``roles``."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            auth = request.authorization
            if (auth is None or auth.type != "basic" or not auth.username
                    or not storable(auth.username)):
                raise _person_required()
            session = db()
            user = users.authenticate(session, auth.username, auth.password or "")
            session.commit()  # failure counts and lock-outs persist
            if user is None:
                raise _person_required()
            if roles and not users.has_role(user, *roles):
                abort(403)
            g.user = user
            g.actor = users.actor_of(user)
            return view(*args, **kwargs)

        return wrapper

    return decorator
