"""The ticket queue page: filters that really filter, keyset pages that
neither repeat nor skip, masked names, and one audit row per view."""

from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.models import AuditEntry, User, utcnow
from callcenter.tickets import lifecycle
from tests.factories import make_customer

JAKARTA = ZoneInfo("Asia/Jakarta")
NUMBER_LINK = re.compile(r'<a href="/console/tickets/(\d+)">\1</a>')


def numbers(page) -> list[str]:
    """The ticket numbers listed, in the order shown."""
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return NUMBER_LINK.findall(page.get_data(as_text=True))


def _ticket(session, *, channel, status, due, owner=None, customer=None):
    ticket = lifecycle.open_ticket(session, channel=channel,
                                 customer_id=customer.id if customer else None)
    ticket.status = status
    ticket.due_at = due
    ticket.owner_id = owner.id if owner else None
    session.flush()
    return ticket.number


@pytest.fixture
def floor(console, session):
    """Five tickets across statuses, channels, due dates and owners; sari is signed in."""
    client = console.signed_in("sari", "agent")
    sari = session.scalars(select(User).where(User.username == "sari")).one()
    lead = console.user("lead", "supervisor")
    budi = make_customer(session)
    now = utcnow()
    today = now.astimezone(JAKARTA).date()
    end_of_today = datetime.combine(today, time(23, 59, 59), tzinfo=JAKARTA)
    made = {
        "overdue_voice_sari": _ticket(session, channel="voice", status="open",
                                      due=now - timedelta(days=2), owner=sari, customer=budi),
        "today_email": _ticket(session, channel="email", status="pending_customer",
                               due=end_of_today),
        "week_sms_lead": _ticket(session, channel="sms", status="pending_documents",
                                 due=end_of_today + timedelta(days=4), owner=lead),
        "resolved_whatsapp_sari": _ticket(session, channel="whatsapp", status="resolved",
                                          due=now - timedelta(days=5), owner=sari),
        "later_walk_in": _ticket(session, channel="walk_in", status="open",
                                 due=end_of_today + timedelta(days=30)),
    }
    session.commit()
    return client, made, lead


def test_the_default_queue_lists_unsettled_tickets_soonest_due_first(floor):
    client, t, _lead = floor
    page = client.get("/console/tickets")
    assert numbers(page) == [t["overdue_voice_sari"], t["today_email"], t["week_sms_lead"],
                             t["later_walk_in"]]
    text = page.get_data(as_text=True)
    for label in ("Status", "Channel", "Due", "Owner"):
        assert f">{label}</label>" in text
    assert ">Filter</button>" in text
    assert "Budi S." in text and "Santoso" not in text  # masked on the list
    assert 'class="badge overdue"' in text


@pytest.mark.parametrize("query,expected", [
    ("status=resolved", ["resolved_whatsapp_sari"]),
    ("status=all", ["resolved_whatsapp_sari", "overdue_voice_sari", "today_email",
                    "week_sms_lead", "later_walk_in"]),
    ("status=pending_documents", ["week_sms_lead"]),
    ("channel=email", ["today_email"]),
    ("channel=whatsapp", []),
    ("channel=whatsapp&status=all", ["resolved_whatsapp_sari"]),
    ("due=overdue", ["overdue_voice_sari"]),
    ("due=today", ["today_email"]),
    ("due=week", ["today_email", "week_sms_lead"]),
    ("owner=me", ["overdue_voice_sari"]),
    ("owner=me&status=all", ["resolved_whatsapp_sari", "overdue_voice_sari"]),
    ("owner=unassigned", ["today_email", "later_walk_in"]),
    ("owner=unassigned&channel=walk_in&due=any", ["later_walk_in"]),
])
def test_filters_narrow_the_queue(floor, query, expected):
    client, t, _lead = floor
    assert numbers(client.get(f"/console/tickets?{query}")) == [t[name] for name in expected]


def test_a_supervisor_picks_a_specific_owner(floor, console):
    _client, t, lead = floor
    boss = console.signed_in("dewi", "supervisor")
    page = boss.get(f"/console/tickets?owner={lead.id}")
    assert numbers(page) == [t["week_sms_lead"]]
    assert f'<option value="{lead.id}" selected>lead (Supervisor)</option>' in page.get_data(
        as_text=True)


def test_unknown_filter_values_fall_back_to_the_defaults(floor):
    client, t, _lead = floor
    page = client.get("/console/tickets?status=deleted&channel=fax&due=yesterday&owner=x"
                      "&after=not-a-cursor")
    assert numbers(page) == [t["overdue_voice_sari"], t["today_email"], t["week_sms_lead"],
                             t["later_walk_in"]]


def test_pages_of_fifty_follow_each_other_without_repeats_or_gaps(console, session):
    client = console.signed_in("sari", "agent")
    start = utcnow()
    made = []
    for i in range(117):
        # Ties on the due date and tickets without one (documents outstanding) included.
        due = None if i % 13 == 0 else start + timedelta(days=i % 7)
        made.append(_ticket(session, channel="email", status="open", due=due))
    session.commit()
    seen: list[str] = []
    url = "/console/tickets"
    pages = 0
    while url:
        page = client.get(url)
        shown = numbers(page)
        pages += 1
        assert len(shown) == (50 if pages < 3 else 17)
        seen += shown
        found = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', page.get_data(
            as_text=True))
        url = html.unescape(found.group(1)) if found else ""
    assert pages == 3
    assert sorted(seen) == sorted(made) and len(set(seen)) == len(seen)
    by_number = {n: i for i, n in enumerate(made)}
    dues = [None if by_number[n] % 13 == 0 else by_number[n] % 7 for n in seen]
    first_undated = dues.index(None)
    assert dues[:first_undated] == sorted(dues[:first_undated])  # soonest due first
    assert set(dues[first_undated:]) == {None}  # no due date (documents outstanding) last

def test_viewing_the_queue_writes_one_audit_row_with_the_filters(floor, session):
    client, _t, _lead = floor
    client.get("/console/tickets?channel=email&due=today")
    rows = session.scalars(select(AuditEntry).where(AuditEntry.actor == "user:sari",
                                                    AuditEntry.action != "sign_in")).all()
    assert [(r.action, r.subject) for r in rows] == [("view_queue", "tickets")]
    assert "channel=email" in rows[0].detail and "due=today" in rows[0].detail


def test_the_queue_needs_a_signed_in_agent_supervisor_or_qa(console):
    assert console.client().get("/console/tickets").status_code == 302
    assert console.signed_in("quinn", "qa").get("/console/tickets").status_code == 200


# --- the results table refreshes itself (htmx, every 20 s) -----------------------------------

SEEN = re.compile(r'<input type="hidden" name="seen" value="(\w+)">')
LIVE = re.compile(r'<div id="queue-results"[^>]* hx-get="([^"]+)" hx-trigger="every 20s"')


def audit_rows(session) -> int:
    session.expire_all()
    return len(session.scalars(select(AuditEntry)).all())


def test_the_results_refresh_from_a_fragment_with_the_same_filters(floor, session):
    """The page's results region polls a fragment URL carrying its filters; the fragment holds
    the same rows and no filter form, and polling writes no audit row (the page view did)."""
    client, made, _lead = floor
    page = client.get("/console/tickets?channel=email&due=today")
    text = page.get_data(as_text=True)
    live = html.unescape(LIVE.search(text).group(1))
    assert live.startswith("/console/tickets/live?") and "channel=email" in live
    before = audit_rows(session)
    fragment = client.get(live)
    assert fragment.status_code == 200 and fragment.headers["Cache-Control"] == "no-store"
    assert numbers(fragment) == [made["today_email"]] == numbers(page)
    assert "<form" not in fragment.get_data(as_text=True)  # the filters are not re-rendered
    assert audit_rows(session) == before


def test_an_unchanged_queue_answers_204_and_a_new_ticket_updates_it(floor, session):
    client, _made, _lead = floor
    text = client.get("/console/tickets").get_data(as_text=True)
    live, seen = html.unescape(LIVE.search(text).group(1)), SEEN.search(text).group(1)
    before = audit_rows(session)
    for _ in range(3):  # a quiet minute on the floor: nothing to swap, nothing re-read
        quiet = client.get(f"{live}&seen={seen}")
        assert quiet.status_code == 204 and quiet.get_data() == b""
    new = _ticket(session, channel="sms", status="open", due=utcnow() + timedelta(days=1))
    session.commit()
    changed = client.get(f"{live}&seen={seen}")
    assert changed.status_code == 200 and new in numbers(changed)
    fresh = SEEN.search(changed.get_data(as_text=True)).group(1)
    assert fresh != seen
    assert client.get(f"{live}&seen={fresh}").status_code == 204
    assert audit_rows(session) == before


def test_a_later_page_refreshes_that_page(console, session):
    client = console.signed_in("sari", "agent")
    due = utcnow() + timedelta(days=3)
    made = [_ticket(session, channel="email", status="open", due=due + timedelta(minutes=i))
            for i in range(52)]
    session.commit()
    first = client.get("/console/tickets")
    next_url = html.unescape(re.search(r'<a href="([^"]+)" rel="next">',
                                       first.get_data(as_text=True)).group(1))
    second = client.get(next_url)
    live = html.unescape(LIVE.search(second.get_data(as_text=True)).group(1))
    assert "after=" in live
    assert numbers(client.get(live)) == made[50:] == numbers(second)


def test_the_fragment_needs_a_signed_in_user(console):
    stranger = console.client().get("/console/tickets/live", headers={"HX-Request": "true"})
    assert stranger.status_code == 401 and stranger.headers["HX-Redirect"] == "/console/login"
