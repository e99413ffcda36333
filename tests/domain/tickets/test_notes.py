"""Notes: what the customer said, in the CS's words (PROCEDURE: "CS wajib mencatat informasi
keluhan"), through the one action :func:`actions.add_note` the console and API share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from callcenter.models import AuditEntry, Note
from callcenter.people import users
from callcenter.tickets import actions, lifecycle, timeline
from callcenter.tickets.actions import ActionRefused
from callcenter.tickets.serialize import ticket_json
from tests.factories import make_customer, make_ticket

PASSWORD = "a long enough password"


def test_a_note_is_kept_with_its_author_and_time_and_audited(session):
    sari = users.create_user(session, "sari", PASSWORD, "agent")
    ticket = make_ticket(session, customer=make_customer(session))
    at = datetime(2026, 11, 30, 3, 15, tzinfo=UTC)
    note = actions.add_note(session, sari, ticket, "  Nasabah sudah transfer tgl 28, "
                            "bukti via email.  ", now=at)
    session.commit()
    assert (note.author, note.text, note.created_at) == (
        "sari", "Nasabah sudah transfer tgl 28, bukti via email.", at)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "add_note")).one()
    assert (entry.actor, entry.subject) == ("user:sari", f"ticket:{ticket.number}")
    assert "transfer" not in (entry.detail or "")  # the trail says that, not what


@pytest.mark.parametrize("text", ["", "   \n\t ", None, "x" * (actions.MAX_NOTE + 1)])
def test_an_empty_or_oversized_note_is_refused_and_nothing_is_written(session, text):
    sari = users.create_user(session, "sari", PASSWORD, "agent")
    ticket = make_ticket(session)
    with pytest.raises(ActionRefused) as refused:
        actions.add_note(session, sari, ticket, text)
    assert refused.value.status == 400
    assert "empty" in str(refused.value) or "at most 4000 characters" in str(refused.value)
    assert session.scalar(select(func.count(Note.id))) == 0
    assert session.scalar(select(func.count(AuditEntry.id))) == 0


def test_exactly_the_limit_is_accepted(session):
    sari = users.create_user(session, "sari", PASSWORD, "agent")
    ticket = make_ticket(session)
    assert len(actions.add_note(session, sari, ticket, "y" * actions.MAX_NOTE).text) == 4000


def test_a_resolved_ticket_still_takes_a_note_and_stays_resolved(session):
    """What a customer says after resolution is still part of the record."""
    sari = users.create_user(session, "sari", PASSWORD, "agent")
    ticket = make_ticket(session, customer=make_customer(session))
    lifecycle.resolve(session, ticket, "Pembayaran sudah masuk.")
    actions.add_note(session, sari, ticket, "Nasabah menelepon lagi, sudah puas.")
    session.commit()
    assert ticket.status == "resolved"


def test_notes_appear_in_the_timeline_and_the_json_oldest_first(session, settings):
    sari = users.create_user(session, "sari", PASSWORD, "agent")
    dewi = users.create_user(session, "dewi", PASSWORD, "supervisor")
    ticket = make_ticket(session, customer=make_customer(session))
    base = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    actions.add_note(session, dewi, ticket, "Kedua", now=base + timedelta(minutes=5))
    actions.add_note(session, sari, ticket, "Pertama", now=base)
    session.commit()
    session.expire_all()
    loaded = timeline.load_ticket(session, ticket.number)
    entries = [e for e in timeline.timeline(session, loaded) if e.kind == "note"]
    assert [(str(e.label), e.note.text) for e in entries] == [
        ("Note by sari", "Pertama"), ("Note by dewi", "Kedua")]
    body = ticket_json(loaded, settings.timezone)
    assert body["notes"] == [
        {"author": "sari", "created_at": "2026-11-30T09:00:00+07:00", "text": "Pertama"},
        {"author": "dewi", "created_at": "2026-11-30T09:05:00+07:00", "text": "Kedua"}]


def test_notes_of_a_ticket_past_retention_are_anonymised_with_it(session, settings):
    """UU PDP: a note holds what the customer said, so it goes with the ticket's other
    personal data; a recent ticket's note stays."""
    from callcenter.compliance import retention

    sari = users.create_user(session, "sari", PASSWORD, "agent")
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    opened = now - timedelta(days=settings.retention_days + 40)
    old = lifecycle.open_ticket(session, channel="voice", customer_id=make_customer(session).id,
                                now=opened)
    actions.add_note(session, sari, old, "KTP nasabah 3171234567890001", now=opened)
    lifecycle.resolve(session, old, "Selesai.", now=opened + timedelta(days=2))
    recent = lifecycle.open_ticket(session, channel="email", customer_id=None, now=now)
    actions.add_note(session, sari, recent, "Masih dicek.", now=now)
    session.commit()
    retention.purge(session, settings, now=now)
    session.commit()
    session.expire_all()
    texts = {n.ticket_id: n.text for n in session.scalars(select(Note))}
    assert texts == {old.id: retention.PURGED, recent.id: "Masih dicek."}
