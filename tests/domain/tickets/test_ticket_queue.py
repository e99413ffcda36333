"""callcenter.tickets.queue without Flask: the queue's order and pages, its cost in queries,
due badges, masked names, cursors and filters."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callcenter.compliance import regulation
from callcenter.models import utcnow
from callcenter.people import users
from callcenter.tickets import queue
from callcenter.tickets.queue import Cursor, QueueFilters
from tests.factories import make_customer, make_ticket
from tests.support.queries import counted


def test_pages_merge_the_statuses_in_due_order_with_ties_and_no_due_date_last(session,
                                                                              settings):
    start = utcnow() + timedelta(days=1)
    statuses = ("open", "pending_customer", "pending_documents")
    made = [make_ticket(session, status=statuses[i % 3],
                  due=None if i % 5 == 0 else start + timedelta(hours=i % 4))
            for i in range(20)]
    make_ticket(session, status="resolved", due=start)
    session.commit()
    expected = sorted(made, key=lambda t: (t.due_at is None, t.due_at or start, t.opened_at,
                                           t.id))
    seen, after = [], None
    while True:
        page = queue.queue_page(session, settings, QueueFilters(), user_id=None,
                                       after=after, page_size=3)
        seen += [row.ticket.number for row in page.rows]
        if page.next_cursor is None:
            break
        after = Cursor.decode(page.next_cursor)
    assert seen == [t.number for t in expected]


def test_the_queue_costs_one_query_per_status_whatever_the_rows(session, settings):
    budi = make_customer(session)
    sari = users.create_user(session, "sari", "a long enough password", "agent")
    for i in range(30):
        make_ticket(session, status=("open", "pending_customer")[i % 2], owner=sari, customer=budi,
              due=utcnow() + timedelta(days=i))
    session.commit()
    sari_id = sari.id
    session.expire_all()
    with counted(session) as statements:
        page = queue.queue_page(session, settings, QueueFilters(), user_id=sari_id)
        shown = [(row.customer, row.owner, row.ticket.number) for row in page.rows]
    assert len(shown) == 30 and shown[0][:2] == ("Budi S.", "sari")
    # Per status: the dated rows, and (a short page) the undated ones; never one per row.
    assert len(statements) <= 6


def test_due_badges_say_overdue_and_nearing(session, settings):
    now = utcnow()
    late = make_ticket(session, due=now - timedelta(hours=1))
    soon = make_ticket(session, due=now + timedelta(hours=1))
    far = make_ticket(session, due=now + timedelta(days=40))
    done = make_ticket(session, status="resolved", due=now - timedelta(days=1))
    calendar = regulation.WorkCalendar.from_settings(settings)
    badges = [queue.due_badge(t, now, calendar, 1) for t in (late, soon, far, done)]
    assert badges == ["overdue", "nearing", None, None]


@pytest.mark.parametrize("name,masked", [("Budi Santoso", "Budi S."),
                                         ("Siti Nur aisyah", "Siti N. A."), ("Budi", "Budi"),
                                         ("", ""), (None, "")])
def test_names_on_the_list_are_masked(name, masked):
    assert queue.mask_name(name) == masked


def test_a_cursor_survives_the_link_and_a_tampered_one_is_ignored():
    cursor = Cursor(None, datetime.fromisoformat("2026-01-02T03:04:05.123456+00:00"), 42)
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ("", "abc", "%%%", "LS18LTE", "x" * 300):
        assert Cursor.decode(bad) is None


def test_filters_from_the_query_string_are_checked():
    assert QueueFilters.from_args({"status": "resolved", "channel": "sms", "due": "today",
                                   "owner": "12"}).describe() == (
        "status=resolved channel=sms due=today owner=12")
    assert QueueFilters.from_args({"status": "x", "channel": "fax", "owner": "-1"}) == (
        QueueFilters())



def test_the_due_state_counts_working_days_late_or_left_as_the_floor_does(session, settings):
    """Breach flags: a Friday deadline missed is 0 working days late on Saturday (1 day),
    1 on Monday; a deadline today is "Due today"."""
    friday = datetime.fromisoformat("2030-11-22T23:59:59+07:00")
    ticket = make_ticket(session, due=friday)
    calendar = regulation.WorkCalendar.from_settings(settings)

    def state(local: str) -> tuple[str, int, str] | None:
        found = queue.due_state(ticket, datetime.fromisoformat(local + "+07:00"),
                                       calendar, 2)
        return (found.badge, found.working_days, found.text()) if found else None

    assert state("2030-11-18T09:00") is None  # four working days left
    assert state("2030-11-20T09:00") == ("nearing", 2, "Due soon: 2 working days left")
    assert state("2030-11-22T09:00") == ("nearing", 0, "Due today")
    assert state("2030-11-23T09:00") == ("overdue", 0,
                                         "Overdue: 1 day late (no working day yet)")
    assert state("2030-11-25T09:00") == ("overdue", 1, "Overdue: 1 working day late")
    ticket.status = "resolved"
    assert state("2030-11-25T09:00") is None
