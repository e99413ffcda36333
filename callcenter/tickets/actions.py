"""What an agent or supervisor does to a ticket, without Flask: the console's
ticket page and the walk-in desk API call these.

The actions' domain parts that no other module had as a function: a template reply on the
ticket's channel (:func:`send_template_reply`), asking the customer for documents and telling
them (:func:`request_documents`, P4.3), assigning (:func:`assign`), scheduling a callback and
saying whether its time moved (:func:`schedule_callback`, P2.2a), resolving with what the
customer is told (:func:`resolve`, P1.8), and extending a written complaint's deadline once with
written notice (:func:`extend_deadline`, shared with ``POST /api/tickets/<n>/extension``). A
refusal the agent can fix is an :class:`ActionRefused`, whose message is safe to show them.

Nothing here commits; the web layer commits, then enqueues jobs (outbox first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.callbacks import policy
from callcenter.channels import email_outbound, social, templates
from callcenter.channels.messages import queue_message
from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.content import Content
from callcenter.models import Callback, RequiredDocument, Template, Ticket, User, utcnow
from callcenter.people import users
from callcenter.tickets import documents, lifecycle
from callcenter.tickets.queue import owners_for_filter
from callcenter.voice.answers import long_date

ASSIGN_OTHERS_ROLES = ("supervisor",)  # and admin (users.has_role)
MAX_SUMMARY = 2000


class ActionRefused(ValueError):
    """An action the agent cannot do now; the message is safe to show to them."""


def reply_channels(ticket: Ticket) -> tuple[str, ...]:
    """Where a template reply goes: on the ticket's own written channel; a phone or walk-in
    ticket is answered by SMS to the customer's registered phone, or by email to their
    registered address (the template's channel says which)."""
    if ticket.channel in ("email", "sms", "whatsapp"):
        return (ticket.channel,)
    return ("sms", "email")


def approved_templates(session: Session, ticket: Ticket) -> list[Template]:
    """QA-approved templates (P3.3) in the ticket's language for its reply channels."""
    return list(session.scalars(
        select(Template).where(Template.status == "approved",
                               Template.language == (ticket.language or "id"),
                               Template.channel.in_(reply_channels(ticket)))
        .order_by(Template.key, Template.channel)))


@dataclass(frozen=True)
class Reply:
    kind: str  # email, sms, whatsapp
    id: int  # OutboundEmail.id or OutboundMessage.id
    detail: str  # for the audit row


def send_template_reply(session: Session, settings: Settings, content: Content,
                        ticket: Ticket, template: Template) -> Reply:
    """Write the reply to the outbox (the caller commits, then enqueues the send job).

    Email: :func:`email_outbound.queue_template_reply` (threaded, "anything else?", P3.4).
    SMS/WhatsApp: the template rendered for the customer through :func:`social.queue_reply`;
    on WhatsApp free text only inside the customer's 24-hour window (refused outside it).
    """
    if ticket.status == "resolved":
        raise ActionRefused(f"Ticket {ticket.number} is resolved; nothing more is sent on it.")
    if template.status != "approved":
        raise ActionRefused("Only approved templates can be sent.")
    if template.language != (ticket.language or "id") or (
            template.channel not in reply_channels(ticket)):
        raise ActionRefused("That template is not for this ticket's language and channel.")
    described = f"template:{template.id} v{template.version} ({template.key}/{template.language})"
    if template.channel == "email":
        try:
            email = email_outbound.queue_template_reply(session, settings, ticket, template,
                                                        content)
        except email_outbound.ReplyError as exc:
            raise ActionRefused(sentence(str(exc))) from exc
        return Reply("email", email.id, f"email:{email.id} {described}")
    customer = ticket.customer
    try:
        _subject, text = templates.render(template, ticket=ticket, customer=customer)
    except templates.TemplateError as exc:
        raise ActionRefused(sentence(str(exc))) from exc
    try:
        message = social.queue_reply(session, ticket, channel=template.channel, text=text)
    except social.WindowClosed as exc:
        raise ActionRefused(
            "WhatsApp allows a free message only within 24 hours of the customer's last "
            "message, and that time has passed. Reply by SMS or schedule a callback instead."
        ) from exc
    except ValueError as exc:
        raise ActionRefused(sentence(str(exc))) from exc
    return Reply(template.channel, message.id, f"{template.channel}:{message.id} {described}")


def sentence(text: str) -> str:
    """A domain message as a sentence for a flash: capital first, full stop last."""
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def document_names(text: str) -> list[str]:
    """One document per line; blank lines are skipped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


@dataclass(frozen=True)
class DocumentsRequested:
    added: list[RequiredDocument]
    missing: list[str]
    sms_id: int | None  # the SMS telling the customer what is missing (enqueue after commit)


def request_documents(session: Session, settings: Settings, content: Content, ticket: Ticket,
                      names: list[str], language: str | None = None) -> DocumentsRequested:
    """P4.3: the ticket waits for these documents; its written clock waits with it
    (``regulation.refresh_due``) and the customer is told by SMS what is still missing.

    The same steps as the desk API's ``require_documents`` (webhooks/desk.py), kept here as
    one function both can call. ``documents.DocumentError`` (``TicketSettled`` for a resolved
    ticket) is raised unchanged and nothing is written.
    """
    lang = language or ticket.language or "id"
    added = documents.require_documents(session, ticket, names)
    regulation.refresh_due(ticket, settings)
    missing = documents.missing_names(ticket)
    sms_id = None
    if ticket.customer is not None and missing:
        message = queue_message(
            session, ticket_id=ticket.id, to_number=ticket.customer.phone,
            body=content.text(lang, "desk_documents_sms", ticket=ticket.number,
                              documents=", ".join(missing)))
        sms_id = message.id
    return DocumentsRequested(added, missing, sms_id)


def assignable_users(session: Session, actor: User) -> list[User]:
    """Who ``actor`` may give the ticket to: anyone active who works tickets (supervisors,
    admins), or only themselves (agents)."""
    if users.has_role(actor, *ASSIGN_OTHERS_ROLES):
        return owners_for_filter(session)
    return [actor]


def assign(session: Session, actor: User, ticket: Ticket, owner_id: int | None) -> User | None:
    """Set the ticket's owner (None: unassigned); returns the new owner.

    An agent may take a ticket for themselves only; supervisors and admins assign anyone
    active who works tickets, or nobody.
    """
    supervises = users.has_role(actor, *ASSIGN_OTHERS_ROLES)
    if owner_id is None:
        if not supervises:
            raise ActionRefused("Only a supervisor can leave a ticket unassigned.")
        ticket.owner_id = None
        return None
    if not supervises and owner_id != actor.id:
        raise ActionRefused("An agent can take a ticket only for themselves; ask a "
                            "supervisor to assign it to someone else.")
    owner = {u.id: u for u in assignable_users(session, actor)}.get(owner_id)
    if owner is None:
        raise ActionRefused("That person cannot be given tickets (unknown or inactive).")
    ticket.owner_id = owner.id
    return owner


@dataclass(frozen=True)
class CallbackScheduled:
    callback: Callback
    created: bool  # False: one was already pending and is kept
    moved: bool  # the time asked for was outside the customer's calling window


def parse_local(value: str | None, tz: str) -> datetime | None:
    """A ``datetime-local`` value (``2026-11-30T09:30``) in the centre's zone → aware UTC."""
    if not value or not value.strip():
        return None
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ActionRefused("Call at must be a date and time, e.g. 2026-11-30 09:30.") from exc
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


PAST_GRACE = timedelta(minutes=5)  # the form was filled in a little while ago


def schedule_callback(session: Session, settings: Settings, ticket: Ticket,
                      earliest: datetime | None, now: datetime | None = None
                      ) -> CallbackScheduled:
    """P2.2a: owe the customer a call (``policy.request_callback``, reason
    ``more_explanation``), at ``earliest`` or as soon as the calling window allows."""
    now = now or utcnow()
    if ticket.status == "resolved":
        raise ActionRefused(f"Ticket {ticket.number} is resolved; no callback is owed.")
    if earliest is not None and earliest < now - PAST_GRACE:
        raise ActionRefused("Call at is in the past; choose a later time or leave it empty.")
    wanted = max(earliest, now) if earliest is not None else now
    callback, created = policy.request_callback(session, settings, ticket,
                                                   reason="more_explanation", earliest=wanted)
    if callback is None:
        raise ActionRefused("This ticket has no verified customer to call back.")
    moved = created and callback.due_at - wanted > timedelta(seconds=59)
    return CallbackScheduled(callback, created, moved)


def resolve(session: Session, ticket: Ticket, summary: str) -> None:
    """Settle with what the customer is told (P1.8); refused while documents are missing
    (``documents.DocumentsOutstanding``, raised unchanged so the caller can list them)."""
    text = (summary or "").strip()
    if not text:
        raise ActionRefused("Write the summary: it is what the customer is told.")
    if len(text) > MAX_SUMMARY:
        raise ActionRefused(f"The summary has at most {MAX_SUMMARY} characters.")
    if ticket.status == "resolved":
        raise ActionRefused(f"Ticket {ticket.number} is already resolved.")
    lifecycle.resolve(session, ticket, text)


MAX_EXTENSION_REASON = 300  # it is quoted in the customer's SMS


class ReasonMissing(ActionRefused):
    """The extension needs a reason: the customer is told why."""


class ExtensionRefused(ActionRefused):
    """:func:`regulation.extension_allowed` said no (or there is nobody to notify); the message
    is the rule's reason, e.g. "already extended once"."""


@dataclass(frozen=True)
class Extended:
    ticket: Ticket
    first_due_at: datetime | None
    new_due_at: datetime
    notice_id: int  # the SMS with the written notice (enqueue after commit)
    rule: str  # e.g. "one extension of 10 working days (POJK 22/2023)"


def extend_deadline(session: Session, settings: Settings, content: Content, ticket: Ticket,
                    reason: str, *, actor: str, now: datetime | None = None) -> Extended:
    """The one extension of a written complaint (POJK 22/2023: 10 working days; POJK
    18/2018: 20), as :func:`regulation.extension_allowed` decides: move ``due_at``, write the
    customer's notice (SMS, with the new date and the reason) to the outbox, and add the
    ``extend_deadline`` audit row for ``actor``. The console's ticket page and the API both
    call this; the caller commits, then enqueues the SMS (``notice_id``).

    :class:`ReasonMissing` for an empty reason, :class:`ExtensionRefused` (the rule's reason)
    when it is not allowed or the ticket has no verified customer; nothing is written then.
    """
    text = (reason or "").strip()
    if not text:
        raise ReasonMissing("Write the reason for the extension: the customer is told why.")
    decision = regulation.extension_allowed(ticket, now or utcnow(), settings)
    if not decision.allowed or decision.new_due_at is None:
        raise ExtensionRefused(decision.reason)
    customer = ticket.customer
    if customer is None:
        raise ExtensionRefused(
            "the ticket has no verified customer to give the written notice to")
    ticket.due_at = decision.new_due_at
    lang = ticket.language or "id"
    due_text = long_date(decision.new_due_at.astimezone(ZoneInfo(settings.timezone)).date(),
                         lang)
    notice = queue_message(
        session, ticket_id=ticket.id, to_number=customer.phone,
        body=content.text(lang, "extension_notice", ticket=ticket.number, due_date=due_text,
                          reason=text[:MAX_EXTENSION_REASON]))
    audit.record(session, actor, "extend_deadline", f"ticket:{ticket.number}",
                 f"{decision.first_due_at} -> {decision.new_due_at}: {text[:200]}")
    return Extended(ticket, decision.first_due_at, decision.new_due_at, notice.id,
                    decision.reason)
