"""Extending a written complaint once, with written notice (POJK 22/2023)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from callcenter.compliance.regulation import WorkCalendar
from callcenter.models import AuditEntry, Ticket
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.factories import BUDI_PHONE, make_customer

BOSS = ("sinta", "long enough password")
AGENT = ("sari", "long enough password")


def _setup(session, channel: str = "email") -> Ticket:
    users.create_user(session, *BOSS, "supervisor")
    users.create_user(session, *AGENT, "agent")
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel=channel, customer_id=customer.id,
                                 category="payment_detail")
    session.commit()
    return ticket


def _extend(hotline, number: str, auth=BOSS, **body):
    return hotline.live.app.test_client().post(
        f"/api/tickets/{number}/extension", json=body or {"reason": "menunggu data bank"},
        auth=auth)


def test_a_written_complaint_is_extended_once_and_the_customer_told(hotline, session):
    ticket = _setup(session)
    first_due = ticket.due_at
    answer = _extend(hotline, ticket.number)
    assert answer.status_code == 200, answer.get_json()
    new_due = datetime.fromisoformat(answer.get_json()["due_at"])
    local = WorkCalendar().add_working_days(first_due.astimezone(new_due.tzinfo).date(), 10)
    assert new_due.date() == local  # ten more working days
    hotline.run_jobs()
    notice = hotline.sim.wait_for_message(to=BUDI_PHONE)
    assert ticket.number in notice["body"] and "menunggu data bank" in notice["body"]
    again = _extend(hotline, ticket.number)
    assert again.status_code == 409 and "already extended" in again.get_json()["message"]
    session.expire_all()
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "extend_deadline")).one().actor == "user:sinta"


def test_oral_complaints_and_agents_cannot_extend(hotline, session):
    oral = _setup(session, channel="voice")
    refused = _extend(hotline, oral.number)
    assert refused.status_code == 409 and "oral" in refused.get_json()["message"]
    assert _extend(hotline, oral.number, auth=AGENT).status_code == 403
    assert _extend(hotline, oral.number, reason="").status_code == 400
