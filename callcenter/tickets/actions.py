"""What a person does to a ticket: one function per action, whoever asks.

The console's ticket page, the JSON API and the walk-in desk all call these, so an action has
one set of rules and writes its own audit row, as ``actor`` (``user:<name>`` for a person,
``api:<token id>`` for a system): scheduling a callback (:func:`schedule_callback`, P2.2a),
resolving with what the customer is told (:func:`resolve`, P1.8), asking for documents and
taking one in at the desk (:func:`request_documents`, :func:`receive_document`, P4.3),
assigning (:func:`assign`), replying by email, SMS or WhatsApp (:func:`send_reply`, P3.3,
P3.4), extending a written complaint's deadline once with written notice
(:func:`extend_deadline`, POJK 22/2023) and noting what the customer said (:func:`add_note`).

A refusal is an :class:`ActionRefused`: its message is safe to show to the person, its
``status`` is what the JSON API answers (400 bad input, 403 not for this role, 404 unknown,
409 not now, 413 too large); nothing is written then. Nothing here commits: the web layer
commits, then enqueues the jobs (the outbox row, or the callback row, is the promise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.callbacks import policy
from callcenter.channels import email_outbound, social, walkins
from callcenter.channels.messages import queue_message
from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.content import LANGUAGES, Content
from callcenter.i18n import Msg
from callcenter.labels import LABELS
from callcenter.models import (
    Callback,
    Document,
    Note,
    OutboundEmail,
    OutboundMessage,
    RequiredDocument,
    Template,
    Ticket,
    User,
    utcnow,
)
from callcenter.people import users
from callcenter.statuses import TemplateStatus, TicketStatus
from callcenter.tickets import documents, lifecycle, resolution_notice
from callcenter.tickets.queue import owners_for_filter
from callcenter.voice.answers import long_date

ASSIGN_OTHERS_ROLES = ("supervisor",)  # and admin (users.has_role)
MAX_SUMMARY = 2000  # what the customer is told (P1.8, P4.8)
PAST_GRACE = timedelta(minutes=5)  # a callback time written a moment ago is "now"
MAX_EXTENSION_REASON = 300  # it is quoted in the customer's SMS
MAX_NOTE = 4000  # a long call's account fits; a pasted email thread belongs in a reply
WHATSAPP_WINDOW_CLOSED = Msg(
    "WhatsApp allows a free message only within 24 hours of the customer's last message, and "
    "that time has passed: outside the 24-hour window only a template Meta approved (a Twilio "
    "Content SID) may go. Reply by SMS or schedule a callback instead.")


class ActionRefused(ValueError):
    """An action the person cannot do now; the message (a :class:`Msg`: English in the API,
    the person's language on a page) is safe to show to them, ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


class DocumentsMissing(ActionRefused):
    """P4.3: the ticket cannot be resolved while documents are outstanding (``missing``)."""

    def __init__(self, missing: list[str]):
        super().__init__(Msg("The ticket cannot be resolved yet: still missing %(documents)s.",
                             documents=", ".join(missing)))
        self.missing = missing


class ReasonMissing(ActionRefused):
    """The extension needs a reason: the customer is told why."""

    def __init__(self, message: str):
        super().__init__(message, 400)


class ExtensionRefused(ActionRefused):
    """:func:`regulation.extension_allowed` said no (or there is nobody to notify); the message
    is the rule's reason, e.g. "already extended once"."""


def said(exc: Exception) -> str:
    """A domain refusal for a person: its :class:`Msg` (written as a sentence, translated
    where it is shown), or any other text as a sentence."""
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, Msg) else sentence(str(exc))


def sentence(text: str) -> str:
    """A domain message as a sentence for a person: capital first, full stop last."""
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def _subject(ticket: Ticket) -> str:
    return f"ticket:{ticket.number}"


def _refuse_if_resolved(ticket: Ticket, what: str) -> None:
    if ticket.status == TicketStatus.RESOLVED:
        raise ActionRefused(Msg("Ticket %(number)s is resolved; %(what)s.", number=ticket.number,
                                 what=what))


# --- callbacks (P2.2a) ------------------------------------------------------------------------


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
        raise ActionRefused(Msg("Call at must be a date and time, e.g. 2026-11-30 09:30."),
                            400) from exc
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def schedule_callback(session: Session, settings: Settings, ticket: Ticket,
                      earliest: datetime | None, *, actor: str, now: datetime | None = None
                      ) -> CallbackScheduled:
    """P2.2a: owe the customer a call (``policy.request_callback``, reason
    ``more_explanation``), at ``earliest`` or as soon as the calling window allows.

    Refused for a resolved ticket, a time in the past (beyond :data:`PAST_GRACE`), or a
    ticket without a verified customer (never a third party). A second request while one is
    pending keeps that one (``created`` False).
    """
    now = now or utcnow()
    _refuse_if_resolved(ticket, "no callback is owed")
    if earliest is not None and earliest < now - PAST_GRACE:
        raise ActionRefused(Msg("Call at is in the past; choose a later time or leave it empty."),
                            400)
    wanted = max(earliest, now) if earliest is not None else now
    callback, created = policy.request_callback(session, settings, ticket,
                                                reason="more_explanation", earliest=wanted)
    if callback is None:
        raise ActionRefused(Msg("This ticket has no verified customer to call back."))
    audit.record(session, actor, "schedule_callback", _subject(ticket),
                 f"callback:{callback.id} due {callback.due_at.isoformat()}"
                 + ("" if created else " (already pending)"))
    moved = created and callback.due_at - wanted > timedelta(seconds=59)
    return CallbackScheduled(callback, created, moved)


# --- resolving (P1.8) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """What resolving did: the customer's notice (enqueue ``notice.outbox`` after commit), or
    why nobody could be told (``why_not``, a sentence to show the person)."""

    ticket: Ticket
    notice: resolution_notice.Notice | None
    why_not: str | None


def resolve(session: Session, settings: Settings, content: Content, ticket: Ticket,
            summary: str, *, actor: str, now: datetime | None = None) -> Resolved:
    """Settle with what the customer is told (P1.8), at most :data:`MAX_SUMMARY` characters
    once trimmed; refused while documents are missing (:class:`DocumentsMissing`, P4.3) and
    on a resolved ticket (so the customer is told once). The summary with the ticket number
    goes to the ticket's verified customer on its channel, in its language
    (:mod:`callcenter.tickets.resolution_notice`, P3.4). Housekeeping closes (an email moved to
    another ticket) call ``lifecycle.resolve`` and tell nobody."""
    text = (summary or "").strip()
    if not text:
        raise ActionRefused(Msg("Write the summary: it is what the customer is told."), 400)
    if len(text) > MAX_SUMMARY:
        raise ActionRefused(Msg("The summary has at most %(limit)s characters.",
                                 limit=MAX_SUMMARY), 400)
    if ticket.status == TicketStatus.RESOLVED:
        raise ActionRefused(Msg("Ticket %(number)s is already resolved.", number=ticket.number))
    try:
        lifecycle.resolve(session, ticket, text, now=now)
    except documents.DocumentsOutstanding as exc:
        raise DocumentsMissing(exc.missing) from exc
    outcome = resolution_notice.queue_notice(session, settings, content, ticket, text, now)
    notice = outcome.notice
    audit.record(session, actor, "resolve_ticket", _subject(ticket),
                 f"notice {notice.kind}:{notice.id}" if notice else "no notice")
    return Resolved(ticket, notice, outcome.why_not)


# --- notes (PROCEDURE: "CS wajib mencatat informasi keluhan") ---------------------------------


def add_note(session: Session, user: User, ticket: Ticket, text: str | None, *,
             now: datetime | None = None) -> Note:
    """Record what the customer said or what was checked, in ``user``'s words, with the
    ``add_note`` audit row. Refused (400) when empty or longer than :data:`MAX_NOTE`.

    Allowed on a resolved ticket too: a note changes nothing the customer is told and
    reopens nothing, and what a customer says after resolution (or what the agent writes up
    in the wrap-up just after resolving) is still part of the record the procedure asks for.
    """
    body = (text or "").strip()
    if not body:
        raise ActionRefused(Msg("Write the note first: it cannot be empty."), 400)
    if len(body) > MAX_NOTE:
        raise ActionRefused(Msg("A note has at most %(limit)s characters (this one has "
                                "%(length)s).", limit=MAX_NOTE, length=len(body)), 400)
    note = Note(ticket_id=ticket.id, user_id=user.id, author=user.username, text=body,
                created_at=now or utcnow())
    session.add(note)
    session.flush()
    audit.record(session, users.actor_of(user), "add_note", _subject(ticket),
                 f"note:{note.id} {len(body)} characters")
    return note


# --- category (P1.2, the OJK report's categories) ---------------------------------------------


def category_choices() -> list[str]:
    """What a person may file a ticket under: every category but "caller not verified",
    which only the IVR decides (P1.1)."""
    return [code for code in LABELS["category"] if code != "unverified"]


def set_category(session: Session, ticket: Ticket, category: str, *, actor: str) -> bool:
    """File the ticket under ``category`` as the person who heard the customer judged it
    (the IVR's choice was the caller's key press, P1.2); the quarterly report counts it
    there. Returns False when it was filed there already (no audit row then)."""
    if category not in category_choices():
        raise ActionRefused(Msg("Choose a category from the list."), 400)
    _refuse_if_resolved(ticket, "its category is kept as it was reported")
    if ticket.category == category:
        return False
    before = ticket.category
    ticket.category = category
    audit.record(session, actor, "set_category", _subject(ticket), f"{before} -> {category}")
    return True


# --- documents (P4.3) -------------------------------------------------------------------------


def document_names(text: str) -> list[str]:
    """One document per line; blank lines are skipped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


@dataclass(frozen=True)
class DocumentsRequested:
    added: list[RequiredDocument]
    missing: list[str]
    language: str
    sms_id: int | None  # the SMS telling the customer what is missing (enqueue after commit)


def request_documents(session: Session, settings: Settings, content: Content, ticket: Ticket,
                      names: list[str], language: str | None = None, *, actor: str
                      ) -> DocumentsRequested:
    """P4.3: the ticket waits for these documents; its written clock waits with it
    (``regulation.refresh_due``) and the customer is told by SMS, in ``language`` (default:
    the ticket's), what is still missing."""
    lang = language or ticket.language or "id"
    if lang not in LANGUAGES:
        raise ActionRefused(Msg("Language must be one of %(languages)s.",
                                 languages=", ".join(LANGUAGES)), 400)
    try:
        added = documents.require_documents(session, ticket, names)
    except documents.TicketSettled as exc:
        raise ActionRefused(said(exc)) from exc
    except documents.DocumentError as exc:
        raise ActionRefused(said(exc), 400) from exc
    regulation.refresh_due(ticket, settings)
    missing = documents.missing_names(ticket)
    sms_id = None
    if ticket.customer is not None and missing:
        message = queue_message(
            session, ticket_id=ticket.id, to_number=ticket.customer.phone,
            body=content.text(lang, "desk_documents_sms", ticket=ticket.number,
                              documents=", ".join(missing)))
        sms_id = message.id
    audit.record(session, actor, "require_documents", _subject(ticket),
                 "added: " + ", ".join(r.name for r in added) if added else "nothing new")
    return DocumentsRequested(added, missing, lang, sms_id)


def receive_document(session: Session, settings: Settings, ticket: Ticket, *, actor: str,
                     filename: str, content_type: str, data: bytes,
                     visit_id: int | None = None, fulfils: str | None = None) -> Document:
    """A document handed in at the desk, on the visit ``visit_id`` if given, ticking off
    what it ``fulfils`` (:func:`documents.receive_document`, which also restarts a written
    clock once the documents are complete)."""
    contact_id = None
    if visit_id is not None:
        try:
            visit = walkins.find_visit(session, visit_id)
        except walkins.VisitNotFound as exc:
            raise ActionRefused(said(exc), 404) from exc
        if visit.ticket_id != ticket.id:
            raise ActionRefused(Msg("Visit %(visit)s is not on ticket %(number)s.", visit=visit_id,
                                     number=ticket.number), 400)
        contact_id = visit.id
    try:
        document = documents.receive_document(
            session, ticket, settings=settings, filename=filename, content_type=content_type,
            data=data, source="desk", contact_id=contact_id, fulfils=fulfils)
    except documents.DocumentTooLarge as exc:
        raise ActionRefused(said(exc), 413) from exc
    except documents.RequirementAlreadyReceived as exc:
        raise ActionRefused(said(exc)) from exc
    except documents.DocumentError as exc:
        raise ActionRefused(said(exc), 400) from exc
    fulfilled = fulfilled_by(ticket, document)
    audit.record(session, actor, "receive_document", _subject(ticket),
                 f"document:{document.id} {document.size} bytes sha256:{document.sha256[:12]}"
                 + (f" fulfils:{fulfilled.id}" if fulfilled else ""))
    return document


def fulfilled_by(ticket: Ticket, document: Document) -> RequiredDocument | None:
    """The requirement ``document`` ticked off, if any."""
    return next((r for r in ticket.required_documents if r.document_id == document.id), None)


# --- assigning --------------------------------------------------------------------------------


def assignable_users(session: Session, user: User) -> list[User]:
    """Who ``user`` may give the ticket to: anyone active who works tickets (supervisors,
    admins), or only themselves (agents)."""
    if users.has_role(user, *ASSIGN_OTHERS_ROLES):
        return owners_for_filter(session)
    return [user]


def assign(session: Session, user: User, ticket: Ticket, owner_id: int | None) -> User | None:
    """Set the ticket's owner (None: unassigned) as ``user``; returns the new owner.

    An agent may take a ticket for themselves only; supervisors and admins assign anyone
    active who works tickets, or nobody.
    """
    supervises = users.has_role(user, *ASSIGN_OTHERS_ROLES)
    owner = None
    if owner_id is None:
        if not supervises:
            raise ActionRefused(Msg("Only a supervisor can leave a ticket unassigned."), 403)
    elif not supervises and owner_id != user.id:
        raise ActionRefused(Msg("An agent can take a ticket only for themselves; ask a "
                                "supervisor to assign it to someone else."), 403)
    else:
        owner = {u.id: u for u in assignable_users(session, user)}.get(owner_id)
        if owner is None:
            raise ActionRefused(Msg("That person cannot be given tickets (unknown or inactive)."),
                                400)
    ticket.owner_id = owner.id if owner else None
    audit.record(session, users.actor_of(user), "assign_ticket", _subject(ticket),
                 f"owner:{owner.username}" if owner else "owner:none")
    return owner


# --- replies (P3.3, P3.4) ---------------------------------------------------------------------


def reply_channels(ticket: Ticket) -> tuple[str, ...]:
    """Where the console's template reply goes: on the ticket's own written channel; a phone
    or walk-in ticket is answered by SMS to the customer's registered phone, or by email to
    their registered address (the template's channel says which)."""
    if ticket.channel in ("email", "sms", "whatsapp"):
        return (ticket.channel,)
    return ("sms", "email")


def approved_templates(session: Session, ticket: Ticket) -> list[Template]:
    """QA-approved templates (P3.3) in the ticket's language for its reply channels: what the
    console's ticket page offers."""
    return list(session.scalars(
        select(Template).where(Template.status == TemplateStatus.APPROVED,
                               Template.language == (ticket.language or "id"),
                               Template.channel.in_(reply_channels(ticket)))
        .order_by(Template.key, Template.channel)))


def offered_template(session: Session, ticket: Ticket, template_id: int | None) -> Template:
    """The template chosen on the ticket page, if it is one the page offers
    (:func:`approved_templates`); the API names language and channel itself."""
    template = session.get(Template, template_id) if template_id is not None else None
    if template is None:
        raise ActionRefused(Msg("Choose an approved template to send."), 400)
    if template.status != TemplateStatus.APPROVED:
        raise ActionRefused(Msg("Only approved templates can be sent."))
    if template.language != (ticket.language or "id") or (
            template.channel not in reply_channels(ticket)):
        raise ActionRefused(Msg("That template is not for this ticket's language and channel."),
                            400)
    return template


@dataclass(frozen=True)
class Reply:
    kind: str  # email, sms, whatsapp
    row: OutboundEmail | OutboundMessage  # the outbox row (enqueue its send job after commit)

    @property
    def id(self) -> int:
        return self.row.id


def send_reply(session: Session, settings: Settings, content: Content, ticket: Ticket, *,
               actor: str, channel: str, template: Template | None = None,
               text: str | None = None) -> Reply:
    """Write the customer a reply on ``channel`` (outbox); the ticket then waits for them
    (``pending_customer``, the P2.2b clock). Nothing more is sent on a resolved ticket.

    Email: an approved template (P3.3), threaded, with "anything else?" (P3.4,
    :func:`email_outbound.queue_template_reply`). SMS/WhatsApp: an approved template or free
    text (:func:`social.queue_reply`); on WhatsApp, after 24 hours of the customer's
    silence, only a template Meta approved (a Twilio Content SID).
    """
    _refuse_if_resolved(ticket, "nothing more is sent on it")
    described = (f"template:{template.id} v{template.version} "
                 f"({template.key}/{template.language})") if template else "text"
    if channel == "email":
        row: OutboundEmail | OutboundMessage = _email_reply(session, settings, content, ticket,
                                                            template)
        audit.record(session, actor, "send_email", _subject(ticket),
                     f"email:{row.id} {described}")
        return Reply(channel, row)
    if channel not in social.SOCIAL_CHANNELS:
        raise ActionRefused(Msg("The channel must be email, sms or whatsapp."), 400)
    try:
        row = social.queue_reply(session, ticket, channel=channel, text=text,
                                 template=template)
    except social.WindowClosed as exc:
        raise ActionRefused(WHATSAPP_WINDOW_CLOSED) from exc
    except ValueError as exc:  # no phone, a draft or another channel's template, no data
        raise ActionRefused(said(exc), 400) from exc
    audit.record(session, actor, "send_message", _subject(ticket),
                 f"{channel}:{row.id} {described}")
    return Reply(channel, row)


def _email_reply(session: Session, settings: Settings, content: Content, ticket: Ticket,
                 template: Template | None) -> OutboundEmail:
    if template is None:
        raise ActionRefused(Msg("An email reply is an approved template: choose one."), 400)
    try:
        return email_outbound.queue_template_reply(session, settings, ticket, template,
                                                   content)
    except email_outbound.ReplyError as exc:
        raise ActionRefused(said(exc), exc.status) from exc


# --- extending a written complaint's deadline (POJK 22/2023) ----------------------------------


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
    ``extend_deadline`` audit row for ``actor``.

    :class:`ReasonMissing` for an empty reason, :class:`ExtensionRefused` (the rule's reason)
    when it is not allowed or the ticket has no verified customer; nothing is written then.
    """
    text = (reason or "").strip()
    if not text:
        raise ReasonMissing(Msg("Write the reason for the extension: the customer is told why."))
    decision = regulation.extension_allowed(ticket, now or utcnow(), settings)
    if not decision.allowed or decision.new_due_at is None:
        raise ExtensionRefused(decision.reason)
    customer = ticket.customer
    if customer is None:
        raise ExtensionRefused(
            Msg("the ticket has no verified customer to give the written notice to"))
    ticket.due_at = decision.new_due_at
    lang = ticket.language or "id"
    due_text = long_date(decision.new_due_at.astimezone(ZoneInfo(settings.timezone)).date(),
                         lang)
    notice = queue_message(
        session, ticket_id=ticket.id, to_number=customer.phone,
        body=content.text(lang, "extension_notice", ticket=ticket.number, due_date=due_text,
                          reason=text[:MAX_EXTENSION_REASON]))
    audit.record(session, actor, "extend_deadline", _subject(ticket),
                 f"{decision.first_due_at} -> {decision.new_due_at}: {text[:200]}")
    return Extended(ticket, decision.first_due_at, decision.new_due_at, notice.id,
                    decision.reason)
