"""A real browser on the real console: Debian's headless Chromium,
driven by Playwright's sync API, against the ``hotline`` fixture's live server (the full app
and the local Twilio simulator).

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (Debian's
``chromium`` package; ``.ci/run`` installs it). Without it the browser tests are skipped on a
laptop and fail in CI (``REQUIRE_POSTGRES=1``), with the reason.

Every page a test visits is saved as ``test-artifacts/screenshots/<test>-<step>-<backend>.png``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter.models import User
from callcenter.people import users
from tests.console.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Assertions that wait for the page (htmx refreshes every 2 s, the floor every 5 s).
EXPECT_TIMEOUT_MS = 10_000


def _no_browser(reason: str) -> None:
    if os.environ.get("REQUIRE_POSTGRES") == "1":  # CI: the browser tests must run
        pytest.fail(f"{reason}: install Debian's chromium (apt-get install chromium "
                    "chromium-driver; .ci/run does it)", pytrace=False)
    pytest.skip(f"{reason} (apt-get install chromium chromium-driver to run browser tests)")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium per test process (per xdist worker), closed at the end."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _no_browser(f"{CHROMIUM} is missing")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def backend(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


@dataclass
class Shooter:
    """Saves a full-page screenshot per step: ``<test>-<step>-<backend>.png``."""

    test: str
    backend: str

    def __call__(self, page, step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", step).strip("-")
        path = SCREENSHOTS / f"{self.test}-{safe}-{self.backend}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest, backend: str) -> Shooter:
    return Shooter(request.node.originalname, backend)


@pytest.fixture
def new_page(browser, hotline) -> Iterator[Callable[..., object]]:
    """Pages in fresh browser contexts (own cookies: one person each), on the live server."""
    contexts = []

    def make(viewport: dict[str, int] | None = None, **options: object):
        options.setdefault("locale", "en-US")  # staff flows in English; customers: "id-ID"
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=hotline.live.url,
                                      **options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A 1280×800 page; other people in the same test take ``new_page()``."""
    return new_page()


@pytest.fixture
def phone_page(new_page):
    """A phone-sized page (390×844, touch)."""
    return new_page(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


@pytest.fixture
def customer_phone_page(new_page):
    """A customer's phone in Indonesia: 390×844, touch, the browser asking for Indonesian."""
    return new_page(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                    locale="id-ID")


def make_user(session, username: str, role: str, *, agent_id: int | None = None,
              language: str = "en") -> User:
    """A console user in the test database (password ``PASSWORD``), linked to an agent, who
    reads the console in ``language`` (English for the flows tested here; the browsers ask
    for English too, ``locale="en-US"``)."""
    user = users.create_user(session, username, PASSWORD, role)
    user.agent_id = agent_id
    users.set_language(user, language)
    session.commit()
    return user


# The sign-in form's words in each language (the page follows the browser's Accept-Language).
SIGN_IN_WORDS = {"en": ("User name", "Password", "Sign in"),
                 "id": ("Nama pengguna", "Kata sandi", "Masuk")}


def sign_in(page, username: str, password: str = PASSWORD, *, language: str = "en") -> None:
    """Through the real form, as a person would; ``language`` is the browser's (the form's)."""
    user_label, password_label, button = SIGN_IN_WORDS[language]
    page.goto("/console/login")
    page.get_by_label(user_label).fill(username)
    page.get_by_label(password_label).fill(password)
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state()
