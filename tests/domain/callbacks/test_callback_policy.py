"""Callback policy: calling window per customer zone, caps, ladder, exactly-once claim."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.callbacks import policy
from callcenter.models import Callback, Contact
from callcenter.tickets import lifecycle
from tests.factories import make_customer

JAKARTA = ZoneInfo("Asia/Jakarta")
JAYAPURA = ZoneInfo("Asia/Jayapura")


def _ticket(session, **customer):
    person = make_customer(session, **customer)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=person.id)
    session.commit()
    return ticket


def _local(callback: Callback, zone: ZoneInfo) -> datetime:
    return callback.due_at.astimezone(zone)


def test_inside_the_window_the_callback_is_due_at_once(session, settings):
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 10, 0, tzinfo=JAKARTA)  # Wednesday
    callback, created = policy.request_callback(session, settings, ticket,
                                                   reason="more_explanation", earliest=now)
    assert created and callback.due_at == now


def test_1930_in_jakarta_is_too_late_in_jayapura(session, settings):
    """19:30 WIB is 21:30 WIT: a Jayapura customer is called at 08:00 their time."""
    ticket = _ticket(session, timezone="Asia/Jayapura")
    now = datetime(2026, 11, 25, 19, 30, tzinfo=JAKARTA)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                             earliest=now)
    assert _local(callback, JAYAPURA) == datetime(2026, 11, 26, 8, 0, tzinfo=JAYAPURA)


def test_same_hour_is_fine_for_a_jakarta_customer(session, settings):
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 19, 30, tzinfo=JAKARTA)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                             earliest=now)
    assert callback.due_at == now


def test_saturday_evening_moves_past_sunday_to_monday(session, settings):
    ticket = _ticket(session)
    now = datetime(2026, 11, 28, 20, 30, tzinfo=JAKARTA)  # Saturday after hours
    callback, _ = policy.request_callback(session, settings, ticket, reason="no_response",
                                             earliest=now)
    assert _local(callback, JAKARTA) == datetime(2026, 11, 30, 8, 0, tzinfo=JAKARTA)


def test_christmas_eve_evening_skips_christmas_day(session, settings):
    ticket = _ticket(session)
    now = datetime(2026, 12, 24, 21, 0, tzinfo=JAKARTA)  # 25 Dec is a national holiday
    callback, _ = policy.request_callback(session, settings, ticket, reason="no_response",
                                             earliest=now)
    assert _local(callback, JAKARTA) == datetime(2026, 12, 26, 8, 0, tzinfo=JAKARTA)


def test_idul_fitri_saturday_is_not_a_calling_day(session, settings):
    ticket = _ticket(session)
    now = datetime(2026, 3, 20, 21, 0, tzinfo=JAKARTA)  # Fri night; Sat 21 Mar is Idul Fitri
    callback, _ = policy.request_callback(session, settings, ticket, reason="no_response",
                                             earliest=now)
    assert _local(callback, JAKARTA) == datetime(2026, 3, 23, 8, 0, tzinfo=JAKARTA)


def test_calling_hours_setting_is_honoured(session, settings):
    ticket = _ticket(session)
    narrow = replace(settings, calling_hours=(datetime.min.time().replace(hour=9),
                                              datetime.min.time().replace(hour=17)))
    now = datetime(2026, 11, 25, 7, 0, tzinfo=JAKARTA)
    callback, _ = policy.request_callback(session, narrow, ticket, reason="dropped_call",
                                             earliest=now)
    assert _local(callback, JAKARTA).hour == 9


def test_asking_twice_keeps_one_pending_callback(session, settings):
    ticket = _ticket(session)
    first, created = policy.request_callback(session, settings, ticket, reason="dropped_call")
    again, created_again = policy.request_callback(session, settings, ticket,
                                                      reason="more_explanation")
    session.commit()
    assert created and not created_again and again.id == first.id
    assert len(session.scalars(select(Callback)).all()) == 1


def test_no_callback_without_a_verified_customer(session, settings):
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=None)
    callback, created = policy.request_callback(session, settings, ticket,
                                                   reason="dropped_call")
    assert callback is None and not created


def test_resolving_a_ticket_cancels_its_callback(session, settings):
    ticket = _ticket(session)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call")
    lifecycle.resolve(session, ticket, "explained")
    session.commit()
    session.refresh(callback)
    assert callback.status == "cancelled"


def test_only_one_claim_wins(session, settings):
    ticket = _ticket(session)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                             earliest=datetime(2026, 11, 25, 3, tzinfo=UTC))
    session.commit()
    now = datetime(2026, 11, 25, 4, tzinfo=UTC)
    assert policy.claim(session, callback.id, now)
    assert not policy.claim(session, callback.id, now)
    session.commit()
    session.refresh(callback)
    assert (callback.status, callback.attempts) == ("dialing", 1)


def test_a_callback_is_not_claimed_before_it_is_due(session, settings):
    ticket = _ticket(session)
    due = datetime(2026, 11, 25, 5, tzinfo=UTC)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                             earliest=due)
    session.commit()
    assert not policy.claim(session, callback.id, due - timedelta(seconds=2))
    # RQ's scheduler works in whole seconds: a job starting a moment early still claims it.
    assert policy.claim(session, callback.id, due - timedelta(milliseconds=500))


def _dialing(session, settings, ticket, now, sid="CA" + "1" * 32):
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                             earliest=now)
    session.commit()
    assert policy.claim(session, callback.id, now)
    session.refresh(callback)
    policy.placed(session, callback, sid)
    return callback


@pytest.mark.parametrize(("status", "answered_by"), [
    ("no-answer", None), ("busy", None), ("failed", None), ("completed", "machine_end_beep")])
def test_unanswered_attempts_climb_the_retry_ladder(session, settings, status, answered_by):
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta
    callback = _dialing(session, settings, ticket, now)
    when = policy.settle(session, settings, callback, callback.call_sid, status,
                            answered_by, now=now)
    assert when == now + timedelta(minutes=settings.callback_retry_minutes[0])
    assert callback.status == "scheduled" and callback.attempts == 1


def test_human_answer_completes_the_callback(session, settings):
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    callback = _dialing(session, settings, ticket, now)
    assert policy.settle(session, settings, callback, callback.call_sid, "completed",
                            "human", now=now) is None
    assert callback.status == "completed"


def test_attempt_cap_fails_the_callback_with_the_reason(session, settings):
    ticket = _ticket(session)
    capped = replace(settings, callback_max_attempts=1)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    callback = _dialing(session, capped, ticket, now)
    policy.settle(session, capped, callback, callback.call_sid, "no-answer", None, now=now)
    assert callback.status == "failed"
    assert "not reached after 1 attempts (no-answer)" in callback.last_error


def test_event_of_an_earlier_attempt_changes_nothing(session, settings):
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    callback = _dialing(session, settings, ticket, now, sid="CA" + "2" * 32)
    assert policy.settle(session, settings, callback, "CA" + "9" * 32, "no-answer", None,
                            now=now) is None
    assert callback.status == "dialing"


def test_daily_cap_moves_the_call_to_the_next_day(session, settings):
    ticket = _ticket(session)
    capped = replace(settings, callback_daily_cap=1)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    callback = _dialing(session, capped, ticket, now)
    policy.settle(session, capped, callback, callback.call_sid, "busy", None, now=now)
    session.commit()
    decision = policy.decide(session, capped, callback, now=now + timedelta(minutes=15))
    assert decision.action == "reschedule" and decision.reason == "daily call cap reached"
    assert decision.when.astimezone(JAKARTA) == datetime(2026, 11, 26, 8, tzinfo=JAKARTA)


def test_the_claim_brings_the_daily_cap_the_rules_would_read(session, settings):
    """The job's claim carries the customer's calls of the day (one statement on PostgreSQL):
    the second call of a capped day is moved to the next morning exactly as when the rules
    read them themselves."""
    ticket = _ticket(session)
    capped = replace(settings, callback_daily_cap=1)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    first = _dialing(session, capped, ticket, now)
    policy.settle(session, capped, first, first.call_sid, "busy", None, now=now)
    session.commit()
    later = now + timedelta(minutes=15)
    claimed = policy.claim_due(session, first.id, later, settings=capped)
    assert claimed is not None and claimed.callback.status == "dialing"
    with_claim = policy.decide(session, capped, claimed.callback, now=later,
                               customer=claimed.customer)
    on_its_own = policy.decide(session, capped, claimed.callback, now=later)
    assert with_claim == on_its_own
    assert with_claim.action == "reschedule" and with_claim.reason == "daily call cap reached"


def test_a_status_callback_that_comes_before_the_sid_ends_the_api_error_streak(
        session, settings):
    """A 500, then an attempt whose call's status callback beats Twilio's answer to the
    job: the call was accepted, so the next API error backs off from the start again."""
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                          earliest=now)
    session.commit()
    claimed = policy.claim_due(session, callback.id, now, settings=settings)
    retry = policy.api_error(claimed.callback, 500, 20500, "Internal", now=now)
    session.commit()
    again = policy.claim_due(session, callback.id, retry, settings=settings)
    assert again.callback.api_errors == 1 and again.callback.call_sid is None
    policy.settle(session, settings, again.callback, "CA" + "3" * 32, "busy", None, now=retry)
    session.commit()
    assert policy.placed(session, again.callback, "CA" + "3" * 32) is False  # settled first
    session.commit()
    session.refresh(callback)
    assert (callback.status, callback.last_error, callback.api_errors) == (
        "scheduled", "busy", 0)


def test_a_claim_says_since_when_an_earlier_ambiguous_attempt_may_have_placed_a_call(
        session, settings):
    """After a 500 the row keeps the time a call may exist since; the next claim returns that
    time (the job then asks Twilio before dialling) and a claim after a clean give-back
    returns none."""
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                          earliest=now)
    session.commit()
    claimed = policy.claim_due(session, callback.id, now, settings=settings)
    assert claimed is not None and claimed.placed_since is None
    retry = policy.api_error(claimed.callback, 500, 20500, "Internal", now=now)
    session.commit()
    again = policy.claim_due(session, callback.id, retry, settings=settings)
    assert again is not None and again.placed_since == now
    assert again.callback.dialing_since == retry  # the row: this claim's own time
    assert policy.claim_due(session, callback.id, retry, settings=settings) is None  # taken


def test_a_claimed_callback_whose_ticket_lost_its_customer_fails_the_rules(session, settings):
    """A callback goes only to the ticket's customer (P2.1): a ticket that no longer names
    one fails the rules; the claim still returns the row, so it is not left dialling."""
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                          earliest=now)
    ticket.customer_id = None
    session.commit()
    claimed = policy.claim_due(session, callback.id, now, settings=settings)
    assert claimed is not None
    decision = policy.decide(session, settings, claimed.callback, now=now,
                             customer=claimed.customer)
    assert decision.action == "fail"


def test_twilio_5xx_and_429_back_off_without_counting_an_attempt(session, settings):
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                             earliest=now)
    session.commit()
    policy.claim(session, callback.id, now)
    session.refresh(callback)
    first = policy.api_error(callback, 500, 20500, "Internal", now=now)
    assert callback.status == "scheduled" and callback.attempts == 0
    policy.claim(session, callback.id, first)
    session.refresh(callback)
    second = policy.api_error(callback, 429, 20429, "Too many", now=now)
    assert second - now > first - now


def test_invalid_number_fails_for_good_with_the_reason(session, settings):
    ticket = _ticket(session)
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    callback, _ = policy.request_callback(session, settings, ticket, reason="dropped_call",
                                             earliest=now)
    assert policy.api_error(callback, 400, 21211, "invalid To", now=now) is None
    assert callback.status == "failed" and "21211" in callback.last_error


def test_silence_after_our_sms_owes_a_no_response_callback_once(session, settings):
    ticket = _ticket(session)
    ticket.status = "pending_customer"
    sent = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    session.add(Contact(ticket_id=ticket.id, channel="sms", direction="outbound",
                        external_id="SM" + "1" * 32, status="delivered", started_at=sent,
                        asks_customer=True))
    session.commit()
    too_soon = sent + timedelta(hours=settings.no_response_hours - 1)
    assert policy.schedule_no_response(session, settings, now=too_soon) == []
    later = sent + timedelta(hours=settings.no_response_hours + 1)
    created = policy.schedule_no_response(session, settings, now=later)
    session.commit()
    assert [c.reason for c in created] == ["no_response"]
    assert policy.schedule_no_response(session, settings, now=later) == []


def test_a_customer_reply_stops_the_no_response_clock(session, settings):
    ticket = _ticket(session)
    ticket.status = "pending_customer"
    sent = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    session.add_all([
        Contact(ticket_id=ticket.id, channel="sms", direction="outbound",
                external_id="SM" + "1" * 32, status="delivered", started_at=sent,
                asks_customer=True),
        Contact(ticket_id=ticket.id, channel="email", direction="inbound",
                external_id="<reply@example.com>", status="received",
                started_at=sent + timedelta(hours=2)),
    ])
    session.commit()
    later = sent + timedelta(hours=settings.no_response_hours + 5)
    assert policy.schedule_no_response(session, settings, now=later) == []



def test_an_acknowledgement_that_asks_nothing_starts_no_clock(session, settings):
    """P2.2b is about our unanswered *question*, not a receipt."""
    ticket = _ticket(session)
    ticket.status = "pending_customer"
    sent = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    session.add(Contact(ticket_id=ticket.id, channel="sms", direction="outbound",
                        external_id="SM" + "2" * 32, status="delivered", started_at=sent))
    session.commit()
    later = sent + timedelta(hours=settings.no_response_hours + 1)
    assert policy.schedule_no_response(session, settings, now=later) == []
