"""The audit trail page: supervisors read who saw or changed
what, filtered and paged; nobody can edit or delete a row through the product."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from callcenter.models import AuditEntry
from tests.console.conftest import csrf_from

WIB = ZoneInfo("Asia/Jakarta")
ROW = re.compile(r'<tr data-id="(\d+)">')
OLDER = re.compile(r'<a href="([^"]+)" rel="next">')


def row_ids(html: str) -> list[int]:
    return [int(found) for found in ROW.findall(html)]


def older_link(html: str) -> str | None:
    found = OLDER.search(html)
    return found.group(1).replace("&amp;", "&") if found else None


def add(session, actor: str, action: str, subject: str, at: datetime,
        detail: str | None = None) -> int:
    entry = AuditEntry(actor=actor, action=action, subject=subject, at=at, detail=detail)
    session.add(entry)
    session.flush()
    return entry.id


@pytest.fixture
def trail(session) -> dict[str, int]:
    """A few days of audit rows; the keys name them."""
    rows = {
        "sari_views": add(session, "user:sari", "view_ticket", "ticket:1000017",
                          datetime(2026, 11, 20, 10, tzinfo=WIB)),
        "sari_late_evening": add(session, "user:sari", "reply_template", "ticket:1000017",
                                 datetime(2026, 11, 20, 23, 30, tzinfo=WIB)),  # 16:30 UTC
        "budi_after_midnight": add(session, "user:budi", "view_ticket", "ticket:1000025",
                                   datetime(2026, 11, 21, 0, 30, tzinfo=WIB)),  # 20 Nov UTC
        "api": add(session, "api:token", "resolve", "ticket:1000025",
                   datetime(2026, 11, 22, 9, tzinfo=WIB), "resolved by the CRM"),
        "sari_signs_in": add(session, "user:sari", "sign_in", "console",
                             datetime(2026, 11, 23, 8, tzinfo=WIB)),
    }
    session.commit()
    return rows


def test_the_trail_lists_newest_first_and_filters(console, session, trail):
    client = console.signed_in("lina", "supervisor")

    def ids(query: str = "") -> list[int]:
        reply = client.get(f"/console/audit{query}")
        assert reply.status_code == 200
        return row_ids(reply.get_data(as_text=True))

    everything = ids()
    assert everything == sorted(everything, reverse=True)
    assert set(trail.values()) <= set(everything)

    assert ids("?actor=sari") == [trail["sari_signs_in"], trail["sari_late_evening"],
                                  trail["sari_views"]]
    assert ids("?actor=api:token") == [trail["api"]]
    assert ids("?action=view_ticket") == [trail["budi_after_midnight"], trail["sari_views"]]
    assert ids("?subject=ticket:1000025") == [trail["api"], trail["budi_after_midnight"]]
    assert ids("?actor=sari&subject=ticket:1000017&action=view_ticket") == [trail["sari_views"]]
    # Dates are Jakarta days: 23:30 on the 20th is the 20th, 00:30 on the 21st is the 21st
    # (though both are 20 November in UTC).
    assert ids("?subject=ticket:1000017&to=2026-11-20") == [trail["sari_late_evening"],
                                                             trail["sari_views"]]
    assert ids("?from=2026-11-21&to=2026-11-22") == [trail["api"], trail["budi_after_midnight"]]
    assert ids("?actor=nobody") == []
    page = client.get("/console/audit?actor=nobody").get_data(as_text=True)
    assert "No audit entries match." in page
    # What each row says, in local time.
    api_page = client.get("/console/audit?actor=api:token").get_data(as_text=True)
    assert "2026-11-22 09:00:00 WIB" in api_page and "resolved by the CRM" in api_page
    assert '<a href="/console/tickets/1000025">ticket:1000025</a>' in api_page


def test_a_bad_date_is_explained_and_ignored(console, trail):
    client = console.signed_in("lina", "supervisor")
    reply = client.get("/console/audit?from=20-11-2026&actor=sari")
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert "From: give a date as YYYY-MM-DD." in html
    assert len(row_ids(html)) == 3  # the actor filter still applies


def test_pages_of_100_by_keyset_keep_the_filters(console, session):
    base = datetime(2026, 11, 2, 9, tzinfo=WIB)
    for n in range(230):
        add(session, "user:sari", "view_ticket" if n % 5 else "assign", f"ticket:{n}", base)
    session.commit()
    views = [e for (e,) in session.execute(
        select(AuditEntry.id).where(AuditEntry.action == "view_ticket")
        .order_by(AuditEntry.id.desc()))]
    assert len(views) == 184
    client = console.signed_in("lina", "supervisor")

    first = client.get("/console/audit?action=view_ticket").get_data(as_text=True)
    assert row_ids(first) == views[:100]
    link = older_link(first)
    assert link is not None
    assert parse_qs(urlsplit(link).query) == {"action": ["view_ticket"],
                                              "before": [str(views[99])]}
    # New rows written meanwhile (this very page view, say) do not shift the next page.
    add(session, "user:sari", "view_ticket", "ticket:new", base)
    session.commit()
    second = client.get(link).get_data(as_text=True)
    assert row_ids(second) == views[100:184]
    assert older_link(second) is None
    assert 'href="/console/audit?action=view_ticket">Newest</a>' in second


def test_the_trail_cannot_be_edited_or_deleted(console, session, trail):
    client = console.signed_in("lina", "supervisor")
    token = csrf_from(client.get("/console/audit").get_data(as_text=True))
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    for method in ("post", "put", "delete", "patch"):
        reply = getattr(client, method)("/console/audit", data={"csrf_token": token},
                                        headers={"X-CSRFToken": token})
        assert reply.status_code == 405, method
        reply = getattr(client, method)(f"/console/audit?id={trail['api']}",
                                        data={"csrf_token": token, "detail": "changed"})
        assert reply.status_code == 405, method
    # No console route under /console/audit accepts anything but reading.
    rules = [r for r in console.app.url_map.iter_rules() if r.rule.startswith("/console/audit")]
    assert rules and all(set(r.methods or ()) <= {"GET", "HEAD", "OPTIONS"} for r in rules)
    session.expire_all()
    entry = session.get(AuditEntry, trail["api"])
    assert entry is not None and entry.detail == "resolved by the CRM"
    # The refused requests added, changed and removed nothing.
    after = session.scalar(select(func.count()).select_from(AuditEntry))
    assert after == before


def test_reading_the_trail_is_itself_audited(console, session, trail):
    client = console.signed_in("lina", "supervisor")
    client.get("/console/audit?subject=ticket:1000025&from=2026-11-01")
    session.expire_all()
    reads = session.scalars(select(AuditEntry).where(AuditEntry.action == "view_audit")).all()
    assert [(r.actor, r.subject) for r in reads] == [("user:lina", "audit")]
    assert parse_qs(reads[0].detail or "") == {"subject": ["ticket:1000025"],
                                              "from": ["2026-11-01"]}
    # The next page shows that read at the top.
    assert row_ids(client.get("/console/audit").get_data(as_text=True))[0] == reads[0].id


def test_only_supervisors_and_admins_read_the_trail(console, session):
    assert console.client().get("/console/audit").status_code == 302
    assert console.signed_in("sari", "agent").get("/console/audit").status_code == 403
    assert console.signed_in("quinn", "qa").get("/console/audit").status_code == 403
    assert console.signed_in("ade", "admin").get("/console/audit").status_code == 200
    session.expire_all()
    reads = session.scalars(select(AuditEntry.actor).where(
        AuditEntry.action == "view_audit")).all()
    assert reads == ["user:ade"]


@pytest.mark.parametrize("before", ["9" * 40, "-" + "9" * 40, "99999999999999999999", "1e9",
                                    "abc"])
def test_a_page_cursor_beyond_any_id_is_a_clear_400_not_a_server_error(console, session,
                                                                        before):
    """A crafted ``before`` (too large for the id column, or not a number) is refused with
    the page saying so; nothing is looked up and the trail records no read."""
    client = console.signed_in("lina", "supervisor")
    reply = client.get(f"/console/audit?before={before}")
    assert reply.status_code == 400
    assert "page" in reply.get_data(as_text=True).lower()
    assert session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "view_audit")) == 0
