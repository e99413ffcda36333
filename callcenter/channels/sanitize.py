"""HTML from customers' emails, made safe to display (stored raw, sanitised on display).

``nh3`` (ammonia) keeps formatting and drops scripts, event handlers, ``javascript:`` links,
styles and anything else not on its allow-list.
"""

from __future__ import annotations

import nh3

_URL_SCHEMES = {"http", "https", "mailto", "cid"}


def safe_html(raw: str | None) -> str:
    """Markup that may be shown in the console: no script, no handler, no active URL."""
    if not raw:
        return ""
    return nh3.clean(raw, url_schemes=_URL_SCHEMES, link_rel="noopener noreferrer nofollow")
