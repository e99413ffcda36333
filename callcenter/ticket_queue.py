"""The console's ticket queue and ticket page (issue 5), without Flask: testable on its own.

- :func:`queue_page`: the agents' queue, filtered by status, channel, due time and owner,
  sorted by due date (no due date last), then opened time, then id, read with a keyset cursor
  (``after``) so page 2000 costs what page 1 costs and nothing ever counts the whole table.
  Each status is read on its own through the ``(status, due_at)`` index, already in due order,
  and the few rows per status are merged here: no sort over 100,000 rows.
- :func:`load_ticket` + :func:`timeline`: one ticket with everything that happened on it,
  every contact (X2: calls and their legs, emails, messages, visits, callback attempts), the
  callbacks owed, documents received and replies still in the outbox, merged by time. The
  ticket's relations are loaded in a fixed handful of queries (no N+1).
- The actions' domain parts that no other module had as a function: a template reply on the
  ticket's channel (:func:`send_template_reply`), asking the customer for documents and telling
  them (:func:`request_documents`, P4.3), assigning (:func:`assign`), scheduling a callback and
  saying whether its time moved (:func:`schedule_callback`, P2.2a).

Nothing here commits; the web layer commits, then enqueues jobs (outbox first).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_currency
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from callcenter import (
    callbacks,
    documents,
    email_outbound,
    regulation,
    social,
    templates,
    tickets,
    users,
)
from callcenter.config import Settings
from callcenter.content import Content
from callcenter.messages import queue_message
from callcenter.models import (
    Callback,
    Contact,
    Customer,
    Document,
    OutboundEmail,
    OutboundMessage,
    RequiredDocument,
    Template,
    Ticket,
    User,
    utcnow,
)
from callcenter.sanitize import safe_html
from callcenter.ticket_numbers import is_well_formed

PAGE_SIZE = 50
RESOLVED = ("resolved",)
# Every status the domain gives a ticket (tickets, documents, email/social, IVR).
ALL_STATUSES = (*tickets.OPEN_STATUSES, *RESOLVED)
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "unsettled": tickets.OPEN_STATUSES,
    "open": ("open",),
    "pending_customer": ("pending_customer",),
    "pending_documents": ("pending_documents",),
    "resolved": RESOLVED,
    "all": ALL_STATUSES,
}
STATUS_LABELS = {
    "unsettled": "Open and pending",
    "open": "Open",
    "pending_customer": "Waiting for the customer",
    "pending_documents": "Waiting for documents",
    "resolved": "Resolved",
    "all": "All",
}
CHANNELS = ("voice", "sms", "whatsapp", "email", "walk_in")
CHANNEL_LABELS = {"voice": "Phone", "sms": "SMS", "whatsapp": "WhatsApp", "email": "Email",
                  "walk_in": "Walk-in"}
DUE_FILTERS = {"any": "Any time", "overdue": "Overdue", "today": "Due today",
               "week": "Due in the next 7 days"}
OWNER_FILTERS = {"anyone": "Anyone", "me": "Me", "unassigned": "Unassigned"}
OWNER_ROLES = ("agent", "supervisor", "admin")  # who can own a ticket (QA reviews only)
ASSIGN_OTHERS_ROLES = ("supervisor",)  # and admin (users.has_role)
CALLBACK_REASONS = {
    "dropped_call": "the call dropped (P2.2c)",
    "more_explanation": "a fuller explanation by phone (P2.2a)",
    "no_response": "no answer in writing (P2.2b)",
}
MAX_SUMMARY = 2000
MAX_DOCUMENT_LINES = documents.MAX_REQUIRED_AT_ONCE


# --- the queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    """What the agent asked to see; unknown values fall back to the defaults."""

    status: str = "unsettled"
    channel: str = "any"
    due: str = "any"
    owner: str = "anyone"  # anyone, me, unassigned, or a user id (digits)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        status = args.get("status") or "unsettled"
        channel = args.get("channel") or "any"
        due = args.get("due") or "any"
        owner = args.get("owner") or "anyone"
        return cls(
            status=status if status in STATUS_FILTERS else "unsettled",
            channel=channel if channel in CHANNELS else "any",
            due=due if due in DUE_FILTERS else "any",
            owner=owner if owner in OWNER_FILTERS or (owner.isdigit() and len(owner) < 10)
            else "anyone",
        )

    def as_args(self) -> dict[str, str]:
        return {"status": self.status, "channel": self.channel, "due": self.due,
                "owner": self.owner}

    def describe(self) -> str:
        """For the audit row: what was looked at, never who."""
        return " ".join(f"{k}={v}" for k, v in self.as_args().items())


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's sort key (due date, opened time, id)."""

    due_at: datetime | None
    opened_at: datetime
    id: int

    def encode(self) -> str:
        due = self.due_at.astimezone(UTC).isoformat() if self.due_at else "-"
        raw = f"{due}|{self.opened_at.astimezone(UTC).isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        """A cursor from a link, or None when it is missing or was tampered with."""
        if not value or len(value) > 200:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            due, opened, ident = raw.split("|")
            due_at = None if due == "-" else datetime.fromisoformat(due)
            opened_at = datetime.fromisoformat(opened)
            if opened_at.tzinfo is None or (due_at is not None and due_at.tzinfo is None):
                return None
            return cls(due_at, opened_at, int(ident))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return None


@dataclass(frozen=True)
class QueueRow:
    ticket: Ticket
    customer: str  # masked: "Budi S."
    owner: str | None  # username
    badge: str | None  # overdue, nearing


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None  # None on the last page


def mask_name(name: str | None) -> str:
    """"Budi Santoso" → "Budi S.": enough to recognise a caller, little to leak on a list."""
    words = (name or "").split()
    if not words:
        return ""
    return " ".join([words[0], *(w[0].upper() + "." for w in words[1:])])


def _sort_key(ticket: Ticket) -> tuple[Any, ...]:
    due = ticket.due_at
    return (due is None, due or ticket.opened_at, ticket.opened_at, ticket.id)


def _later_same_due(cursor: Cursor) -> Any:
    return or_(Ticket.opened_at > cursor.opened_at,
               and_(Ticket.opened_at == cursor.opened_at, Ticket.id > cursor.id))


def _dated_after(cursor: Cursor) -> Any:
    """Dated rows after a dated ``cursor``; ``due_at >= …`` lets the index start there."""
    assert cursor.due_at is not None
    return and_(Ticket.due_at >= cursor.due_at,
                or_(Ticket.due_at > cursor.due_at,
                    and_(Ticket.due_at == cursor.due_at, _later_same_due(cursor))))


def due_window(due: str, now: datetime, tz: str) -> tuple[datetime | None, datetime | None]:
    """[from, until) for a due filter, in UTC; days are the centre's local days."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    start_today = datetime.combine(today, time(0), tzinfo=zone).astimezone(UTC)
    if due == "overdue":
        return None, now
    if due == "today":
        return start_today, datetime.combine(today + timedelta(days=1), time(0),
                                             tzinfo=zone).astimezone(UTC)
    if due == "week":
        return now, datetime.combine(today + timedelta(days=8), time(0),
                                     tzinfo=zone).astimezone(UTC)
    return None, None


def queue_page(session: Session, settings: Settings, filters: QueueFilters, *,
               user_id: int | None, after: Cursor | None = None,
               now: datetime | None = None, page_size: int = PAGE_SIZE) -> QueuePage:
    """One page of the queue and the cursor of the next (None when this is the last).

    Per status in the filter (at most four): one query walking the ``(status, due_at)`` index
    in order from the cursor, stopping after ``page_size + 1`` rows, and, only when that
    runs short, one for the tickets without a due date. Every condition is one the index can
    start from (no ``OR due_at IS NULL``), so a late page costs what the first does. The
    customer's name and the owner's user name come in the same query (outer joins), never
    one query per row.
    """
    now = now or utcnow()
    conditions: list[Any] = []
    if filters.channel != "any":
        conditions.append(Ticket.channel == filters.channel)
    if filters.owner == "me":
        conditions.append(Ticket.owner_id == (user_id if user_id is not None else -1))
    elif filters.owner == "unassigned":
        conditions.append(Ticket.owner_id.is_(None))
    elif filters.owner.isdigit():
        conditions.append(Ticket.owner_id == int(filters.owner))
    since, until = due_window(filters.due, now, settings.timezone)
    if since is not None:
        conditions.append(Ticket.due_at >= since)
    if until is not None:
        conditions.append(Ticket.due_at < until)
    limit = page_size + 1
    in_undated = after is not None and after.due_at is None
    found: list[tuple[Ticket, str | None, str | None]] = []
    for status in STATUS_FILTERS[filters.status]:
        rows: list[tuple[Ticket, str | None, str | None]] = []
        if not in_undated:
            dated = [Ticket.due_at.is_not(None)]
            if after is not None:
                dated.append(_dated_after(after))
            rows = _queue_rows(session, [Ticket.status == status, *conditions, *dated], limit)
        if len(rows) < limit and since is None and until is None:
            # No due date (a written complaint waiting for documents): after every dated one.
            undated = [Ticket.due_at.is_(None)]
            if in_undated:
                assert after is not None
                undated.append(_later_same_due(after))
            rows += _queue_rows(session, [Ticket.status == status, *conditions, *undated],
                                limit - len(rows))
        found.extend(rows)
    found.sort(key=lambda row: _sort_key(row[0]))
    page = found[:page_size]
    calendar = regulation.WorkCalendar.from_settings(settings)
    listed = [QueueRow(ticket, mask_name(name) if name else "", owner,
                       due_badge(ticket, now, calendar, settings.complaint_nearing_working_days))
              for ticket, name, owner in page]
    next_cursor = None
    if len(found) > page_size:
        last = page[-1][0]
        next_cursor = Cursor(last.due_at, last.opened_at, last.id).encode()
    return QueuePage(listed, next_cursor)


def _queue_rows(session: Session, where: list[Any], limit: int
                ) -> list[tuple[Ticket, str | None, str | None]]:
    query = (
        select(Ticket, Customer.name, User.username)
        .outerjoin(Customer, Ticket.customer_id == Customer.id)
        .outerjoin(User, Ticket.owner_id == User.id)
        .where(*where)
        .order_by(Ticket.due_at.asc().nulls_last(), Ticket.opened_at, Ticket.id)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def due_badge(ticket: Ticket, now: datetime, calendar: regulation.WorkCalendar,
              within_working_days: int) -> str | None:
    """"overdue" past its due time, "nearing" within the configured working days (the same
    figure the supervisors' digest uses), else None; settled tickets have none."""
    if ticket.due_at is None or regulation.is_settled(ticket):
        return None
    if ticket.due_at < now:
        return "overdue"
    if regulation.working_days_between(now, ticket.due_at, calendar) <= within_working_days:
        return "nearing"
    return None


def owners_for_filter(session: Session) -> list[User]:
    """Supervisors filter by a specific person: the active users who can own tickets."""
    return list(session.scalars(select(User).where(User.active.is_(True),
                                                   User.role.in_(OWNER_ROLES))
                                .order_by(User.username)))


# --- one ticket ------------------------------------------------------------------------------


def load_ticket(session: Session, number: str) -> Ticket | None:
    """The ticket with its customer, contacts (and their agents), callbacks and required
    documents, in five queries whatever their number; None when the number is not
    well-formed (check digit) or unknown."""
    if not isinstance(number, str) or not is_well_formed(number):
        return None
    return session.scalars(
        select(Ticket).where(Ticket.number == number).options(
            joinedload(Ticket.customer),
            selectinload(Ticket.contacts).joinedload(Contact.agent),
            selectinload(Ticket.callbacks),
            selectinload(Ticket.required_documents),
        )).first()


@dataclass(frozen=True)
class DocumentInfo:
    """A received document without its bytes (they can be megabytes)."""

    id: int
    filename: str
    content_type: str
    size: int
    source: str
    received_at: datetime


@dataclass(frozen=True)
class OutboxInfo:
    """A reply written to the outbox and not sent yet (pending) or given up (failed)."""

    kind: str  # email, sms, whatsapp
    id: int
    status: str
    to: str
    subject: str | None
    body: str
    attempts: int
    last_error: str | None
    created_at: datetime


@dataclass
class TimelineEntry:
    """One thing that happened on the ticket, for the timeline (X2)."""

    at: datetime
    kind: str  # call, email, message, visit, callback, document, outbox
    label: str
    channel: str | None = None
    direction: str | None = None
    status: str | None = None
    contact: Contact | None = None
    callback: Callback | None = None
    document: DocumentInfo | None = None
    outbox: OutboxInfo | None = None
    safe_html: str | None = None  # email HTML, only ever through sanitize.safe_html
    told: list[str] = field(default_factory=list)  # what the IVR or the desk said


def received_documents(session: Session, ticket: Ticket) -> list[DocumentInfo]:
    rows = session.execute(
        select(Document.id, Document.filename, Document.content_type, Document.size,
               Document.source, Document.received_at)
        .where(Document.ticket_id == ticket.id).order_by(Document.received_at, Document.id))
    return [DocumentInfo(*row) for row in rows]


def unsent_replies(session: Session, ticket: Ticket) -> list[OutboxInfo]:
    """Outbox rows not sent yet: a sent one is already a contact on the ticket."""
    found = [OutboxInfo("email", e.id, e.status, e.to_address, e.subject, e.body, e.attempts,
                        e.last_error, e.created_at)
             for e in session.scalars(select(OutboundEmail).where(
                 OutboundEmail.ticket_id == ticket.id, OutboundEmail.status != "sent"))]
    found += [OutboxInfo(m.channel, m.id, m.status, m.to_number, None, m.body, m.attempts,
                         m.last_error, m.created_at)
              for m in session.scalars(select(OutboundMessage).where(
                  OutboundMessage.ticket_id == ticket.id, OutboundMessage.status != "sent"))]
    return found


_CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "Email"}


def _contact_entry(contact: Contact) -> TimelineEntry:
    inbound = contact.direction == "inbound"
    entry = TimelineEntry(at=contact.started_at, kind="call", label="", channel=contact.channel,
                          direction=contact.direction, status=contact.status, contact=contact)
    if contact.channel == "voice":
        if contact.kind == "agent_leg":
            entry.label = "Agent leg" + (f": {contact.agent.name}" if contact.agent else "")
        elif contact.kind == "callback" or contact.callback_id is not None:
            entry.label = "Callback attempt"
        else:
            entry.label = "Call from the customer" if inbound else "Call to the customer"
        entry.told = [str(item.get("said") or item.get("summary") or "")
                      for item in (contact.answers or []) if isinstance(item, dict)]
    elif contact.channel == "walk_in":
        entry.kind, entry.label = "visit", "Walk-in visit"
        entry.told = [str(item.get("said") or "") for item in (contact.answers or [])
                      if isinstance(item, dict)]
    elif contact.channel == "email":
        entry.kind = "email"
        if inbound:
            entry.label = ("Email from the customer" if contact.sender_verified
                           else "Email from an address not on the ticket")
        else:
            entry.label = "Email to the customer"
        entry.safe_html = safe_html(contact.body_html) if contact.body_html else None
    else:
        name = _CHANNEL_NAMES.get(contact.channel, contact.channel)
        entry.kind = "message"
        entry.label = f"{name} from the customer" if inbound else f"{name} to the customer"
    return entry


def timeline(session: Session, ticket: Ticket) -> list[TimelineEntry]:
    """Every contact, callback, received document and unsent reply, oldest first (X2).

    Callbacks are placed when they were requested; each dialled attempt is its own contact
    ("Callback attempt"). Reads ``ticket.contacts``/``callbacks`` as loaded by
    :func:`load_ticket`, plus two small queries (documents, outbox).
    """
    entries = [_contact_entry(c) for c in ticket.contacts]
    for callback in ticket.callbacks:
        entries.append(TimelineEntry(
            at=callback.created_at, kind="callback", status=callback.status, callback=callback,
            label="Callback owed: " + CALLBACK_REASONS.get(callback.reason, callback.reason)))
    for document in received_documents(session, ticket):
        entries.append(TimelineEntry(at=document.received_at, kind="document",
                                     label="Document received", document=document))
    for reply in unsent_replies(session, ticket):
        name = _CHANNEL_NAMES.get(reply.kind, reply.kind)
        entries.append(TimelineEntry(
            at=reply.created_at, kind="outbox", channel=reply.kind, direction="outbound",
            status=reply.status, outbox=reply,
            label=f"{name} to the customer, not sent yet" if reply.status == "pending"
            else f"{name} to the customer could not be sent"))
    entries.sort(key=lambda e: e.at)  # stable: same-time entries keep their kind's order
    return entries


# --- formatting (the centre's zone, Rupiah) --------------------------------------------------


def local_time(value: datetime | None, tz: str) -> str:
    """``Mon 30 Nov 2026, 08:00 WIB`` in the centre's zone; empty for None."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime("%a %d %b %Y, %H:%M %Z")


def local_input(value: datetime | None, tz: str) -> str:
    """The value of a ``datetime-local`` input in the centre's zone."""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M") if value else ""


def rupiah(amount: int | None) -> str:
    """``Rp 1.250.000`` (babel, Indonesian grouping, whole Rupiah)."""
    if amount is None:
        return ""
    return format_currency(amount, "IDR", locale="id_ID", format="¤ #,##0",
                           currency_digits=False)


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(max(int(seconds), 0), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


# --- actions ---------------------------------------------------------------------------------


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
    """P2.2a: owe the customer a call (``callbacks.request_callback``, reason
    ``more_explanation``), at ``earliest`` or as soon as the calling window allows."""
    now = now or utcnow()
    if ticket.status == "resolved":
        raise ActionRefused(f"Ticket {ticket.number} is resolved; no callback is owed.")
    if earliest is not None and earliest < now - PAST_GRACE:
        raise ActionRefused("Call at is in the past; choose a later time or leave it empty.")
    wanted = max(earliest, now) if earliest is not None else now
    callback, created = callbacks.request_callback(session, settings, ticket,
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
    tickets.resolve(session, ticket, text)


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}
