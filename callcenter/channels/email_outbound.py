"""Emails we send: written to the outbox first (``OutboundEmail``), sent by a job over SMTP.

Every email carries our signed ``Message-ID`` (threading, see ``email_threading``), points
with ``In-Reply-To``/``References`` at the customer's message, and has ``[Tiket N]`` in its
subject (P3.5). Acknowledgements name the ticket number and nothing about the customer.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.channels import email_threading
from callcenter.config import ConfigError, Settings
from callcenter.content import Content
from callcenter.i18n import Msg
from callcenter.labels import channel_word
from callcenter.models import Contact, Customer, OutboundEmail, Template, Ticket, utcnow
from callcenter.statuses import OutboxStatus, TemplateStatus, TicketStatus

SENDER_NAME = "Cankul Customer Service"

_ACK_NEW = {
    "id": (
        "Terima kasih, email Anda sudah kami terima dan tercatat dengan nomor tiket {ticket}.\n"
        "Petugas kami akan membalas email ini. Bila menghubungi kami lagi (telepon, email, "
        "SMS/WhatsApp), sebutkan nomor tiket {ticket} agar Anda tidak perlu menjelaskan dari "
        "awal.\n"
    ),
    "en": (
        "Thank you, we have received your email and recorded it under ticket number {ticket}.\n"
        "An agent will answer this email. When you contact us again, quote ticket number "
        "{ticket} so that you need not explain it again.\n"
    ),
}
# To a sender who is not the ticket's customer (or whose address failed SPF/DKIM): generic,
# at most once a day per address; no ticket number, no subject echoed, nothing of the customer.
STRANGER_SUBJECT = "Email Anda sudah kami terima / We have received your email"
STRANGER_REPLIES_PER = timedelta(days=1)
_STRANGER_REPLY = {
    "id": (
        "Email Anda sudah kami terima.\n"
        "Demi keamanan data nasabah, kami hanya menindaklanjuti pengaduan melalui alamat email "
        "yang terdaftar pada pengaduan tersebut, atau setelah verifikasi melalui telepon. Bila "
        "Anda nasabah kami, kirimkan email dari alamat email yang terdaftar atau hubungi kami "
        "melalui telepon.\n"
    ),
    "en": (
        "We have received your email.\n"
        "To protect our customers' data we act on a complaint only through the email address "
        "registered for it, or after verification by phone. If you are our customer, write "
        "from your registered email address or call us.\n"
    ),
}
_SIGNATURE = "\n-- \nCankul Customer Service\n"


class ReplyError(ValueError):
    """A reply that cannot be written; ``status`` is the HTTP answer (400 or 409)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def queue_email(session: Session, settings: Settings, *, ticket: Ticket, to: str, subject: str,
                body: str, in_reply_to: str | None = None, references: str | None = None,
                template_id: int | None = None) -> OutboundEmail:
    """An outbox row with our signed Message-ID, flushed (the caller commits, then enqueues)."""
    email = OutboundEmail(
        ticket_id=ticket.id, to_address=to, subject=subject[:300], body=body,
        message_id=email_threading.make_message_id(settings.secret_key, ticket.id,
                                                   settings.email_domain),
        in_reply_to=(in_reply_to or None) and in_reply_to[:300], references=references,
        template_id=template_id, status=OutboxStatus.PENDING)
    session.add(email)
    session.flush()
    return email


def thread_headers(contact: Contact | None) -> tuple[str | None, str | None]:
    """(In-Reply-To, References) answering the customer's email ``contact``."""
    if contact is None:
        return None, None
    meta = (contact.ivr_state or {}).get("email", {})
    message_id = meta.get("message_id") or contact.external_id
    chain = [*meta.get("references", []), message_id]
    return message_id, " ".join(dict.fromkeys(chain))


def _bilingual(texts: dict[str, str], first: str, **fields: str) -> str:
    order = [first] + [lang for lang in texts if lang != first]
    return "\n".join(texts[lang].format(**fields) for lang in order) + _SIGNATURE


def queue_acknowledgement(session: Session, settings: Settings, ticket: Ticket,
                          inbound: Contact) -> OutboundEmail:
    """P3.5: the ticket number goes back to the customer at once (verified senders only)."""
    in_reply_to, references = thread_headers(inbound)
    return queue_email(
        session, settings, ticket=ticket, to=inbound.sender or "",
        subject=email_threading.tag_subject(inbound.subject, ticket.number or "", reply=True),
        body=_bilingual(_ACK_NEW, ticket.language or "id", ticket=ticket.number or ""),
        in_reply_to=in_reply_to, references=references)


def queue_stranger_reply(session: Session, settings: Settings,
                         inbound: Contact) -> OutboundEmail | None:
    """A generic "received" to a sender who is not the ticket's customer, at most one per
    address a day (None when one went out already): it names no ticket and echoes nothing
    they wrote (FACTS "Email threading": reveal no customer data), and its Message-ID names
    no ticket, so answering it does not make them the customer."""
    to = (inbound.sender or "").lower()
    since = utcnow() - STRANGER_REPLIES_PER
    already = session.scalars(select(OutboundEmail.id).where(
        OutboundEmail.to_address == to, OutboundEmail.ticket_id.is_(None),
        OutboundEmail.subject == STRANGER_SUBJECT, OutboundEmail.created_at >= since)).first()
    if not to or already is not None:
        return None
    in_reply_to, _references = thread_headers(inbound)
    email = OutboundEmail(
        ticket_id=None, to_address=to, subject=STRANGER_SUBJECT,
        body=_bilingual(_STRANGER_REPLY, "id"),
        message_id=email_threading.make_unthreaded_message_id(settings.email_domain),
        in_reply_to=in_reply_to and in_reply_to[:300], references=in_reply_to,
        status=OutboxStatus.PENDING)
    session.add(email)
    session.flush()
    return email


def reply_address(session: Session, ticket: Ticket) -> str | None:
    """Where replies on ``ticket`` go: the customer's registered email, else the address an
    unmatched email ticket was opened from."""
    if ticket.customer_id is not None:
        customer = session.get(Customer, ticket.customer_id)
        if customer is not None and customer.email:
            return customer.email
        return None
    return ticket.customer_email


def last_customer_email(session: Session, ticket: Ticket) -> Contact | None:
    """The customer's latest email on the ticket (not a stranger's): what a reply answers."""
    return session.scalars(
        select(Contact).where(Contact.ticket_id == ticket.id, Contact.channel == "email",
                              Contact.direction == "inbound", Contact.sender_verified.is_(True))
        .order_by(Contact.started_at.desc(), Contact.id.desc())).first()


def queue_template_reply(session: Session, settings: Settings, ticket: Ticket,
                         template: Template, content: Content) -> OutboundEmail:
    """P3.3 + P3.4: an approved template rendered for the ticket's customer, the "anything
    else?" question appended, threaded to the customer's last email; the ticket then waits
    for the customer (P2.2b clock starts when it is sent)."""
    from callcenter.channels import templates

    if template.status != TemplateStatus.APPROVED:
        raise ReplyError(Msg("Template %(id)s is not approved: only approved templates can be "
                             "sent.", id=template.id), 409)
    if template.channel != "email":
        raise ReplyError(Msg("Template %(id)s is for %(channel)s, not email.", id=template.id,
                             channel=channel_word(template.channel)))
    to = reply_address(session, ticket)
    if not to:
        raise ReplyError(Msg("The ticket has no email address to reply to."))
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    try:
        subject, text = templates.render(template, ticket=ticket, customer=customer,
                                         email=to)
    except templates.TemplateError as exc:
        raise ReplyError(str(exc), 409) from exc
    lang = template.language
    closing = content.text(lang, "desk_anything_else")
    body = f"{text.rstrip()}\n\n{closing}\n" + _SIGNATURE
    answered = last_customer_email(session, ticket)
    in_reply_to, references = thread_headers(answered)
    if answered is not None:
        subject_line = email_threading.tag_subject(answered.subject, ticket.number or "",
                                                   reply=True)
    else:
        subject_line = email_threading.tag_subject(subject or "Pengaduan Anda",
                                                   ticket.number or "")
    email = queue_email(session, settings, ticket=ticket, to=to, subject=subject_line,
                        body=body, in_reply_to=in_reply_to, references=references,
                        template_id=template.id)
    ticket.status = TicketStatus.PENDING_CUSTOMER
    return email


def queue_threaded_notice(session: Session, settings: Settings, ticket: Ticket, *, to: str,
                          subject: str, text: str) -> OutboundEmail:
    """A notice on ``ticket`` that asks nothing (the resolution summary, P1.8): threaded as our
    reply to the customer's last verified email when there is one, ``[Tiket N]`` in the
    subject (P3.5), the ticket's status left alone."""
    answered = last_customer_email(session, ticket)
    in_reply_to, references = thread_headers(answered)
    subject_line = email_threading.tag_subject(
        (answered.subject if answered is not None else None) or subject, ticket.number or "",
        reply=answered is not None)
    return queue_email(session, settings, ticket=ticket, to=to, subject=subject_line,
                       body=f"{text.rstrip()}\n" + _SIGNATURE, in_reply_to=in_reply_to,
                       references=references)


def asks_customer(email: OutboundEmail) -> bool:
    """Template replies end with the "anything else?" question (P3.4) and start the P2.2b
    clock; acknowledgements do not. (The outbox has no column of its own for it.)"""
    return email.template_id is not None


def build_message(settings: Settings, email: OutboundEmail) -> EmailMessage:
    """The RFC 5322 message for an outbox row, exactly as it will be sent and stored."""
    message = EmailMessage()
    message["From"] = formataddr((SENDER_NAME, settings.support_email))
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = email.message_id
    if email.in_reply_to:
        message["In-Reply-To"] = email.in_reply_to
    if email.references:
        message["References"] = email.references
    if not asks_customer(email):
        message["Auto-Submitted"] = "auto-replied"  # RFC 3834: auto-responders stay quiet
    message.set_content(email.body)
    return message


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str | None) -> SmtpTarget:
    """``smtp://user:pass@host:587`` (STARTTLS when offered) or ``smtps://…`` (implicit TLS)."""
    if not url:
        raise ConfigError("SMTP_URL is not set")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://…")
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 587)
    except ValueError as exc:
        raise ConfigError("SMTP_URL has an invalid port") from exc
    return SmtpTarget(parts.hostname, port, implicit,
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None)


def deliver(settings: Settings, message: EmailMessage, timeout: float = 20) -> None:
    """Hand ``message`` to the SMTP server; smtplib's exceptions tell what went wrong."""
    target = parse_smtp_url(settings.smtp_url)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if target.implicit_tls:
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    with client:
        client.ehlo()
        secure = target.implicit_tls
        if not secure and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
            secure = True
        if target.username:
            if not secure and target.host not in ("localhost", "127.0.0.1", "::1"):
                raise ConfigError("SMTP server offers no TLS: refusing to send the password")
            client.login(target.username, target.password or "")
        client.send_message(message, from_addr=settings.support_email,
                            to_addrs=[str(message["To"])])
