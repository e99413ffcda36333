"""A call leg is taken in once per CallSid, a provider event once per key (Twilio retries)."""

from __future__ import annotations

from sqlalchemy import func, select

from callcenter.db import session_factory
from callcenter.models import Contact, WebhookEvent
from callcenter.voice import calls
from tests.factories import BUDI_PHONE

HOTLINE = "+622150001234"


def test_the_same_call_begun_twice_is_one_contact(session, settings):
    """The second request (a retry that raced the first) gets the first one's contact."""
    first, created = calls.begin_inbound(session, "CA" + "1" * 32, "0812-3456-7890", HOTLINE)
    session.commit()
    other = session_factory(settings.database_url)()
    try:
        second, created_again = calls.begin_inbound(other, "CA" + "1" * 32, BUDI_PHONE, HOTLINE)
        other.commit()
    finally:
        other.close()
    assert created and not created_again
    assert second.id == first.id and second.from_number == "+6281234567890"
    assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_a_new_call_is_stored_with_its_caller_in_e164(session):
    contact, created = calls.begin_inbound(session, "CA" + "2" * 32, "0812-3456-7890", HOTLINE)
    session.commit()
    assert created and contact.id is not None
    stored = session.scalars(select(Contact)).one()
    assert (stored.from_number, stored.status, stored.kind) == (
        "+6281234567890", "in-progress", "customer")
    assert stored.ivr_state == {} and stored.menu_path == [] and not stored.verified


def test_a_provider_event_has_its_effect_once(session, settings):
    assert calls.first_time(session, "voice-status:CA1:completed:0")
    assert not calls.first_time(session, "voice-status:CA1:completed:0")
    session.commit()
    other = session_factory(settings.database_url)()
    try:
        assert not calls.first_time(other, "voice-status:CA1:completed:0")
        assert calls.first_time(other, "voice-status:CA1:completed:1")
        other.commit()
    finally:
        other.close()
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 2
