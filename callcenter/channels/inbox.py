"""The inbox (P3.1, P3.3): customers' emails and messages that wait for an answer from us.

A message waits while its ticket is unsettled and nobody has answered on that ticket since it
arrived: an approved template by email (an outbox email with its template) or an SMS/WhatsApp
reply (an outbox message that asks the customer, :func:`callcenter.channels.social.queue_reply`).
What the service sends by itself (the ticket-number acknowledgement, a status answer) is no
answer. Oldest first: the inbox is worked in the order customers wrote (P3.1).

Who wrote is shown in words (:func:`sender_check`): mail that is not verified as the ticket's
customer's (:func:`callcenter.channels.email_inbound.unverified_reason`) and mail or messages
from an address or number no customer has are flagged, so nobody shares a customer's data
with a stranger.

An unmatched email (its ticket has no customer) can be linked to a customer's ticket
(:func:`link_email`). Linking moves it and its attachments; it does not make the sender the
customer: the mail stays unverified (it changes nothing on the ticket) unless the agent
confirms the sender is the customer, e.g. by calling the customer's registered number, and
that confirmation is audited (:func:`confirm_sender` for an unverified mail already on a
customer's ticket). Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, joinedload

from callcenter import audit
from callcenter.channels import email_inbound
from callcenter.config import Settings
from callcenter.i18n import Msg, as_record
from callcenter.models import Contact, Document, OutboundEmail, OutboundMessage, Ticket
from callcenter.statuses import MessageStatus, TicketStatus
from callcenter.tickets import documents, lifecycle
from callcenter.tickets.actions import ActionRefused

WRITTEN_CHANNELS = ("email", "sms", "whatsapp")
PAGE_SIZE = 50
# The summary of an unmatched ticket whose only email was linked elsewhere (ticket's language).
MOVED = {"id": "Dipindahkan ke tiket {number}.", "en": "Moved to ticket {number}."}


# -- what waits ------------------------------------------------------------------------------


def _answered_since() -> Any:
    """Someone answered on the message's ticket after it arrived (a template email, or an
    SMS/WhatsApp reply that asks the customer)."""
    by_email = exists().where(OutboundEmail.ticket_id == Contact.ticket_id,
                              OutboundEmail.template_id.is_not(None),
                              OutboundEmail.created_at >= Contact.started_at)
    by_message = exists().where(OutboundMessage.ticket_id == Contact.ticket_id,
                                OutboundMessage.asks_customer.is_(True),
                                OutboundMessage.created_at >= Contact.started_at)
    return or_(by_email, by_message)


def _waits(query: Any) -> Any:
    """``query`` narrowed to inbound written contacts that wait for us."""
    return (query.join(Ticket, Ticket.id == Contact.ticket_id)
            .where(Contact.direction == "inbound", Contact.channel.in_(WRITTEN_CHANNELS),
                   Contact.status != MessageStatus.REPLIED,  # answered automatically
                   Ticket.status != TicketStatus.RESOLVED, ~_answered_since()))


def waiting_query() -> Any:
    """Inbound written contacts that wait for us, oldest first, with their tickets."""
    return (_waits(select(Contact))
            .options(joinedload(Contact.ticket).joinedload(Ticket.customer))
            .order_by(Contact.started_at, Contact.id))


@dataclass(frozen=True)
class Page:
    items: list[Contact]
    next_after: tuple[datetime, int] | None  # where the next page starts (keyset)


def waiting(session: Session, *, after: tuple[datetime, int] | None = None,
            limit: int = PAGE_SIZE) -> Page:
    """One page of the inbox, oldest first; ``after`` is the previous page's last
    (``started_at``, ``id``), so every page costs what the first does."""
    query = waiting_query()
    if after is not None:
        at, contact_id = after
        query = query.where(or_(Contact.started_at > at,
                                and_(Contact.started_at == at, Contact.id > contact_id)))
    rows = list(session.scalars(query.limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    return Page(rows, (last.started_at, last.id) if last is not None else None)


def is_waiting(session: Session, contact: Contact) -> bool:
    return session.scalar(_waits(select(Contact.id)).where(Contact.id == contact.id)) is not None


def find_message(session: Session, contact_id: int) -> Contact | None:
    """An inbound email, SMS or WhatsApp message by id (the inbox's link), else None."""
    contact = session.get(Contact, contact_id)
    if (contact is None or contact.direction != "inbound"
            or contact.channel not in WRITTEN_CHANNELS or contact.ticket is None):
        return None
    return contact


# -- who wrote -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderCheck:
    """Whether the sender is the ticket's customer, in words for the agent."""

    verified: bool
    words: Msg


def sender_check(contact: Contact) -> SenderCheck:
    ticket = contact.ticket
    customer_known = ticket is not None and ticket.customer_id is not None
    if contact.channel != "email":
        if not customer_known:
            return SenderCheck(False, Msg("Unknown number: it is no customer's registered "
                                          "phone. Share no customer data."))
        return SenderCheck(True, Msg("Verified: from the customer's registered number."))
    reason = email_inbound.unverified_reason(contact)
    if reason is not None:
        return SenderCheck(False, Msg("Not verified: %(reason)s. It changed nothing on the "
                                      "ticket.", reason=reason))
    if not customer_known:
        return SenderCheck(False, Msg("Unknown sender: no customer has this address. Share no "
                                      "customer data."))
    meta = (contact.ivr_state or {}).get("email", {})
    if meta.get("confirmed_by"):
        return SenderCheck(True, Msg("Confirmed by an agent as the customer's own email."))
    if meta.get("threaded_by") == "headers":
        return SenderCheck(True, Msg("Verified: it answers our email to the customer."))
    return SenderCheck(True, Msg("Verified: from the customer's registered address."))


def mask_address(address: str | None) -> str:
    """``budi.santoso@example.com`` → ``b***@example.com``: enough to tell mails apart."""
    local, at, domain = (address or "").partition("@")
    if not at:
        return "-"
    return f"{local[:1]}***@{domain}"


# -- linking and confirming ------------------------------------------------------------------


def _email_meta(contact: Contact) -> dict[str, Any]:
    return dict((contact.ivr_state or {}).get("email", {}))


def _set_email_meta(contact: Contact, meta: dict[str, Any]) -> None:
    contact.ivr_state = {**(contact.ivr_state or {}), "email": meta}


def _act_as_the_customer(session: Session, settings: Settings, contact: Contact,
                         ticket: Ticket, actor: str) -> None:
    """The mail counts as the customer's from now on: what a verified email does on arrival
    (the no-response clock stops, a settled ticket reopens, its attachment can be the
    document the ticket waits for)."""
    meta = _email_meta(contact)
    if meta.get("unverified"):
        meta["unverified_before"] = meta.pop("unverified")
    meta.pop("unverified_why", None)
    meta["confirmed_by"] = actor
    _set_email_meta(contact, meta)
    contact.sender_verified = True
    if ticket.status == TicketStatus.PENDING_CUSTOMER:
        ticket.status = TicketStatus.OPEN
    lifecycle.reopen(ticket)
    for document in _documents_of(session, contact):
        documents.fulfil_with(session, ticket, document, settings=settings)


def _documents_of(session: Session, contact: Contact) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.contact_id == contact.id)
                                .order_by(Document.id)))


def confirm_sender(session: Session, settings: Settings, contact: Contact, *,
                   actor: str) -> None:
    """The agent confirmed (with the customer, on their registered number) that an unverified
    email on the customer's ticket is the customer's own: it acts from now on. Audited
    (``confirm_sender``)."""
    ticket = contact.ticket
    if contact.channel != "email" or ticket is None:
        raise ActionRefused(Msg("Only an email's sender can be confirmed."), 400)
    if ticket.customer_id is None:
        raise ActionRefused(Msg("This email is on no customer's ticket: link it to the "
                                "customer's ticket first."))
    if contact.sender_verified:
        raise ActionRefused(Msg("This email is already taken as the customer's."))
    _act_as_the_customer(session, settings, contact, ticket, actor)
    audit.record(session, actor, "confirm_sender", f"ticket:{ticket.number}",
                 f"contact:{contact.id}")
    session.flush()


@dataclass(frozen=True)
class Linked:
    contact: Contact
    ticket: Ticket  # where the mail is now
    left: Ticket  # the unmatched ticket it came from
    left_settled: bool  # that ticket had nothing else and is settled as moved
    confirmed: bool


def link_email(session: Session, settings: Settings, contact: Contact, target: Ticket | None,
               *, actor: str, sender_confirmed: bool = False) -> Linked:
    """Move an unmatched email (its ticket has no customer) to a customer's ticket, with its
    attachments. The mail stays unverified there, changing nothing, unless
    ``sender_confirmed``: the agent confirmed the sender is the customer (audited as
    ``confirm_sender``). The unmatched ticket, left with no contact of its own, is settled as
    moved (nobody is told: there is nobody to tell). Audited as ``link_email`` on both
    tickets."""
    source = contact.ticket
    if contact.channel != "email" or contact.direction != "inbound" or source is None:
        raise ActionRefused(Msg("Only an email we received can be linked."), 400)
    if source.customer_id is not None:
        raise ActionRefused(Msg("This email is already on a customer's ticket."))
    if target is None:
        raise ActionRefused(Msg("No ticket has that number: check the number."), 404)
    if target.id == source.id:
        raise ActionRefused(Msg("The email is already on that ticket."), 400)
    if target.customer_id is None:
        raise ActionRefused(Msg("Ticket %(number)s has no customer: link the email to a "
                                "customer's ticket.", number=target.number), 400)
    contact.ticket_id = target.id
    contact.ticket = target
    for document in _documents_of(session, contact):
        document.ticket_id = target.id
    meta = _email_meta(contact)
    meta["linked_from"] = source.number
    meta["linked_by"] = actor
    if sender_confirmed:
        _set_email_meta(contact, meta)
        _act_as_the_customer(session, settings, contact, target, actor)
    else:
        # On the customer's ticket a stranger's address is just that: not the customer's.
        if not meta.get("unverified"):
            meta["unverified"] = str(email_inbound.NOT_THE_CUSTOMER)
            meta["unverified_why"] = as_record(email_inbound.NOT_THE_CUSTOMER)
        _set_email_meta(contact, meta)
        contact.sender_verified = False
    session.flush()
    session.expire(source, ["contacts"])
    left_settled = False
    nothing_left = all(c.direction == "outbound" for c in source.contacts)
    if nothing_left and source.status != TicketStatus.RESOLVED:
        lifecycle.resolve(session, source, MOVED.get(source.language, MOVED["id"])
                          .format(number=target.number))
        left_settled = True
    detail = (f"contact:{contact.id} from ticket:{source.number} to ticket:{target.number}"
              f" sender {'confirmed' if sender_confirmed else 'not confirmed'}")
    audit.record(session, actor, "link_email", f"ticket:{target.number}", detail)
    audit.record(session, actor, "link_email", f"ticket:{source.number}", detail)
    if sender_confirmed:
        audit.record(session, actor, "confirm_sender", f"ticket:{target.number}",
                     f"contact:{contact.id}")
    session.flush()
    return Linked(contact, target, source, left_settled, sender_confirmed)
