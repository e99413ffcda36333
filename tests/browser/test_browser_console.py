"""A quiet browser console: the console's pages log no error and ask for nothing missing.

An agent's pages carry two live regions that htmx polls (the screen pop every 2 s, the ticket
queue every 20 s); their first request has no "seen" fingerprint yet, which htmx must not
report as a selector that "returned no matches". The browser's own request for
``/favicon.ico`` must not be a 404.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from callcenter.voice import agents as agent_registry
from tests.browser.conftest import make_user, sign_in
from tests.factories import make_customer

pytestmark = pytest.mark.slow

POP_POLLS_MS = 4_500  # the screen pop polls every 2 s: two rounds and a bit


def test_the_agent_pages_log_no_error_and_request_nothing_missing(hotline, new_page, session,
                                                                  shot):
    make_customer(session)
    agent = agent_registry.add_agent(session, "Sari", phone="+628110000001")
    session.commit()
    make_user(session, "sari", "agent", agent_id=agent.id, language="id")
    page = new_page(locale="id-ID")
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console {message.type}: "
                                                       f"{message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("response", lambda response: problems.append(
        f"{response.status} {response.url}") if response.status >= 400 else None)
    sign_in(page, "sari", language="id")
    for url in ("/console/tickets", "/console/inbox", "/console/desk", "/favicon.ico"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(POP_POLLS_MS if url == "/console/tickets" else 500)
    expect(page.locator("body")).to_be_visible()
    shot(page, "favicon")
    assert not problems, "\n".join(problems)
