"""callcenter.ticket_actions without Flask: the rules of the console's actions (assigning,
scheduling a callback, the form's local times)."""

from __future__ import annotations

from datetime import datetime

import pytest

from callcenter import ticket_actions, users
from callcenter.ticket_actions import ActionRefused
from tests.factories import make_customer, make_ticket


def test_an_agent_assigns_only_themselves_and_a_supervisor_anyone(session):
    sari = users.create_user(session, "sari", "a long enough password", "agent")
    tono = users.create_user(session, "tono", "a long enough password", "agent")
    boss = users.create_user(session, "dewi", "a long enough password", "supervisor")
    qa = users.create_user(session, "quinn", "a long enough password", "qa")
    ticket = make_ticket(session)
    assert ticket_actions.assign(session, sari, ticket, sari.id) is sari
    with pytest.raises(ActionRefused, match="only for themselves"):
        ticket_actions.assign(session, sari, ticket, tono.id)
    with pytest.raises(ActionRefused, match="supervisor"):
        ticket_actions.assign(session, sari, ticket, None)
    assert ticket.owner_id == sari.id
    assert ticket_actions.assign(session, boss, ticket, tono.id) is tono
    with pytest.raises(ActionRefused, match="cannot be given tickets"):
        ticket_actions.assign(session, boss, ticket, qa.id)
    assert ticket_actions.assign(session, boss, ticket, None) is None and ticket.owner_id is None


def test_a_callback_says_whether_its_time_moved_into_the_calling_window(session, settings):
    budi = make_customer(session)
    ticket = make_ticket(session, channel="voice", customer=budi)
    now = datetime.fromisoformat("2030-11-27T10:00:00+07:00")  # a Wednesday, in the window
    inside = ticket_actions.schedule_callback(session, settings, ticket,
                                            datetime.fromisoformat("2030-11-27T11:00:00+07:00"),
                                            now=now)
    assert inside.created and not inside.moved
    assert inside.callback.due_at == datetime.fromisoformat("2030-11-27T11:00:00+07:00")
    again = ticket_actions.schedule_callback(session, settings, ticket, None, now=now)
    assert again.callback is inside.callback and not again.created
    other = make_ticket(session, channel="voice", customer=budi)
    night = ticket_actions.schedule_callback(session, settings, other,
                                           datetime.fromisoformat("2030-11-27T22:00:00+07:00"),
                                           now=now)
    assert night.moved
    assert night.callback.due_at == datetime.fromisoformat("2030-11-28T08:00:00+07:00")


def test_local_form_times_are_read_in_the_centres_zone():
    assert ticket_actions.parse_local("2030-11-27T09:30", "Asia/Jakarta") == (
        datetime.fromisoformat("2030-11-27T02:30:00+00:00"))
    assert ticket_actions.parse_local("", "Asia/Jakarta") is None
    with pytest.raises(ActionRefused):
        ticket_actions.parse_local("tomorrow", "Asia/Jakarta")

