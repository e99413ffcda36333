"""Per-app settings and content, per-request database session."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.content import Content
from callcenter.db import session_factory


def settings() -> Settings:
    return current_app.config["SETTINGS"]


def content() -> Content:
    return Content.load(settings().content_path)


def db() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = session_factory(settings().database_url)()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def public_url(path: str) -> str:
    """Absolute URL Twilio can reach: always from ``PUBLIC_BASE_URL`` (Settings.base_url),
    never from the request's ``Host``, which a stranger can forge."""
    return settings().base_url + path
