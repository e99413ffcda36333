"""A console client: the real app, real sessions and real CSRF tokens (no test shortcuts)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from callcenter.models import User
from callcenter.people import users
from webhooks.app import create_app

PASSWORD = "a long enough password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


@dataclass
class Console:
    """The app and a helper to sign people in, as a browser would (form + CSRF token).

    The console is Indonesian unless a person chooses English. Tests of what the console
    *does* read it in English: their people have chosen English and their browsers ask for
    it (``language="en"``, the default here); tests of the language itself pass ``"id"`` or
    ``None`` (no choice made, no ``Accept-Language``).
    """

    app: Flask
    session: object

    def user(self, username: str, role: str, *, agent_id: int | None = None,
             language: str | None = "en") -> User:
        user = users.create_user(self.session, username, PASSWORD, role)  # type: ignore[arg-type]
        user.agent_id = agent_id
        if language is not None:
            users.set_language(user, language)
        self.session.commit()  # type: ignore[attr-defined]
        return user

    def client(self, language: str | None = "en") -> FlaskClient:
        """A browser whose ``Accept-Language`` is ``language`` (none sent for ``None``)."""
        client = self.app.test_client()
        if language is not None:
            client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        return client

    def signed_in(self, username: str, role: str = "agent", *,
                  agent_id: int | None = None, language: str | None = "en") -> FlaskClient:
        """A browser of a new user of ``role``, signed in."""
        self.user(username, role, agent_id=agent_id, language=language)
        client = self.client(language)
        page = client.get("/console/login")
        reply = client.post("/console/login", data={
            "username": username, "password": PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True))})
        assert reply.status_code == 302, reply.get_data(as_text=True)
        return client


def post_form(client: FlaskClient, page_url: str, action: str, data: dict[str, str],
              **kwargs: object):
    """Submit a form the way the browser does: the CSRF token is read off ``page_url``."""
    page = client.get(page_url)
    return client.post(action, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))},
                       **kwargs)


@pytest.fixture
def console(settings, session) -> Console:
    return Console(create_app(settings), session)
