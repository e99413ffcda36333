"""Per-app settings and content, per-request database session, and the ticket a URL names."""

from __future__ import annotations

from flask import abort, current_app, g, make_response, render_template
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.content import Content
from callcenter.db import session_factory
from callcenter.models import Ticket
from callcenter.tickets.timeline import load_ticket


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


def ticket_or_404(number: str, *, page: str | None = None) -> Ticket:
    """The ticket numbered ``number``, with what its views show (customer, contacts,
    callbacks, required documents); a mistyped number (check digit) is never looked up.

    Otherwise 404: the app's JSON error for the API, or ``page`` rendered (the console's
    "Ticket not found", which names the number and leads back to the queue).
    """
    ticket = load_ticket(db(), number)
    if ticket is None:
        if page is not None:
            abort(make_response(render_template(page, number=number[:20]), 404))
        abort(404, f"no ticket {number[:20]}")
    return ticket
