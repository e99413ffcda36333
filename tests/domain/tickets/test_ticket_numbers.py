"""A ticket's number is its id's number with a check digit, unique, written with the ticket."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.db import session_factory
from callcenter.models import Ticket
from callcenter.tickets import lifecycle
from callcenter.tickets.numbers import is_well_formed, number_for


def test_an_opened_ticket_is_findable_by_its_number_before_commit(session):
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=None)
    assert ticket.number == number_for(ticket.id) and is_well_formed(ticket.number)
    assert lifecycle.find_by_number(session, ticket.number) is ticket
    stored = session.execute(select(Ticket.number).where(Ticket.id == ticket.id)).scalar_one()
    assert stored == ticket.number  # in the database already (flushed), not only in memory


def test_tickets_opened_in_two_transactions_at_once_get_different_numbers(session, settings):
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite lets one transaction write at a time")
    other = session_factory(settings.database_url)()
    try:
        first = lifecycle.open_ticket(session, channel="voice", customer_id=None)
        second = lifecycle.open_ticket(other, channel="email", customer_id=None)
        other.commit()
        session.commit()
    finally:
        other.close()
    assert first.number != second.number
    assert {first.number, second.number} == {number_for(first.id), number_for(second.id)}
    numbers = session.scalars(select(Ticket.number).order_by(Ticket.id)).all()
    assert numbers == sorted({first.number, second.number}, key=lambda n: int(n[:-1]))
