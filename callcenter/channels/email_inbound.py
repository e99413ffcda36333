"""Taking in one inbound email (P3.1, P3.2, X1, X2): parse, thread, record.

A post from the provider is parsed completely before anything is written (a malformed post
writes nothing); the caller commits once at the end. The same Message-ID twice is one email.

Only the ticket's customer acts on a ticket by email. Mail is *verified* when its sender's
checks did not fail (SendGrid's ``SPF`` and ``dkim`` fields) and it either comes from the
ticket's address or answers one of our signed Message-IDs (which only that address received).
Anything else (a stranger quoting ``[Tiket N]``, a forged From) is kept on the ticket, marked
unverified for the agent, and changes nothing: no status moves, nothing reopens, an attachment
is kept but fulfils no required document (FACTS "Email threading").
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.channels import email_threading
from callcenter.config import Settings
from callcenter.i18n import Msg, as_record, from_record
from callcenter.models import Contact, Customer, Ticket
from callcenter.statuses import MessageStatus, TicketStatus
from callcenter.tickets import documents, lifecycle

MAX_ATTACHMENTS = 20
EXTERNAL_ID_MAX = 120  # Contact.external_id


class MalformedEmail(ValueError):
    """The post cannot be taken in (400); the message says what is wrong."""


class AttachmentTooLarge(ValueError):
    """An attachment over the per-file cap (413)."""


class Upload(Protocol):
    filename: str | None
    mimetype: str

    def read(self, size: int = -1) -> bytes: ...


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    sender: str  # lower-cased address
    subject: str
    text: str
    html: str | None
    message_id: str
    in_reply_to: str | None
    references: str | None
    to: list[str]
    auto_generated: bool
    attachments: list[Attachment] = field(default_factory=list)
    spf: str | None = None  # SendGrid's SPF verdict, as posted
    dkim: str | None = None  # SendGrid's dkim field, e.g. "{@example.com : pass}"

    @property
    def forged_sender(self) -> str | None:
        """Why the sender's checks say the From address is not genuine, or None."""
        return authentication_failure(self.spf, self.dkim, self.sender)


@dataclass
class Inbound:
    """What taking in one email did."""

    contact: Contact
    ticket: Ticket
    duplicate: bool = False
    new_ticket: bool = False
    verified: bool = True
    threaded_by: str = "new"  # headers, subject, awaited, new
    unverified_reason: str | None = None  # for the agent: why it changed nothing


_DKIM_RESULT = re.compile(r"@([A-Za-z0-9.-]+)\s*:\s*([A-Za-z]+)")
SPF_FAILURES = ("fail", "softfail")
NOT_THE_CUSTOMER = Msg("the sender's address is not the one on the ticket")


def _aligned(signer: str, domain: str) -> bool:
    """DMARC's relaxed alignment, near enough: the same domain or one inside the other."""
    signer, domain = signer.lower().strip("."), domain.lower().strip(".")
    return signer == domain or signer.endswith("." + domain) or domain.endswith("." + signer)


def authentication_failure(spf: str | None, dkim: str | None, sender: str) -> str | None:
    """What SendGrid Inbound Parse's checks say against the From address, or None.

    ``dkim`` lists each signature's domain and verdict (``{@example.com : pass}``); ``SPF`` is
    the verdict for the sending server (``pass``, ``fail``, ``softfail``, ``neutral``,
    ``none``…). As DMARC does, a DKIM pass for the sender's own domain vouches for the mail
    (forwarding breaks SPF, not DKIM); otherwise a DKIM fail for that domain or an SPF
    ``fail``/``softfail`` marks it forged. Missing or inconclusive checks are no evidence.
    """
    domain = sender.rpartition("@")[2]
    verdicts = [result.lower() for signer, result in _DKIM_RESULT.findall(dkim or "")
                if _aligned(signer, domain)]
    if "pass" in verdicts:
        return None
    if "fail" in verdicts:
        return Msg("DKIM check failed for %(domain)s", domain=domain)
    spf_result = (spf or "").strip().lower()
    if spf_result in SPF_FAILURES:
        return Msg("SPF check: %(result)s", result=spf_result)
    return None


def _json(form: dict[str, str], name: str, kind: type) -> Any:
    raw = form.get(name)
    if raw is None or raw == "":
        return kind()
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise MalformedEmail(f"{name} is not valid JSON") from exc
    if not isinstance(value, kind):
        raise MalformedEmail(f"{name} must be a JSON {kind.__name__}")
    return value


def _is_auto_generated(headers: Any, sender: str) -> bool:
    """RFC 3834 and common practice: never auto-answer an auto-answer or a bounce."""
    auto = (headers.get("Auto-Submitted") or "no").strip().lower()
    precedence = (headers.get("Precedence") or "").strip().lower()
    local = sender.partition("@")[0]
    return (auto != "no" or precedence in ("bulk", "junk", "list")
            or headers.get("X-Autoreply") is not None
            or headers.get("X-Autorespond") is not None
            or local in ("mailer-daemon", "postmaster", "noreply", "no-reply"))


def parse_post(form: dict[str, str], files: dict[str, Upload], settings: Settings) -> ParsedEmail:
    """SendGrid Inbound Parse fields → ParsedEmail; MalformedEmail / AttachmentTooLarge."""
    name, sender = parseaddr(form.get("from") or "")
    sender = sender.strip().lower()
    if not sender or "@" not in sender or len(sender) > 254:
        raise MalformedEmail("from is missing or has no email address")
    raw_headers = form.get("headers")
    if not raw_headers or not raw_headers.strip():
        raise MalformedEmail("headers is missing")
    headers = HeaderParser().parsestr(raw_headers)
    if headers.defects or not headers.keys():
        raise MalformedEmail("headers cannot be parsed as an RFC 5322 header block")
    _json(form, "envelope", dict)
    _json(form, "charsets", dict)
    info = _json(form, "attachment-info", dict)
    count_raw = (form.get("attachments") or "0").strip()
    if not count_raw.isdigit() or int(count_raw) > MAX_ATTACHMENTS:
        raise MalformedEmail(f"attachments must be a count from 0 to {MAX_ATTACHMENTS}")
    subject = form.get("subject") or str(headers.get("Subject") or "")
    text = form.get("text") or ""
    message_id = " ".join(str(headers.get("Message-ID") or "").split())
    if not message_id:
        # No Message-ID (rare, broken senders): one derived from the content, so that a repost
        # of the same post is still recognised.
        digest = hashlib.sha256("\n".join((raw_headers, sender, subject, text)).encode())
        message_id = f"<{digest.hexdigest()[:40]}@no-message-id.invalid>"
    attachments = []
    for index in range(1, int(count_raw) + 1):
        key = f"attachment{index}"
        upload = files.get(key)
        meta = info.get(key, {})
        if upload is None or not isinstance(meta, dict):
            raise MalformedEmail(f"{key} announced but missing or not described")
        data = upload.read(settings.email_max_attachment_bytes + 1)
        filename = str(meta.get("filename") or upload.filename or key)[:255]
        if len(data) > settings.email_max_attachment_bytes:
            raise AttachmentTooLarge(
                f"{filename} is larger than {settings.email_max_attachment_bytes} bytes")
        content_type = str(meta.get("type") or upload.mimetype or "application/octet-stream")
        attachments.append(Attachment(filename, content_type[:120], data))
    del name
    return ParsedEmail(
        sender=sender, subject=" ".join(subject.split())[:300], text=text,
        html=form.get("html") or None, message_id=message_id,
        in_reply_to=str(headers.get("In-Reply-To") or "").strip() or None,
        references=" ".join(str(headers.get("References") or "").split()) or None,
        to=[a for _n, a in getaddresses([form.get("to") or "", form.get("cc") or ""]) if a],
        auto_generated=_is_auto_generated(headers, sender), attachments=attachments,
        spf=(form.get("SPF") or "").strip()[:40] or None,
        dkim=(form.get("dkim") or "").strip()[:500] or None)


def external_id(message_id: str) -> str:
    """Contact.external_id holds 120 characters; a longer Message-ID is stored as its hash
    (the full one is in the contact's ``ivr_state["email"]``)."""
    if len(message_id) <= EXTERNAL_ID_MAX:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def find_email(session: Session, message_id: str) -> Contact | None:
    return session.scalars(select(Contact).where(
        Contact.channel == "email", Contact.external_id == external_id(message_id))).first()


def unverified_reason(contact: Contact) -> Msg | None:
    """Why an inbound email was not taken as the customer's (None when it was), as a message
    the console shows in the reader's language."""
    if contact.sender_verified:
        return None
    stored = (contact.ivr_state or {}).get("email", {})
    if "unverified_why" in stored:
        return from_record(stored["unverified_why"])
    return NOT_THE_CUSTOMER


def _customer_for(session: Session, address: str) -> Customer | None:
    """The customer with this email (case-insensitive); of several, one with an unsettled
    ticket, else the most recent."""
    found = list(session.scalars(select(Customer).where(func.lower(Customer.email) == address)
                                 .order_by(Customer.id.desc())))
    for customer in found:
        if lifecycle.find_open_ticket(session, customer.id) is not None:
            return customer
    return found[0] if found else None


def _ticket_address(session: Session, ticket: Ticket) -> str | None:
    if ticket.customer_id is not None:
        customer = session.get(Customer, ticket.customer_id)
        return (customer.email or "").lower() or None if customer else None
    return (ticket.customer_email or "").lower() or None


def _thread(session: Session, settings: Settings, parsed: ParsedEmail) -> tuple[Ticket | None,
                                                                                  str]:
    for ref in email_threading.referenced_ids(parsed.in_reply_to, parsed.references):
        ticket_id = email_threading.ticket_id_from_message_id(settings.secret_key, ref)
        if ticket_id is not None:
            ticket = session.get(Ticket, ticket_id)
            if ticket is not None:
                return ticket, "headers"
    number = email_threading.subject_ticket_number(parsed.subject)
    if number is not None:
        ticket = lifecycle.find_by_number(session, number)
        if ticket is not None:
            return ticket, "subject"
    waiting = _ticket_waiting_for(session, parsed.sender)
    if waiting is not None:
        return waiting, "awaited"
    return None, "new"


def _ticket_waiting_for(session: Session, address: str) -> Ticket | None:
    """X1: we asked this customer to write (P1.3 hand-off, a reply of ours): their email
    continues that ticket even without its number, or its no-response clock would call them
    about an email they did send."""
    return session.scalars(
        select(Ticket).join(Customer, Ticket.customer_id == Customer.id)
        .where(func.lower(Customer.email) == address,
               Ticket.status == TicketStatus.PENDING_CUSTOMER)
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(1)).first()


def take_in(session: Session, settings: Settings, parsed: ParsedEmail) -> Inbound:
    """Record the email on its ticket (flushed, not committed); only verified mail acts."""
    existing = find_email(session, parsed.message_id)
    if existing is not None and existing.ticket is not None:
        return Inbound(existing, existing.ticket, duplicate=True,
                       verified=existing.sender_verified,
                       unverified_reason=unverified_reason(existing))
    forged = parsed.forged_sender
    ticket, threaded_by = _thread(session, settings, parsed)
    new_ticket = ticket is None
    if ticket is None:
        customer = _customer_for(session, parsed.sender)
        ticket = lifecycle.open_ticket(
            session, channel="email", customer_id=customer.id if customer else None,
            category="inquiry" if customer and not forged else "unverified",
            tz=settings.timezone, settings=settings)
        if customer is None:
            ticket.customer_email = parsed.sender
    reason = forged
    if reason is None and threaded_by != "headers" and (
            _ticket_address(session, ticket) != parsed.sender):
        reason = NOT_THE_CUSTOMER
    verified = reason is None
    if verified:
        if ticket.status == TicketStatus.PENDING_CUSTOMER:
            ticket.status = TicketStatus.OPEN  # the customer answered: the no-response clock stops
        lifecycle.reopen(ticket)
    meta: dict[str, Any] = {
        "message_id": parsed.message_id,
        "references": email_threading.referenced_ids(None, parsed.references)[::-1],
        "to": parsed.to[:20], "threaded_by": threaded_by, "spf": parsed.spf,
        "dkim": parsed.dkim}
    if reason is not None:
        meta["unverified"] = str(reason)  # the English words, for the JSON API and logs
        meta["unverified_why"] = as_record(reason)
    contact = Contact(
        ticket_id=ticket.id, channel="email", direction="inbound",
        external_id=external_id(parsed.message_id), status=MessageStatus.RECEIVED,
        sender=parsed.sender, subject=parsed.subject, body=parsed.text, body_html=parsed.html,
        in_reply_to=(parsed.in_reply_to or "")[:300] or None, sender_verified=verified,
        ivr_state={"email": meta})
    session.add(contact)
    session.flush()
    skipped = []
    for attachment in parsed.attachments:
        try:  # P4.3: an attachment can be the document a ticket waits for (the customer's)
            documents.receive_document(
                session, ticket, settings=settings, filename=attachment.filename,
                content_type=attachment.content_type, data=attachment.data, source="email",
                contact_id=contact.id, may_fulfil=verified)
        except documents.DocumentError as exc:
            skipped.append(f"{attachment.filename}: {exc}")
    if skipped:
        contact.ivr_state = {**contact.ivr_state, "attachments_not_kept": skipped}
    session.flush()
    return Inbound(contact, ticket, new_ticket=new_ticket, verified=verified,
                   threaded_by=threaded_by, unverified_reason=reason)
