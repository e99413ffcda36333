"""Telling the customer how their ticket was settled (P1.8, P3.4).

When a person resolves a ticket the customer receives the summary with the ticket number, on
the ticket's channel and in its language: a threaded email for an email ticket, WhatsApp for a
WhatsApp ticket (inside Meta's 24-hour window, or by an approved Content-SID template outside
it), else an SMS. Only ever to the ticket's *verified* customer's registered address or number:
a ticket with no customer (an unknown sender) tells nobody, so a stranger who wrote from an
address never learns a customer's business. The notice is an outbox row (the caller commits,
then enqueues; the outbox sweep sends it if Redis is down), and it asks the customer nothing,
so the ticket stays resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.channels import email_outbound, social, templates
from callcenter.channels.messages import queue_message
from callcenter.config import Settings
from callcenter.content import LANGUAGES, Content
from callcenter.i18n import Msg
from callcenter.models import OutboundEmail, OutboundMessage, Template, Ticket
from callcenter.statuses import TemplateStatus

# An approved WhatsApp template with this key and a Twilio Content SID is what may go outside
# the 24-hour window; without one the notice goes by SMS to the same registered number.
WHATSAPP_TEMPLATE_KEY = "resolution_notice"
SMS_MAX_CHARS = 1600  # Twilio refuses a longer body (error 21617)


@dataclass(frozen=True)
class Notice:
    """The notice written to the outbox: ``kind`` is email, sms or whatsapp."""

    kind: str
    row: OutboundEmail | OutboundMessage

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def outbox(self) -> str:
        """The outbox kind its send job is queued under (``workers.queues.send_soon``)."""
        return "email" if self.kind == "email" else "sms"


NO_CUSTOMER = Msg("The ticket has no verified customer, so nobody was told.")
NO_ADDRESS = Msg("The customer has no registered phone number or email address.")


@dataclass(frozen=True)
class Outcome:
    notice: Notice | None
    why_not: Msg | None = None  # set when no notice could be written


def language_of(ticket: Ticket) -> str:
    return ticket.language if ticket.language in LANGUAGES else "id"


def queue_notice(session: Session, settings: Settings, content: Content, ticket: Ticket,
                 summary: str, now: datetime | None = None) -> Outcome:
    """Write the resolution notice for ``ticket`` (already resolved with ``summary``)."""
    customer = ticket.customer
    if customer is None:
        return Outcome(None, NO_CUSTOMER)
    lang = language_of(ticket)
    text = content.text(lang, "resolved_notice", ticket=ticket.number, summary=summary)
    if ticket.channel == "email" and customer.email:
        row = email_outbound.queue_threaded_notice(
            session, settings, ticket, to=customer.email,
            subject=content.text(lang, "resolved_notice_subject"), text=text)
        return Outcome(Notice("email", row))
    if not customer.phone:
        if customer.email:  # a phone-less customer still hears by email
            row = email_outbound.queue_threaded_notice(
                session, settings, ticket, to=customer.email,
                subject=content.text(lang, "resolved_notice_subject"), text=text)
            return Outcome(Notice("email", row))
        return Outcome(None, NO_ADDRESS)
    if ticket.channel == "whatsapp":
        whatsapp = _whatsapp(session, ticket, customer.phone, text, lang, now)
        if whatsapp is not None:
            return Outcome(Notice("whatsapp", whatsapp))
    message = queue_message(session, ticket_id=ticket.id, to_number=customer.phone,
                            body=fit_sms(content, lang, ticket, summary))
    return Outcome(Notice("sms", message))


def fit_sms(content: Content, lang: str, ticket: Ticket, summary: str) -> str:
    """The notice within Twilio's 1600 characters: a long summary is shortened with "…"."""
    body = content.text(lang, "resolved_notice", ticket=ticket.number, summary=summary)
    excess = len(body) - SMS_MAX_CHARS
    if excess <= 0:
        return body
    short = summary[:max(len(summary) - excess - 1, 0)].rstrip() + "…"
    return content.text(lang, "resolved_notice", ticket=ticket.number, summary=short)


def _whatsapp(session: Session, ticket: Ticket, phone: str, text: str, lang: str,
              now: datetime | None) -> OutboundMessage | None:
    """WhatsApp free text inside the 24-hour window; outside it only a template Meta approved
    (social's rule); None when neither may go (the caller sends an SMS instead)."""
    if social.window_open(session, phone, now):
        return queue_message(session, ticket_id=ticket.id, to_number=phone, body=text,
                             channel="whatsapp")
    template = session.scalars(select(Template).where(
        Template.key == WHATSAPP_TEMPLATE_KEY, Template.language == lang,
        Template.channel == "whatsapp", Template.status == TemplateStatus.APPROVED,
        Template.twilio_content_sid.is_not(None)).order_by(Template.version.desc())).first()
    if template is None:
        return None
    try:
        _subject, body = templates.render(template, ticket=ticket, customer=ticket.customer)
    except templates.TemplateError:
        return None
    message = queue_message(session, ticket_id=ticket.id, to_number=phone, body=body,
                            channel="whatsapp")
    message.content_sid = template.twilio_content_sid
    return message
