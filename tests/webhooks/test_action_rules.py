"""One rule per action, whoever asks: the JSON API and the walk-in desk refuse what the
console refuses, because both call the same function in ``callcenter.tickets.actions``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from callcenter.channels import templates
from callcenter.models import (
    AuditEntry,
    Callback,
    Contact,
    OutboundEmail,
    OutboundMessage,
    Template,
    Ticket,
    utcnow,
)
from callcenter.people import users
from callcenter.statuses import MessageStatus, TicketStatus
from callcenter.tickets import actions, lifecycle
from tests.conftest import API_TOKEN
from tests.factories import BUDI_PHONE, make_customer
from webhooks.app import create_app

TOKEN = {"Authorization": f"Bearer {API_TOKEN}"}
PASSWORD = "long enough password"
SARI = ("sari", PASSWORD)
WEDNESDAY = datetime.fromisoformat("2030-11-27T10:00:00+07:00")


@pytest.fixture
def client(settings, session):
    users.create_user(session, "sari", PASSWORD, "agent")
    session.commit()
    return create_app(settings).test_client()


def _ticket(session, settings, channel: str = "voice") -> Ticket:
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel=channel, customer_id=customer.id,
                                   settings=settings)
    session.commit()
    return ticket


def _resolved(session, settings, channel: str = "voice") -> Ticket:
    ticket = _ticket(session, settings, channel)
    lifecycle.resolve(session, ticket, "Settled by phone.")
    session.commit()
    return ticket


def _approved(session, channel: str, **fields: object) -> Template:
    author = users.create_user(session, "author", PASSWORD, "agent")
    checker = users.create_user(session, "checker", PASSWORD, "qa")
    draft = templates.create_draft(session, author, key=f"follow_up_{channel}", language="id",
                                   channel=channel, body="Halo {name}, tiket {ticket}.",
                                   subject="Tiket {ticket}" if channel == "email" else None)
    templates.approve(session, checker, draft, read=templates.digest(draft))
    for name, value in fields.items():
        setattr(draft, name, value)
    session.commit()
    return draft


# --- schedule a callback: POST /api/tickets/<n>/callbacks as the console's form ------------


def test_the_api_refuses_a_callback_on_a_resolved_ticket_as_the_console_does(client, session,
                                                                              settings):
    ticket = _resolved(session, settings)
    response = client.post(f"/api/tickets/{ticket.number}/callbacks", auth=SARI, json={})
    assert response.status_code == 409 and response.is_json
    assert "resolved" in response.get_json()["message"]
    assert session.scalar(select(func.count(Callback.id))) == 0
    assert session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "schedule_callback")) == 0


def test_the_api_refuses_a_callback_time_in_the_past_as_the_console_does(client, session,
                                                                          settings):
    ticket = _ticket(session, settings)
    past = (utcnow() - actions.PAST_GRACE - timedelta(minutes=1)).isoformat()
    response = client.post(f"/api/tickets/{ticket.number}/callbacks", auth=SARI,
                           json={"due_at": past})
    assert response.status_code == 400 and "in the past" in response.get_json()["message"]
    assert session.scalar(select(func.count(Callback.id))) == 0


def test_a_callback_time_just_past_is_taken_as_now_within_the_forms_grace(client, session,
                                                                           settings):
    """The request was written a moment ago: as in the console, no refusal within the grace,
    and the call is owed from now, never from a time already gone."""
    ticket = _ticket(session, settings)
    with time_machine.travel(WEDNESDAY, tick=False):  # inside the calling window
        response = client.post(f"/api/tickets/{ticket.number}/callbacks", auth=SARI,
                               json={"due_at": (WEDNESDAY - timedelta(minutes=1)).isoformat()})
    assert response.status_code == 201
    assert session.scalars(select(Callback)).one().due_at == WEDNESDAY


# --- resolve: the desk's POST /api/tickets/<n>/resolve as the console's form ---------------


def test_the_desk_trims_the_summary_before_measuring_it_as_the_console_does(client, session,
                                                                             settings):
    """The summary the customer is told has at most 2000 characters once trimmed; spaces or
    a newline pasted around it do not refuse it at the desk when the console accepts it."""
    ticket = _ticket(session, settings)
    summary = "x" * actions.MAX_SUMMARY
    response = client.post(f"/api/tickets/{ticket.number}/resolve", auth=SARI,
                           json={"summary": f"  {summary}\n"})
    assert response.status_code == 200, response.get_json()
    session.expire_all()
    stored = session.get(Ticket, ticket.id)
    assert stored.status == TicketStatus.RESOLVED and stored.summary == summary
    too_long = lifecycle.open_ticket(session, channel="voice", customer_id=ticket.customer_id,
                                     settings=settings)
    session.commit()
    refused = client.post(f"/api/tickets/{too_long.number}/resolve", auth=SARI,
                          json={"summary": summary + "y"})
    assert refused.status_code == 400


# --- replies: POST /api/tickets/<n>/replies and /messages as the console's reply form -------


def test_the_api_sends_no_email_reply_on_a_resolved_ticket(client, session, settings):
    ticket = _resolved(session, settings, channel="email")
    template = _approved(session, "email")
    response = client.post(f"/api/tickets/{ticket.number}/replies", auth=SARI,
                           json={"template_id": template.id})
    assert response.status_code == 409 and "resolved" in response.get_json()["message"]
    assert session.scalar(select(func.count(OutboundEmail.id))) == 0
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == TicketStatus.RESOLVED


def test_the_api_sends_no_message_on_a_resolved_ticket(client, session, settings):
    ticket = _resolved(session, settings, channel="sms")
    response = client.post(f"/api/tickets/{ticket.number}/messages", auth=SARI,
                           json={"channel": "sms", "text": "Halo Budi"})
    assert response.status_code == 409 and "resolved" in response.get_json()["message"]
    assert session.scalar(select(func.count(OutboundMessage.id))) == 0
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == TicketStatus.RESOLVED


def _whatsapp_ticket_silent_for_a_day(session, settings) -> Ticket:
    ticket = _ticket(session, settings, channel="whatsapp")
    session.add(Contact(ticket_id=ticket.id, channel="whatsapp", direction="inbound",
                        status=MessageStatus.RECEIVED, sender=BUDI_PHONE, body="halo",
                        started_at=utcnow() - timedelta(hours=30)))
    session.commit()
    return ticket


def test_outside_the_whatsapp_window_a_template_without_a_content_sid_is_free_text(
        client, session, settings):
    """Only a template Meta approved (a Twilio Content SID) may go after 24 hours of
    silence; our own template text is free text there, refused by the API as by the
    console."""
    ticket = _whatsapp_ticket_silent_for_a_day(session, settings)
    template = _approved(session, "whatsapp")
    response = client.post(f"/api/tickets/{ticket.number}/messages", auth=SARI,
                           json={"channel": "whatsapp", "template_id": template.id})
    assert response.status_code == 409 and "24-hour" in response.get_json()["message"]
    assert session.scalar(select(func.count(OutboundMessage.id))) == 0


def test_outside_the_whatsapp_window_a_template_with_a_content_sid_goes(client, session,
                                                                        settings):
    ticket = _whatsapp_ticket_silent_for_a_day(session, settings)
    template = _approved(session, "whatsapp", twilio_content_sid="HX" + "1" * 32)
    response = client.post(f"/api/tickets/{ticket.number}/messages", auth=SARI,
                           json={"channel": "whatsapp", "template_id": template.id})
    assert response.status_code == 202, response.get_json()
    message = session.scalars(select(OutboundMessage)).one()
    assert message.content_sid == "HX" + "1" * 32
