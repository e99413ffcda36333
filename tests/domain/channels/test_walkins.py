"""The walk-in desk (P4): verification, the direct answer, the visit record and its closing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.channels import walkins
from callcenter.content import Content
from callcenter.models import AuditEntry, OutboundMessage, utcnow
from callcenter.people.users import create_user
from callcenter.tickets import documents, lifecycle
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer

SECRET = "test-secret"


@pytest.fixture
def content():
    return Content.load()


@pytest.fixture
def budi(session):
    return make_customer(session)


@pytest.fixture
def agent(session):
    user = create_user(session, "sari", "long enough password", "agent")
    session.commit()
    return user


def _verify(session, name="Budi Santoso", phone=BUDI_PHONE, order=BUDI_ORDER,
            actor="user:sari"):
    return walkins.verify_visitor(session, actor=actor, name=name, phone=phone,
                                  order_id=order, secret=SECRET)


def test_name_phone_and_order_id_verify_the_visitor(session, budi):
    """P4.1: name (case and spacing aside), phone (any usual form) and Order ID match."""
    assert _verify(session).id == budi.id
    assert _verify(session, name="  budi   SANTOSO ", phone="0812-3456-7890").id == budi.id


@pytest.mark.parametrize("field,value", [
    ("name", "Budi Santosa"), ("name", "Budi"), ("phone", "+6281299999999"),
    ("phone", "not a phone"), ("order", "20269999"), ("order", "abc")])
def test_any_mismatch_fails_without_saying_which_part(session, budi, field, value):
    """P4.1: a mismatch of any part gives the same refusal, revealing no data."""
    with pytest.raises(walkins.NotVerified) as raised:
        _verify(session, **{field: value})
    message = str(raised.value)
    assert message == str(walkins.NotVerified())
    for word in ("name", "phone", "order", "Budi", "BCA"):
        assert word.lower() not in message.lower()


def test_three_failures_for_one_phone_mean_escalate(session, budi):
    """P4.1: after three failed attempts in 15 minutes the agent must escalate, even with
    the right details; another user (the supervisor) can still verify."""
    for _ in range(2):
        with pytest.raises(walkins.NotVerified):
            _verify(session, order="20260000")
    with pytest.raises(walkins.EscalateVerification):
        _verify(session, order="20260000")
    with pytest.raises(walkins.EscalateVerification):
        _verify(session)
    assert _verify(session, actor="user:lead").id == budi.id
    failures = session.scalars(select(AuditEntry).where(
        AuditEntry.action == walkins.FAILED_ACTION)).all()
    assert len(failures) == 3 and all(BUDI_PHONE not in (f.subject + (f.detail or ""))
                                      for f in failures)


def test_failures_older_than_fifteen_minutes_do_not_count(session, budi):
    key = walkins.phone_key(BUDI_PHONE, SECRET)
    old = utcnow() - timedelta(minutes=16)
    for _ in range(3):
        session.add(AuditEntry(at=old, actor="user:sari", action=walkins.FAILED_ACTION,
                               subject=key))
    session.commit()
    assert _verify(session).id == budi.id


def test_a_visit_opens_a_walk_in_ticket_and_queues_the_sms(session, content, budi, agent):
    """P4.4/P4.5: the visit is recorded on a new walk-in ticket with the oral due date; the
    ticket number goes by SMS to the registered phone; visit and data view are audited."""
    visit = walkins.register_visit(session, content, user=agent, actor="user:sari",
                                   customer=budi, problem="Payment not credited",
                                   language="en")
    session.commit()
    ticket, contact = visit.ticket, visit.contact
    assert not visit.continued
    assert ticket.channel == "walk_in" and ticket.status == "open" and ticket.language == "en"
    assert ticket.due_at > ticket.opened_at + timedelta(days=4)
    assert (contact.channel, contact.direction, contact.user_id, contact.body) == (
        "walk_in", "inbound", agent.id, "Payment not credited")
    sms = session.scalars(select(OutboundMessage)).one()
    assert sms.to_number == BUDI_PHONE and ticket.number in sms.body
    actions = {a.action for a in session.scalars(select(AuditEntry))}
    assert {"desk_visit", "view_customer"} <= actions


def test_a_visit_continues_the_open_ticket_unless_asked_for_a_new_one(session, content, budi,
                                                                      agent):
    """X1: a repeat contact about the same problem lands on the same ticket."""
    earlier = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id)
    session.commit()
    visit = walkins.register_visit(session, content, user=agent, actor="user:sari",
                                   customer=budi, problem="About my call")
    assert visit.continued and visit.ticket.id == earlier.id
    other = walkins.register_visit(session, content, user=agent, actor="user:sari",
                                   customer=budi, problem="Something else", new_ticket=True)
    assert not other.continued and other.ticket.id != earlier.id


def test_the_customer_data_and_answers_for_a_direct_answer(content, budi):
    """P4.2: the agent tells the solution directly from the customer's data."""
    data = walkins.customer_data(content, "id", budi)
    assert data["amount_due_text"] == "Rp 1.250.000"
    assert data["application_status_text"] == content.lookup("id", "statuses", "disbursed")
    assert (data["va_bank"], data["va_number"], data["due_date"]) == (
        "BCA", "8808123456", "2026-12-05")
    prepared = walkins.prepared_answers(content, "en", budi)
    assert set(prepared) == {"how_to_pay", "bill", "status"}
    assert "1,250,000" in prepared["bill"]["text"]


def test_the_slip_lists_what_to_bring(session, content, budi, agent):
    """P4.3/P4.5: the printed slip carries the ticket number and the missing documents."""
    visit = walkins.register_visit(session, content, user=agent, actor="user:sari",
                                   customer=budi, problem="Refund")
    documents.require_documents(session, visit.ticket, ["KTP"])
    slip = walkins.slip_text(content, "en", visit.ticket, "Asia/Jakarta")
    assert visit.ticket.number in slip and "- KTP" in slip


def test_closing_records_anything_else_summary_and_greeting(session, content, budi, agent):
    """P4.6–P4.8: "anything else?" asked and answered, the summary said and the closing
    greeting, all kept on the visit; "yes" keeps the visit open for the next question."""
    visit = walkins.register_visit(session, content, user=agent, actor="user:sari",
                                   customer=budi, problem="Bill", language="en")
    lines = walkins.close_visit(session, content, visit.contact, anything_else=True,
                                summary=None, actor="user:sari")
    assert lines == [content.text("en", "desk_anything_else")]
    assert visit.contact.status == "in-progress"
    lines = walkins.close_visit(session, content, visit.contact, anything_else=False,
                                summary="your bill is Rp 1,250,000", actor="user:sari")
    session.commit()
    assert lines[-1] == content.text("en", "desk_closing_greeting")
    assert "your bill is Rp 1,250,000" in lines[1] and visit.ticket.number in lines[2]
    topics = [entry["topic"] for entry in visit.contact.answers]
    assert topics == ["anything_else", "anything_else", "summary", "ticket_number",
                      "closing_greeting"]
    assert visit.contact.status == "completed" and visit.contact.ended_at is not None
    with pytest.raises(walkins.VisitClosed):
        walkins.close_visit(session, content, visit.contact, anything_else=False,
                            summary="again", actor="user:sari")
