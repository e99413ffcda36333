"""Console sign-ins kept on the server, in Redis, so that signing out really ends them.

The browser's signed cookie holds a random session id; Redis holds what that id is worth:

- ``…:console-session:<sha256 of the id>`` → ``<user id>:<generation>``, with an expiry of
  ``CONSOLE_SESSION_HOURS`` from the sign-in (a shift; never extended by use). Signing out
  deletes it. Only a hash of the id is stored, so a copy of Redis opens no session.
- ``…:console-sessions-of:<user id>`` → the user's generation. Ending every session of a user
  (a new password, a deactivation: :mod:`callcenter.people.admin` calls :meth:`end_all`)
  increments it, which invalidates every id made under the old one at once, including one
  being made at that very moment (no list to walk, nothing to race).

A cookie copied before sign-out, password change or deactivation, or kept past its shift, is
worth nothing: it lands on the sign-in page. When Redis cannot be reached the console fails
closed: it lets nobody in and says so (:class:`SessionStoreDown`, answered 503 by the
console), rather than trusting a cookie it cannot check.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError


class SessionStoreDown(RuntimeError):
    """Redis did not answer: no session can be started, checked or ended right now."""


@dataclass(frozen=True)
class ConsoleSessions:
    """The console's open sign-ins, in ``redis`` under ``prefix`` (``CALLCENTER_RQ_PREFIX``)."""

    redis: Redis
    prefix: str
    lifetime: timedelta

    def _session_key(self, session_id: str) -> str:
        digest = hashlib.sha256(session_id.encode()).hexdigest()
        return f"{self.prefix}callcenter:console-session:{digest}"

    def _generation_key(self, user_id: int) -> str:
        return f"{self.prefix}callcenter:console-sessions-of:{user_id}"

    def _generation(self, user_id: int) -> int:
        raw = self.redis.get(self._generation_key(user_id))
        return int(raw) if raw else 0

    def start(self, user_id: int) -> str:
        """A new session for ``user_id``; returns the id the cookie carries."""
        session_id = secrets.token_urlsafe(32)
        try:
            generation = self._generation(user_id)
            self.redis.set(self._session_key(session_id), f"{user_id}:{generation}",
                           ex=int(self.lifetime.total_seconds()))
        except RedisError as exc:
            raise SessionStoreDown(type(exc).__name__) from exc
        return session_id

    def user_id(self, session_id: str) -> int | None:
        """Whose session ``session_id`` is, while it is open; None once it was ended or it
        expired (or it never existed)."""
        try:
            raw = self.redis.get(self._session_key(session_id))
            if raw is None:
                return None
            user_text, _, generation_text = raw.decode().partition(":")
            user_id = int(user_text)
            if int(generation_text) != self._generation(user_id):
                return None
        except RedisError as exc:
            raise SessionStoreDown(type(exc).__name__) from exc
        return user_id

    def end(self, session_id: str) -> None:
        """Sign-out: this session is over, whoever holds a copy of its cookie."""
        try:
            self.redis.delete(self._session_key(session_id))
        except RedisError as exc:
            raise SessionStoreDown(type(exc).__name__) from exc

    def end_all(self, user_id: int) -> None:
        """Every session of ``user_id`` is over (a new password, a deactivation)."""
        try:
            self.redis.incr(self._generation_key(user_id))
        except RedisError as exc:
            raise SessionStoreDown(type(exc).__name__) from exc
