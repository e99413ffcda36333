"""SQLAlchemy 2 typed models: the durable state of the call centre.

Ticket state lives here, never only in Redis (ARCHITECTURE: a flushed Redis loses no ticket
and no callback). Times are stored as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from callcenter.statuses import (
    CallbackStatus,
    CallStatus,
    OutboxStatus,
    Presence,
    TemplateStatus,
    TicketStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, on SQLite (naive storage) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Customer(Base):
    """A borrower, imported from the lender's CSV (CONTRACT "Customer data import")."""

    __tablename__ = "customers"
    # Inbound email is matched by address, case-insensitively (bench: a full scan per email).
    __table_args__ = (Index("ix_customers_email_lower", func.lower(text("email"))),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    product: Mapped[str | None] = mapped_column(String(100))
    application_status: Mapped[str | None] = mapped_column(String(50))
    amount_due: Mapped[int | None] = mapped_column(BigInteger)  # whole Rupiah
    due_date: Mapped[date | None] = mapped_column(Date)
    va_bank: Mapped[str | None] = mapped_column(String(50))
    va_number: Mapped[str | None] = mapped_column(String(40))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tickets: Mapped[list[Ticket]] = relationship(back_populates="customer")


ORAL_CHANNELS = ("voice", "walk_in")


def _kind_for_channel(context: Any) -> str:
    """POJK: a complaint by phone or in person is oral, any other is written."""
    return "oral" if context.get_current_parameters().get("channel") in ORAL_CHANNELS else "written"


class Ticket(Base):
    """One problem of one customer, whatever the channel (X1)."""

    __tablename__ = "tickets"
    # The console's queue filters by status/owner/channel and sorts by due date (console bench).
    __table_args__ = (
        Index("ix_tickets_status_due_at", "status", "due_at"),
        Index("ix_tickets_owner_status_due_at", "owner_id", "status", "due_at"),
        Index("ix_tickets_channel_status_due_at", "channel", "status", "due_at"),
        Index("ix_tickets_opened_at", "opened_at"),
        # The floor counts open tickets by category and due date from this index alone.
        Index("ix_tickets_status_category_due_at", "status", "category", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(10), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # where it was opened
    # No index of its own: the composite indexes that lead with status serve every filter.
    status: Mapped[str] = mapped_column(String(30), default=TicketStatus.OPEN)
    category: Mapped[str] = mapped_column(String(40), default="inquiry")
    language: Mapped[str] = mapped_column(String(5), default="id")
    reason: Mapped[str | None] = mapped_column(String(200))  # why an agent is needed
    summary: Mapped[str | None] = mapped_column(Text)  # what the customer was told (P1.8)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    customer_email: Mapped[str | None] = mapped_column(String(254))  # unmatched email sender
    # POJK complaint kind: oral (phone, walk-in) or written; an oral complaint not settled in
    # its period is converted to written, ``converted_at`` says when.
    kind: Mapped[str] = mapped_column(String(10), default=_kind_for_channel,
                                      server_default="written")
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship(back_populates="tickets")
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="ticket", order_by="Contact.started_at"
    )
    callbacks: Mapped[list[Callback]] = relationship(
        back_populates="ticket", order_by="Callback.id"
    )
    required_documents: Mapped[list[RequiredDocument]] = relationship(
        order_by="RequiredDocument.id"
    )
    notes: Mapped[list[Note]] = relationship(  # oldest first, as the record was written
        order_by=lambda: (Note.created_at, Note.id), viewonly=True)


class Note(Base):
    """What the customer said and what was checked, in the words of the person who heard it
    (PROCEDURE: "CS wajib mencatat informasi keluhan"). Append-only: a correction is a new
    note, so the record shows what was known when."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_ticket_id_created_at", "ticket_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The author's name as it was when the note was written (a user may be renamed or go).
    author: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)


class Contact(Base):
    """One contact on a ticket: a call leg, message, email or visit (X2).

    For a call, ``ivr_state`` holds the flow's per-call state so a retried webhook replays the
    same answer and a dropped call is recognised (FACTS: "completed" does not say why).
    """

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_contacts_channel_ext"),
                      Index("ix_contacts_started_at", "started_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # voice, sms, whatsapp, email, walk_in
    direction: Mapped[str] = mapped_column(String(10))  # inbound, outbound
    kind: Mapped[str] = mapped_column(String(20), default="customer")  # customer, agent_leg
    external_id: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(30), default=CallStatus.IN_PROGRESS)
    from_number: Mapped[str | None] = mapped_column(String(40))
    to_number: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    menu_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    ivr_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_response: Mapped[str | None] = mapped_column(Text)  # replayed on a Twilio retry
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    # Written channels (email, sms, whatsapp) and visits: what was said, by whom (X2).
    sender: Mapped[str | None] = mapped_column(String(254), index=True)  # address or phone
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)  # stored as sent/received
    body_html: Mapped[str | None] = mapped_column(Text)  # raw; sanitised before display
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    sender_verified: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    asks_customer: Mapped[bool] = mapped_column(  # our question: starts the P2.2b clock
        Boolean, default=False, server_default=false())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the agent who wrote
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"), index=True)
    answered_by: Mapped[str | None] = mapped_column(String(30))
    queue_state: Mapped[str | None] = mapped_column(String(20), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When an agent took the queued caller (speed of answer, service level).
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket | None] = relationship(back_populates="contacts")
    agent: Mapped[Agent | None] = relationship()


class User(Base):
    """A person using the product: agent, supervisor, QA or admin (console and API)."""

    __tablename__ = "users"
    # One person per routed agent: the screen pop shows a caller to exactly one screen.
    __table_args__ = (Index("uq_users_agent_id", "agent_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))  # agent, supervisor, qa, admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The console's language for this person (CONTRACT "Console language"): id or en.
    language: Mapped[str] = mapped_column(String(5), default="id", server_default="id")


class Template(Base):
    """A reply template (P3.3): drafted, approved by QA, only then sendable.

    Editing an approved template makes a new draft version; the approved one stays usable
    until the new one is approved (then it is retired).
    """

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("key", "language", "version",
                                       name="uq_templates_key_lang_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(5))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default=TemplateStatus.DRAFT)
    channel: Mapped[str] = mapped_column(String(20), default="email")  # email, sms, whatsapp
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    twilio_content_sid: Mapped[str | None] = mapped_column(String(64))  # WhatsApp template
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Document(Base):
    """A supporting document received from the customer (P4.3), size-capped."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(20))  # desk, email, whatsapp, sms
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RequiredDocument(Base):
    """A document the customer still owes (P4.3): the ticket waits until each arrives."""

    __tablename__ = "required_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboundEmail(Base):
    """An email we owe the customer, written before the worker sends it over SMTP."""

    __tablename__ = "outbound_emails"
    __table_args__ = (Index("ix_outbound_emails_pending", "created_at",
                            postgresql_where=text("status = 'pending'"),
                            sqlite_where=text("status = 'pending'")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    references: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id"))
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Agent(Base):
    """A CS agent who takes routed calls on a phone number or a Twilio Client identity."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    client_identity: Mapped[str | None] = mapped_column(String(120))
    available: Mapped[bool] = mapped_column(Boolean, default=False)  # routing: offered calls
    # What the agent chose in the console: available, busy (after-call work), away.
    presence: Mapped[str] = mapped_column(String(10), default=Presence.AWAY,
                                          server_default=Presence.AWAY.value)
    current_call_sid: Mapped[str | None] = mapped_column(String(64))  # set while ringing/talking
    last_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Wrap-up (P1.7, P1.8): after a call the agent is not offered calls until they finish the
    # wrap-up card or until this time passes (WRAP_UP_SECONDS). ``wrap_up_leg_id`` is the
    # agent leg (a contact) being wrapped up; no foreign key, since contacts already point
    # at agents and a cycle of keys would complicate every insert and delete.
    wrap_up_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wrap_up_leg_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def address(self) -> str:
        """Where Twilio dials this agent."""
        return self.phone or f"client:{self.client_identity}"


class Callback(Base):
    """An outbound call owed to a customer (P2.1/P2.2): the outbox row comes before any job."""

    __tablename__ = "callbacks"
    __table_args__ = (
        Index(
            "uq_callbacks_one_pending_per_ticket",
            "ticket_id",
            unique=True,
            postgresql_where=text("status IN ('scheduled', 'dialing')"),
            sqlite_where=text("status IN ('scheduled', 'dialing')"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    reason: Mapped[str] = mapped_column(String(30))  # dropped_call, more_explanation, no_response
    status: Mapped[str] = mapped_column(String(20), default=CallbackStatus.SCHEDULED,
                                        index=True)
    phone: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    call_sid: Mapped[str | None] = mapped_column(String(64))
    dialing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    api_errors: Mapped[int] = mapped_column(Integer, default=0)  # Twilio 429/5xx in a row
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="callbacks")


class OutboundMessage(Base):
    """An SMS/WhatsApp we owe the customer (P1.3): written first, sent by a worker."""

    __tablename__ = "outbound_messages"
    # The outbox sweep and /metrics read the pending rows only (the sent ones pile up).
    __table_args__ = (Index("ix_outbound_messages_pending", "created_at",
                            postgresql_where=text("status = 'pending'"),
                            sqlite_where=text("status = 'pending'")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20), default="sms")
    to_number: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)
    asks_customer: Mapped[bool] = mapped_column(  # starts the P2.2b clock
        Boolean, default=False, server_default=false())
    content_sid: Mapped[str | None] = mapped_column(String(64))  # WhatsApp approved template
    message_sid: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookEvent(Base):
    """A provider event already taken in: Twilio retries, the effect happens once."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who saw or changed what (privacy); append-only through the product."""

    __tablename__ = "audit_log"
    # Supervisors filter the trail by subject (a ticket), by person and by action.
    __table_args__ = (Index("ix_audit_log_subject_at", "subject", "at"),
                      Index("ix_audit_log_actor_at", "actor", "at"),
                      Index("ix_audit_log_action_at", "action", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str | None] = mapped_column(Text)
