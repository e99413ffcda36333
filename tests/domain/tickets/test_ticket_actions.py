"""callcenter.tickets.actions without Flask: the rules of the console's actions (assigning,
scheduling a callback, the form's local times)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from callcenter.content import Content
from callcenter.models import AuditEntry, OutboundMessage
from callcenter.people import users
from callcenter.tickets import actions, lifecycle
from callcenter.tickets.actions import ActionRefused
from tests.factories import BUDI_PHONE, make_customer, make_ticket


def test_an_agent_assigns_only_themselves_and_a_supervisor_anyone(session):
    sari = users.create_user(session, "sari", "a long enough password", "agent")
    tono = users.create_user(session, "tono", "a long enough password", "agent")
    boss = users.create_user(session, "dewi", "a long enough password", "supervisor")
    qa = users.create_user(session, "quinn", "a long enough password", "qa")
    ticket = make_ticket(session)
    assert actions.assign(session, sari, ticket, sari.id) is sari
    with pytest.raises(ActionRefused, match="only for themselves"):
        actions.assign(session, sari, ticket, tono.id)
    with pytest.raises(ActionRefused, match="supervisor"):
        actions.assign(session, sari, ticket, None)
    assert ticket.owner_id == sari.id
    assert actions.assign(session, boss, ticket, tono.id) is tono
    with pytest.raises(ActionRefused, match="cannot be given tickets"):
        actions.assign(session, boss, ticket, qa.id)
    assert actions.assign(session, boss, ticket, None) is None and ticket.owner_id is None


def test_a_callback_says_whether_its_time_moved_into_the_calling_window(session, settings):
    budi = make_customer(session)
    ticket = make_ticket(session, channel="voice", customer=budi)
    now = datetime.fromisoformat("2030-11-27T10:00:00+07:00")  # a Wednesday, in the window
    inside = actions.schedule_callback(session, settings, ticket,
                                       datetime.fromisoformat("2030-11-27T11:00:00+07:00"),
                                       actor="user:sari", now=now)
    assert inside.created and not inside.moved
    assert inside.callback.due_at == datetime.fromisoformat("2030-11-27T11:00:00+07:00")
    again = actions.schedule_callback(session, settings, ticket, None, actor="user:sari",
                                      now=now)
    assert again.callback is inside.callback and not again.created
    other = make_ticket(session, channel="voice", customer=budi)
    night = actions.schedule_callback(session, settings, other,
                                      datetime.fromisoformat("2030-11-27T22:00:00+07:00"),
                                      actor="user:sari", now=now)
    assert night.moved
    assert night.callback.due_at == datetime.fromisoformat("2030-11-28T08:00:00+07:00")


def test_local_form_times_are_read_in_the_centres_zone():
    assert actions.parse_local("2030-11-27T09:30", "Asia/Jakarta") == (
        datetime.fromisoformat("2030-11-27T02:30:00+00:00"))
    assert actions.parse_local("", "Asia/Jakarta") is None
    with pytest.raises(ActionRefused):
        actions.parse_local("tomorrow", "Asia/Jakarta")



def test_the_extension_moves_the_deadline_queues_the_notice_and_audits_it_once(session,
                                                                              settings):
    """POJK 22/2023: one extension of 10 working days of a written complaint, with a written
    notice; the API and the console both go through this one function."""
    budi = make_customer(session)
    opened = datetime.fromisoformat("2030-11-06T10:00:00+07:00")
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=budi.id,
                                 language="id", settings=settings, now=opened)
    content = Content.load()
    with pytest.raises(actions.ReasonMissing):
        actions.extend_deadline(session, settings, content, ticket, " ",
                                       actor="user:dewi", now=opened)
    done = actions.extend_deadline(session, settings, content, ticket,
                                          "menunggu data bank", actor="user:dewi", now=opened)
    assert done.first_due_at == datetime.fromisoformat("2030-11-20T23:59:59+07:00")
    assert ticket.due_at == done.new_due_at == datetime.fromisoformat(
        "2030-12-04T23:59:59+07:00")
    notice = session.get(OutboundMessage, done.notice_id)
    assert notice.to_number == BUDI_PHONE and "4 Desember 2030" in notice.body
    assert "menunggu data bank" in notice.body and ticket.number in notice.body
    with pytest.raises(actions.ExtensionRefused, match="already extended once"):
        actions.extend_deadline(session, settings, content, ticket, "lagi",
                                       actor="user:dewi", now=opened)
    rows = session.scalars(select(AuditEntry)).all()
    assert [(r.actor, r.action, r.subject) for r in rows] == [
        ("user:dewi", "extend_deadline", f"ticket:{ticket.number}")]
    assert session.scalar(select(func.count(OutboundMessage.id))) == 1


def test_no_extension_without_a_verified_customer_to_tell(session, settings):
    opened = datetime.fromisoformat("2030-11-06T10:00:00+07:00")
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=None, settings=settings,
                                 now=opened)
    due = ticket.due_at
    with pytest.raises(actions.ExtensionRefused, match="no verified customer"):
        actions.extend_deadline(session, settings, Content.load(), ticket, "why",
                                       actor="user:dewi", now=opened)
    assert ticket.due_at == due
    assert session.scalar(select(func.count(AuditEntry.id))) == 0
