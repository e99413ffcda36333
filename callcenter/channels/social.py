"""The social channel: SMS and WhatsApp through Twilio Messaging, on the same tickets (X1, X2).

A message is threaded by the sender's number onto the customer's unsettled ticket, or opens a
new one. WhatsApp allows free text only within 24 hours of the customer's last message; outside
that window only approved template messages may go out (Meta's customer-service window).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.channels import messages, templates
from callcenter.config import Settings
from callcenter.content import Content
from callcenter.i18n import Msg
from callcenter.labels import channel_word
from callcenter.models import Contact, Customer, OutboundMessage, Template, Ticket, utcnow
from callcenter.phones import try_e164
from callcenter.statuses import (
    OPEN_TICKET_STATUSES,
    MessageStatus,
    TemplateStatus,
    TicketStatus,
)
from callcenter.tickets import lifecycle
from callcenter.voice.answers import long_date

WHATSAPP_WINDOW = timedelta(hours=24)
SOCIAL_CHANNELS = ("sms", "whatsapp")


class WindowClosed(ValueError):
    """WhatsApp free text outside the 24-hour window: only an approved template may go."""


@dataclass
class Inbound:
    """What taking in one message did; ``duplicate`` when Twilio retried it."""

    contact: Contact
    ticket: Ticket
    duplicate: bool = False
    media: list[tuple[str, str]] = field(default_factory=list)  # (url, content type)


def split_address(address: str) -> tuple[str, str | None]:
    """``whatsapp:+62812…`` → ("whatsapp", "+62812…"); a plain number → ("sms", E.164)."""
    if address.startswith("whatsapp:"):
        return "whatsapp", try_e164(address.removeprefix("whatsapp:"))
    return "sms", try_e164(address)


def find_message(session: Session, message_sid: str) -> Contact | None:
    return session.scalars(select(Contact).where(
        Contact.channel.in_(SOCIAL_CHANNELS), Contact.external_id == message_sid)).first()


def take_in(session: Session, settings: Settings, params: dict[str, str]) -> Inbound:
    """Record one inbound message on its ticket; the same MessageSid twice is one message."""
    sid = params["MessageSid"]
    existing = find_message(session, sid)
    if existing is not None and existing.ticket is not None:
        return Inbound(existing, existing.ticket, duplicate=True)
    channel, phone = split_address(params.get("From", ""))
    customer = _customer_for(session, phone)
    ticket = _ticket_for(session, settings, channel, phone, customer)
    if ticket.status == TicketStatus.PENDING_CUSTOMER:
        ticket.status = TicketStatus.OPEN  # the customer answered: the no-response clock stops
    lifecycle.reopen(ticket)
    contact = Contact(ticket_id=ticket.id, channel=channel, direction="inbound",
                      external_id=sid, status=MessageStatus.RECEIVED,
                      sender=phone or params.get("From"), from_number=phone,
                      to_number=params.get("To"),
                      body=params.get("Body", "")[:4000])
    session.add(contact)
    session.flush()
    media = []
    for index in range(min(_int(params.get("NumMedia")), 10)):
        url = params.get(f"MediaUrl{index}")
        if url:
            media.append((url, params.get(f"MediaContentType{index}", "application/octet-stream")))
    return Inbound(contact, ticket, media=media)


def _customer_for(session: Session, phone: str | None) -> Customer | None:
    """The customer on this number; with several (one phone, two loans) the one with an
    unsettled ticket, else the most recent."""
    if phone is None:
        return None
    found = list(session.scalars(select(Customer).where(Customer.phone == phone)
                                 .order_by(Customer.id.desc())))
    for customer in found:
        if lifecycle.find_open_ticket(session, customer.id) is not None:
            return customer
    return found[0] if found else None


def _ticket_for(session: Session, settings: Settings, channel: str, phone: str | None,
                customer: Customer | None) -> Ticket:
    if customer is not None:
        open_ticket = lifecycle.find_open_ticket(session, customer.id)
        if open_ticket is not None:
            return open_ticket
    elif phone is not None:
        # An unknown number's earlier, still-open conversation continues (X1).
        earlier = session.scalars(
            select(Ticket).join(Contact, Contact.ticket_id == Ticket.id)
            .where(Ticket.customer_id.is_(None), Ticket.status.in_(OPEN_TICKET_STATUSES),
                   Contact.sender == phone)
            .order_by(Ticket.opened_at.desc(), Ticket.id.desc())).first()
        if earlier is not None:
            return earlier
    return lifecycle.open_ticket(session, channel=channel,
                               customer_id=customer.id if customer else None,
                               category="inquiry" if customer else "unverified",
                               tz=settings.timezone, settings=settings)


_STATUS_QUERY = re.compile(r"^\s*(?:status|cek|cek status)\s*#?\s*(\d{2,10})\s*$", re.I)


@dataclass
class StatusAnswer:
    ticket: Ticket | None
    text: str


def status_query(session: Session, settings: Settings, content: Content,
                 params: dict[str, str]) -> StatusAnswer | None:
    """``STATUS 1000015`` (or ``CEK …``): the customer asks for their ticket's status, which
    they may do at any time (POJK 18/2018). Answered only to the ticket's own customer's
    number; anyone else learns nothing."""
    match = _STATUS_QUERY.match(params.get("Body", ""))
    if match is None:
        return None
    _channel, phone = split_address(params.get("From", ""))
    ticket = lifecycle.find_by_number(session, match.group(1))
    owner = ticket_phone(session, ticket) if ticket is not None else None
    if ticket is None or phone is None or owner != phone:
        return StatusAnswer(None, content.text("id", "message_status_unknown"))
    lang = ticket.language or "id"
    status = content.lookup(lang, "ticket_statuses", ticket.status) or ticket.status
    due = (long_date(ticket.due_at.astimezone(ZoneInfo(settings.timezone)).date(), lang)
           if ticket.due_at else "-")
    return StatusAnswer(ticket, content.text(lang, "message_status", ticket=ticket.number,
                                             status=status, due_date=due))


def last_inbound_at(session: Session, phone: str, channel: str = "whatsapp") -> datetime | None:
    return session.scalar(select(func.max(Contact.started_at)).where(
        Contact.channel == channel, Contact.direction == "inbound", Contact.sender == phone))


def window_open(session: Session, phone: str, now: datetime | None = None) -> bool:
    """Whether WhatsApp free text may go to ``phone`` now."""
    last = last_inbound_at(session, phone)
    return last is not None and (now or utcnow()) - last < WHATSAPP_WINDOW


def queue_reply(session: Session, ticket: Ticket, *, channel: str, text: str | None = None,
                template: Template | None = None, now: datetime | None = None,
                asks_customer: bool = True) -> OutboundMessage:
    """An agent's SMS/WhatsApp reply on the ticket (outbox); the ticket then waits for the
    customer, which starts the no-response clock (P2.2b)."""
    phone = ticket_phone(session, ticket)
    if phone is None:
        raise ValueError(Msg("The ticket has no phone number to write to."))
    if template is not None:
        if template.status != TemplateStatus.APPROVED:
            raise ValueError(Msg("Only approved templates can be sent."))
        if template.channel != channel:
            raise ValueError(Msg("Template “%(key)s” is for %(template_channel)s, not "
                                 "%(channel)s.", key=template.key,
                                 template_channel=channel_word(template.channel),
                                 channel=channel_word(channel)))
        # The customer reads their own data, never a literal "{name}" (P3.3).
        _, body = templates.render(template, ticket=ticket, customer=ticket.customer)
    elif text:
        body = text
    else:
        raise ValueError(Msg("Give a text or an approved template."))
    # Meta's window: after 24 hours of the customer's silence only a template Meta approved
    # (a Twilio Content SID) may go; our own template text is free text there.
    meta_template = template is not None and bool(template.twilio_content_sid)
    if channel == "whatsapp" and not meta_template and not window_open(session, phone, now):
        raise WindowClosed("outside WhatsApp's 24-hour window only templates Meta approved "
                           "(a Twilio Content SID) may go")
    message = messages.queue_message(session, ticket_id=ticket.id, to_number=phone, body=body,
                                     channel=channel)
    message.asks_customer = asks_customer
    message.content_sid = template.twilio_content_sid if template is not None else None
    if asks_customer:
        ticket.status = TicketStatus.PENDING_CUSTOMER
    return message


def ticket_phone(session: Session, ticket: Ticket) -> str | None:
    if ticket.customer_id is not None:
        customer = session.get(Customer, ticket.customer_id)
        return customer.phone if customer else None
    return session.scalar(select(Contact.sender).where(
        Contact.ticket_id == ticket.id, Contact.direction == "inbound",
        Contact.channel.in_(SOCIAL_CHANNELS)).order_by(Contact.id.desc()).limit(1))


_STATUS_ORDER = {MessageStatus.ACCEPTED: 0, MessageStatus.QUEUED: 0, MessageStatus.SENDING: 1,
                 MessageStatus.SENT: 2, MessageStatus.DELIVERED: 3, MessageStatus.READ: 4,
                 MessageStatus.UNDELIVERED: 5, MessageStatus.FAILED: 5}


def status_moves_forward(current: str, new: str) -> bool:
    """Callbacks arrive out of order: a late "sent" never overwrites "delivered"."""
    return _STATUS_ORDER.get(new, 0) > _STATUS_ORDER.get(current, 0)


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0
