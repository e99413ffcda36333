"""Phones and small screens: no console or public page scrolls sideways at 390 px.

Every page every role opens is loaded in headless Chromium at 390×844 (a phone) over a busy
floor (tickets on every channel and in every state, calls, callbacks, documents, templates,
users, a live call), in Indonesian, and ``document.documentElement.scrollWidth`` must not exceed
``window.innerWidth``: nothing is cut off, no table needs a sideways swipe (tables become cards).
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in
from tests.console.conftest import console  # noqa: F401  (fixture)
from tests.console.test_words_not_codes import floor, pages_for  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

PHONE_WIDTH = 390
WIDTH = "({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"


def _too_wide(page) -> dict[str, int] | None:
    """The page's width when it scrolls sideways. A phone browser zooms out to fit a page
    wider than the screen (``innerWidth`` grows with it), so the screen's own width counts
    too."""
    found = page.evaluate(WIDTH)
    too_wide = found["scroll"] > found["inner"] or found["inner"] > PHONE_WIDTH
    if not too_wide:
        return None
    found["culprits"] = page.evaluate(CULPRITS, PHONE_WIDTH)
    return found


# The innermost elements that reach past the screen's right edge: what to fix.
CULPRITS = """width => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > width + 0.5)
  .filter(e => !Array.from(e.children).some(c => c.getBoundingClientRect().right > width + 0.5))
  .slice(0, 5)
  .map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}` +
    `${e.className ? '.' + String(e.className).split(' ').join('.') : ''}` +
    ` (${Math.round(e.getBoundingClientRect().right)} px)`)
"""


def test_no_page_scrolls_sideways_at_390_px_for_any_role(hotline, new_page, floor,  # noqa: F811
                                                         session, shot):
    from callcenter.models import User

    wide: dict[str, dict[str, int]] = {}
    for role, person in floor["people"].items():
        session.query(User).filter(User.id == person.id).update({"language": "id"})
        session.commit()
        page = new_page({"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                        locale="id-ID")
        sign_in(page, person.username, language="id")
        for url in pages_for(role, floor):
            if url.endswith(("/live", "/pop")):
                continue  # fragments: measured inside their pages
            page.goto(url)
            page.wait_for_load_state()
            if found := _too_wide(page):
                wide[f"{role} {url}"] = found
            shot(page, f"{role}-{url.strip('/').replace('/', '-') or 'home'}")
    anonymous = new_page({"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                         locale="id-ID")
    for url in ("/console/login", "/", "/?lang=en", "/status"):
        anonymous.goto(url)
        if found := _too_wide(anonymous):
            wide[f"anonymous {url}"] = found
        shot(anonymous, f"anonymous-{url.strip('/').replace('/', '-') or 'home'}")
    assert not wide, "\n".join(f"{page}: {size['scroll']} px at {size['inner']} px: "
                               + ", ".join(size["culprits"])
                               for page, size in wide.items())
