"""callcenter.tickets.timeline without Flask: one ticket's merged timeline (X2) and what it
costs in queries; the console's formatting of what the ticket page shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter import display
from callcenter.models import (
    Callback,
    Contact,
    OutboundEmail,
    OutboundMessage,
    utcnow,
)
from callcenter.tickets import timeline
from tests.factories import BUDI_PHONE, make_customer, make_ticket
from tests.support.queries import counted


def test_the_timeline_merges_everything_by_time_and_loads_in_a_fixed_number_of_queries(
        session, settings):
    budi = make_customer(session)
    ticket = make_ticket(session, channel="voice", customer=budi)
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
        loaded = timeline.load_ticket(session, ticket.number)
        entries = timeline.timeline(session, loaded)
    times = [e.at for e in entries]
    assert times == sorted(times)
    assert [e.kind for e in entries][:3] == ["call", "callback", "call"]
    assert [e.contact.duration_s for e in entries if e.kind == "call"] == list(
        range(9, -1, -1))
    unsent = [e for e in entries if e.kind == "outbox"]
    assert [(e.outbox.body, e.status) for e in unsent] == [("failed sms", "failed"),
                                                           ("pending one", "pending")]
    # ticket+customer, contacts, their agents (none here), callbacks, required documents,
    # notes, documents, outbox emails, outbox messages: never one query per contact.
    assert len(statements) <= 9



def test_rupiah_and_durations_read_as_people_expect():
    """In the reader's language (CLDR's words and digit grouping)."""
    assert display.rupiah(1_250_000) == "Rp 1.250.000"
    assert display.rupiah(0) == "Rp 0" and display.rupiah(None) == ""
    assert display.rupiah(1_250_000, "en") == "Rp 1,250,000"
    assert display.duration_text(75, "id") == "1 mnt 15 dtk"
    assert display.duration_text(9, "id") == "9 dtk"
    assert display.duration_text(75, "en") == "1 min 15 secs"
    assert display.duration_text(9, "en") == "9 secs"


def test_times_are_written_in_the_centres_zone_and_the_readers_language():
    moment = datetime(2026, 11, 30, 1, 0, 5, tzinfo=UTC)
    assert display.local_time(moment, "Asia/Jakarta", language="id") == (
        "Sen 30 Nov 2026, 08.00 WIB")
    assert display.local_time(moment, "Asia/Jakarta", language="en") == (
        "Mon 30 Nov 2026, 08:00 WIB")
    assert display.local_time(moment, "Asia/Jakarta", "short", language="id") == "30 Nov 08.00"
    assert display.local_time(None, "Asia/Jakarta", empty="-") == "-"
    assert display.size_text(1572864, "id") == "1,5 MB"
    assert display.size_text(1572864, "en") == "1.5 MB"
