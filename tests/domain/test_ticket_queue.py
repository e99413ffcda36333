"""callcenter.ticket_queue without Flask: the queue's order and pages, the merged timeline
(X2), and the rules of the console's actions."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from callcenter import ticket_queue, tickets, users
from callcenter.models import (
    Callback,
    Contact,
    OutboundEmail,
    OutboundMessage,
    utcnow,
)
from callcenter.ticket_queue import ActionRefused, Cursor, QueueFilters
from tests.factories import BUDI_PHONE, make_customer


@contextmanager
def counted(session):
    """How many SQL statements the block ran."""
    statements: list[str] = []
    engine = session.get_bind()

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _open(session, status="open", due=None, channel="email", owner=None, customer=None):
    ticket = tickets.open_ticket(session, channel=channel,
                                 customer_id=customer.id if customer else None)
    ticket.status, ticket.due_at = status, due
    ticket.owner_id = owner.id if owner else None
    session.flush()
    return ticket


def test_pages_merge_the_statuses_in_due_order_with_ties_and_no_due_date_last(session,
                                                                              settings):
    start = utcnow() + timedelta(days=1)
    statuses = ("open", "pending_customer", "pending_documents")
    made = [_open(session, status=statuses[i % 3],
                  due=None if i % 5 == 0 else start + timedelta(hours=i % 4))
            for i in range(20)]
    _open(session, status="resolved", due=start)
    session.commit()
    expected = sorted(made, key=lambda t: (t.due_at is None, t.due_at or start, t.opened_at,
                                           t.id))
    seen, after = [], None
    while True:
        page = ticket_queue.queue_page(session, settings, QueueFilters(), user_id=None,
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
        _open(session, status=("open", "pending_customer")[i % 2], owner=sari, customer=budi,
              due=utcnow() + timedelta(days=i))
    session.commit()
    sari_id = sari.id
    session.expire_all()
    with counted(session) as statements:
        page = ticket_queue.queue_page(session, settings, QueueFilters(), user_id=sari_id)
        shown = [(row.customer, row.owner, row.ticket.number) for row in page.rows]
    assert len(shown) == 30 and shown[0][:2] == ("Budi S.", "sari")
    # Per status: the dated rows, and (a short page) the undated ones; never one per row.
    assert len(statements) <= 6


def test_due_badges_say_overdue_and_nearing(session, settings):
    now = utcnow()
    late = _open(session, due=now - timedelta(hours=1))
    soon = _open(session, due=now + timedelta(hours=1))
    far = _open(session, due=now + timedelta(days=40))
    done = _open(session, status="resolved", due=now - timedelta(days=1))
    calendar = ticket_queue.regulation.WorkCalendar.from_settings(settings)
    badges = [ticket_queue.due_badge(t, now, calendar, 1) for t in (late, soon, far, done)]
    assert badges == ["overdue", "nearing", None, None]


@pytest.mark.parametrize("name,masked", [("Budi Santoso", "Budi S."),
                                         ("Siti Nur aisyah", "Siti N. A."), ("Budi", "Budi"),
                                         ("", ""), (None, "")])
def test_names_on_the_list_are_masked(name, masked):
    assert ticket_queue.mask_name(name) == masked


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


def test_the_timeline_merges_everything_by_time_and_loads_in_a_fixed_number_of_queries(
        session, settings):
    budi = make_customer(session)
    ticket = _open(session, channel="voice", customer=budi)
    base = utcnow() - timedelta(days=1)
    callback = Callback(ticket_id=ticket.id, reason="no_response", status="completed",
                        phone=BUDI_PHONE, due_at=base, created_at=base + timedelta(seconds=90))
    session.add(callback)
    session.flush()
    for i in range(10):
        session.add(Contact(ticket_id=ticket.id, channel="voice", direction="inbound",
                            status="completed", duration_s=i, started_at=base + timedelta(
                                minutes=10 - i)))
    session.add(OutboundEmail(ticket_id=ticket.id, to_address="budi@example.com",
                              subject="s", body="pending one", message_id="<a@x>",
                              status="pending", created_at=base + timedelta(minutes=30)))
    session.add(OutboundEmail(ticket_id=ticket.id, to_address="budi@example.com",
                              subject="s", body="sent one", message_id="<b@x>",
                              status="sent", created_at=base + timedelta(minutes=31)))
    session.add(OutboundMessage(ticket_id=ticket.id, to_number=BUDI_PHONE, body="failed sms",
                                status="failed", last_error="twilio 400",
                                created_at=base + timedelta(minutes=20)))
    session.commit()
    session.expire_all()
    with counted(session) as statements:
        loaded = ticket_queue.load_ticket(session, ticket.number)
        entries = ticket_queue.timeline(session, loaded)
    times = [e.at for e in entries]
    assert times == sorted(times)
    assert [e.kind for e in entries][:3] == ["call", "callback", "call"]
    assert [e.contact.duration_s for e in entries if e.kind == "call"] == list(
        range(9, -1, -1))
    unsent = [e for e in entries if e.kind == "outbox"]
    assert [(e.outbox.body, e.status) for e in unsent] == [("failed sms", "failed"),
                                                           ("pending one", "pending")]
    # ticket+customer, contacts, their agents (none here), callbacks, required documents,
    # documents, outbox emails, outbox messages: never one query per contact.
    assert len(statements) <= 8


def test_an_agent_assigns_only_themselves_and_a_supervisor_anyone(session):
    sari = users.create_user(session, "sari", "a long enough password", "agent")
    tono = users.create_user(session, "tono", "a long enough password", "agent")
    boss = users.create_user(session, "dewi", "a long enough password", "supervisor")
    qa = users.create_user(session, "quinn", "a long enough password", "qa")
    ticket = _open(session)
    assert ticket_queue.assign(session, sari, ticket, sari.id) is sari
    with pytest.raises(ActionRefused, match="only for themselves"):
        ticket_queue.assign(session, sari, ticket, tono.id)
    with pytest.raises(ActionRefused, match="supervisor"):
        ticket_queue.assign(session, sari, ticket, None)
    assert ticket.owner_id == sari.id
    assert ticket_queue.assign(session, boss, ticket, tono.id) is tono
    with pytest.raises(ActionRefused, match="cannot be given tickets"):
        ticket_queue.assign(session, boss, ticket, qa.id)
    assert ticket_queue.assign(session, boss, ticket, None) is None and ticket.owner_id is None


def test_a_callback_says_whether_its_time_moved_into_the_calling_window(session, settings):
    budi = make_customer(session)
    ticket = _open(session, channel="voice", customer=budi)
    now = datetime.fromisoformat("2030-11-27T10:00:00+07:00")  # a Wednesday, in the window
    inside = ticket_queue.schedule_callback(session, settings, ticket,
                                            datetime.fromisoformat("2030-11-27T11:00:00+07:00"),
                                            now=now)
    assert inside.created and not inside.moved
    assert inside.callback.due_at == datetime.fromisoformat("2030-11-27T11:00:00+07:00")
    again = ticket_queue.schedule_callback(session, settings, ticket, None, now=now)
    assert again.callback is inside.callback and not again.created
    other = _open(session, channel="voice", customer=budi)
    night = ticket_queue.schedule_callback(session, settings, other,
                                           datetime.fromisoformat("2030-11-27T22:00:00+07:00"),
                                           now=now)
    assert night.moved
    assert night.callback.due_at == datetime.fromisoformat("2030-11-28T08:00:00+07:00")


def test_local_form_times_are_read_in_the_centres_zone():
    assert ticket_queue.parse_local("2030-11-27T09:30", "Asia/Jakarta") == (
        datetime.fromisoformat("2030-11-27T02:30:00+00:00"))
    assert ticket_queue.parse_local("", "Asia/Jakarta") is None
    with pytest.raises(ActionRefused):
        ticket_queue.parse_local("tomorrow", "Asia/Jakarta")


def test_rupiah_and_durations_read_as_people_expect():
    assert ticket_queue.rupiah(1_250_000) == "Rp 1.250.000"
    assert ticket_queue.duration_text(75) == "1 min 15 s"
    assert ticket_queue.duration_text(9) == "9 s"
