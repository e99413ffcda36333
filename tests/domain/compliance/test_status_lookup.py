"""The public status look-up's rules (X3): right number and phone, or nothing; counted attempts.

Real database, real Redis (the counters are Redis keys).
"""

from __future__ import annotations

import time

import pytest
import time_machine

from callcenter import rate_limit
from callcenter.channels import social
from callcenter.compliance import status_lookup
from callcenter.models import Contact
from callcenter.rate_limit import Limit
from callcenter.tickets import lifecycle
from callcenter.tickets.numbers import number_for
from tests.factories import BUDI_PHONE, make_customer


def _ticket(session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                                 category="payment_detail")
    session.commit()
    return ticket


def _wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


@pytest.mark.parametrize("phone", ["+6281234567890", "081234567890", "0812-3456-7890",
                                   "6281234567890", "+62 812 3456 7890", "0812 3456 7890"])
def test_the_right_number_and_phone_in_any_common_form_find_the_status(session, settings,
                                                                         phone):
    ticket = _ticket(session)
    view = status_lookup.look_up(session, settings, ticket.number, phone)
    assert view is not None
    assert (view.number, view.status, view.due_at, view.extended) == (
        ticket.number, "open", ticket.due_at, False)


def test_spaces_and_dashes_in_the_ticket_number_are_forgiven(session, settings):
    ticket = _ticket(session)
    spaced = f"{ticket.number[:4]} {ticket.number[4:]}"
    assert status_lookup.look_up(session, settings, spaced, BUDI_PHONE) is not None
    assert status_lookup.look_up(session, settings, f"#{ticket.number}", BUDI_PHONE)


def test_a_wrong_phone_an_unknown_number_and_a_bad_check_digit_all_find_nothing(session,
                                                                                  settings):
    ticket = _ticket(session)
    make_customer(session, order_id="20261002", phone="+6281299990000", name="Siti")
    unknown = number_for(ticket.id + 1000)  # well-formed, but no ticket has it
    for number, phone in ((ticket.number, "+6281299990000"),  # someone else's phone
                          (unknown, BUDI_PHONE),
                          (_wrong_check_digit(ticket.number), BUDI_PHONE),
                          (ticket.number, "not a phone"),
                          ("abc", BUDI_PHONE)):
        assert status_lookup.look_up(session, settings, number, phone) is None, number


def test_a_ticket_opened_by_sms_answers_to_the_number_that_wrote(session, settings):
    """The same owner rule as the STATUS keyword: an unknown sender's own ticket."""
    ticket = lifecycle.open_ticket(session, channel="sms", customer_id=None,
                                 category="unverified")
    session.add(Contact(ticket_id=ticket.id, channel="sms", direction="inbound",
                        sender="+6281311112222", body="halo"))
    session.commit()
    assert social.ticket_phone(session, ticket) == "+6281311112222"
    assert status_lookup.look_up(session, settings, ticket.number, "0813-1111-2222")
    assert status_lookup.look_up(session, settings, ticket.number, BUDI_PHONE) is None


def test_a_fixed_window_refuses_past_the_limit_until_it_ends(redis_conn):
    limit = Limit("test", 3, 60)
    start = 1_800_000_000.0  # a window boundary (divisible by 60)
    hits = [rate_limit.hit(redis_conn, limit, "abc", now=start + i) for i in range(4)]
    assert [h.allowed for h in hits] == [True, True, True, False]
    assert hits[-1].count == 4 and hits[-1].retry_after_s == 57
    assert rate_limit.hit(redis_conn, limit, "other", now=start + 5).allowed  # per subject
    assert rate_limit.hit(redis_conn, limit, "abc", now=start + 60).allowed  # next window
    keys = redis_conn.keys("callcenter:ratelimit:test:abc:*")
    assert keys and all(0 < redis_conn.ttl(k) <= 61 for k in keys)  # they expire


def test_a_refused_client_does_not_use_up_the_tickets_allowance(redis_conn, settings):
    hour = int(time.time()) // 3600 * 3600
    with time_machine.travel(hour + 1350, tick=False):  # inside both windows
        _flood_then_five_clients(redis_conn, settings)


def _flood_then_five_clients(redis_conn, settings) -> None:
    number = "10000157"
    for attempt in range(status_lookup.PER_CLIENT.limit):
        assert status_lookup.count_attempt(redis_conn, settings, "flooder",
                                           f"{attempt}00") is None
    refused = status_lookup.count_attempt(redis_conn, settings, "flooder", number)
    assert refused is not None and refused.retry_after_s > 0
    for client in ("a", "b", "c", "d", "e"):  # the ticket's own five are all still there
        assert status_lookup.count_attempt(redis_conn, settings, client, number) is None
    assert status_lookup.count_attempt(redis_conn, settings, "f", number) is not None


def test_the_client_hash_is_stable_and_does_not_contain_the_address(settings):
    first = status_lookup.client_hash(settings, "203.0.113.7")
    assert first == status_lookup.client_hash(settings, "203.0.113.7")
    assert first != status_lookup.client_hash(settings, "203.0.113.8")
    assert "203" not in first and len(first) == 16
