"""Supporting documents (P4.3): what a ticket still needs, and the files that arrive for it.

A ticket with an outstanding requirement is ``pending_documents`` and cannot be resolved
(:func:`assert_can_resolve`). Files come in at the desk, by email attachment or by WhatsApp/MMS
media; every channel calls :func:`receive_document`, which also recomputes the due date (the
written clock starts when the documents are complete). Nothing here commits: the caller does.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists
from sqlalchemy.orm import Session

from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.i18n import Msg
from callcenter.models import Document, RequiredDocument, Ticket, utcnow
from callcenter.statuses import TicketStatus

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
SOURCES = ("desk", "email", "whatsapp", "sms")
MAX_NAME = 200
MAX_REQUIRED_AT_ONCE = 20
SETTLED = (TicketStatus.RESOLVED,)


class DocumentError(ValueError):
    """A refused document operation; the message is safe to show to the agent."""


class DocumentTooLarge(DocumentError):
    """Over :data:`MAX_DOCUMENT_BYTES`."""


class UnknownRequirement(DocumentError):
    """``fulfils`` names no requirement of this ticket."""


class RequirementAlreadyReceived(DocumentError):
    """``fulfils`` names a requirement whose document has arrived already."""


class TicketSettled(DocumentError):
    """Documents cannot be required on a resolved ticket."""


class DocumentsOutstanding(DocumentError):
    """The ticket cannot be resolved while documents are missing (P4.3)."""

    def __init__(self, ticket: Ticket, missing: list[str]):
        self.missing = missing
        super().__init__(
            f"ticket {ticket.number} cannot be resolved: documents still missing: "
            + ", ".join(missing))


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def none_outstanding(ticket_id: Any) -> ColumnElement[bool]:
    """SQL for "no document is outstanding on the ticket ``ticket_id``" (a column or a
    bound parameter), the test :func:`outstanding` makes in Python, for one guarded UPDATE."""
    table = RequiredDocument.__table__
    return ~exists().where(table.c.ticket_id == ticket_id, table.c.received_at.is_(None))


def outstanding(ticket: Ticket) -> list[RequiredDocument]:
    return [r for r in ticket.required_documents if r.received_at is None]


def received(ticket: Ticket) -> list[RequiredDocument]:
    return [r for r in ticket.required_documents if r.received_at is not None]


def missing_names(ticket: Ticket) -> list[str]:
    return [r.name for r in outstanding(ticket)]


def require_documents(session: Session, ticket: Ticket, names: list[str],
                      now: datetime | None = None) -> list[RequiredDocument]:
    """Add the requirements not already outstanding; the ticket waits for them (P4.3).

    Returns the rows added (a name already outstanding is not doubled).
    """
    if ticket.status in SETTLED:
        raise TicketSettled(Msg("Ticket %(number)s is resolved; reopen it first.",
                                number=ticket.number))
    cleaned: list[str] = []
    for raw in names:
        if not isinstance(raw, str) or not raw.strip():
            raise DocumentError(Msg("Each document name must be a non-empty string."))
        name = " ".join(raw.split())
        if len(name) > MAX_NAME:
            raise DocumentError(Msg("A document name has at most %(limit)s characters.",
                                     limit=MAX_NAME))
        cleaned.append(name)
    if not cleaned:
        raise DocumentError(Msg("Name at least one document."))
    if len(cleaned) > MAX_REQUIRED_AT_ONCE:
        raise DocumentError(Msg("At most %(limit)s documents at once.",
                                 limit=MAX_REQUIRED_AT_ONCE))
    when = now or utcnow()
    known = {_key(r.name) for r in outstanding(ticket)}
    added: list[RequiredDocument] = []
    for name in cleaned:
        if _key(name) in known:
            continue
        known.add(_key(name))
        row = RequiredDocument(ticket_id=ticket.id, name=name, requested_at=when)
        ticket.required_documents.append(row)
        added.append(row)
    if outstanding(ticket):
        ticket.status = TicketStatus.PENDING_DOCUMENTS
    session.flush()
    return added


def find_requirement(ticket: Ticket, fulfils: int | str) -> RequiredDocument:
    """The requirement named by id (int or digit string) or by name (case-insensitive)."""
    match: RequiredDocument | None = None
    text = str(fulfils).strip()
    if isinstance(fulfils, int) or text.isdigit():
        match = next((r for r in ticket.required_documents if r.id == int(text)), None)
    if match is None:
        candidates = [r for r in ticket.required_documents if _key(r.name) == _key(text)]
        # An outstanding one first: the same name may have been required and received before.
        match = next((r for r in candidates if r.received_at is None),
                     candidates[0] if candidates else None)
    if match is None:
        raise UnknownRequirement(Msg("“%(name)s” is not a document required on ticket "
                                     "%(number)s.", name=text, number=ticket.number))
    if match.received_at is not None:
        raise RequirementAlreadyReceived(Msg("“%(name)s” was already received.",
                                             name=match.name))
    return match


def receive_document(
    session: Session,
    ticket: Ticket,
    *,
    settings: Settings,
    filename: str,
    content_type: str,
    data: bytes,
    source: str,
    contact_id: int | None = None,
    fulfils: int | str | None = None,
    now: datetime | None = None,
    may_fulfil: bool = True,
) -> Document:
    """Keep a file the customer sent for ``ticket`` and tick off what it fulfils (P4.3).

    ``fulfils`` (a requirement's id or name) says which requirement the file is; without it the
    file fulfils the only outstanding requirement, if exactly one is outstanding (otherwise it
    is kept unattached for an agent to look at). Once nothing is outstanding the ticket leaves
    ``pending_documents`` for ``open``, and a ticket that required documents gets its due date
    recomputed (``regulation.refresh_due``: complete documents start a written clock). With
    ``may_fulfil=False`` (a sender who is not the customer) the file is only kept: it fulfils
    nothing and the ticket does not move. Raises :class:`DocumentError` (nothing written) for
    an unknown source, an empty or oversized file, or a ``fulfils`` that names nothing
    outstanding. Flushes, never commits.
    """
    if source not in SOURCES:
        raise DocumentError(Msg("Source must be one of %(sources)s.",
                                 sources=", ".join(SOURCES)))
    if not data:
        raise DocumentError(Msg("The file is empty."))
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(Msg(
            "The file is %(size)s bytes; at most %(limit)s bytes are kept.", size=len(data),
            limit=MAX_DOCUMENT_BYTES))
    requirement: RequiredDocument | None
    if not may_fulfil:
        requirement = None
    elif fulfils is not None and str(fulfils).strip():
        requirement = find_requirement(ticket, fulfils)
    else:
        waiting = outstanding(ticket)
        requirement = waiting[0] if len(waiting) == 1 else None
    when = now or utcnow()
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip() or "document"
    document = Document(
        ticket_id=ticket.id,
        contact_id=contact_id,
        filename=name[-255:],
        content_type=(content_type or "application/octet-stream")[:120],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        source=source,
        received_at=when,
    )
    session.add(document)
    session.flush()
    if requirement is not None:
        requirement.document_id = document.id
        requirement.received_at = when
    if may_fulfil:
        if ticket.status == TicketStatus.PENDING_DOCUMENTS and not outstanding(ticket):
            ticket.status = TicketStatus.OPEN
        if ticket.required_documents:
            regulation.refresh_due(ticket, settings)
    session.flush()
    return document


def fulfil_with(session: Session, ticket: Ticket, document: Document, *,
                settings: Settings, now: datetime | None = None) -> RequiredDocument | None:
    """A document already kept on ``ticket`` now counts as the customer's (an email linked to
    their ticket and confirmed as theirs): as on arrival, it ticks off the only outstanding
    requirement, and the ticket's status and due date follow. Returns what it fulfilled."""
    if any(r.document_id == document.id for r in ticket.required_documents):
        return None
    waiting = outstanding(ticket)
    requirement = waiting[0] if len(waiting) == 1 else None
    if requirement is not None:
        requirement.document_id = document.id
        requirement.received_at = now or utcnow()
    if ticket.status == TicketStatus.PENDING_DOCUMENTS and not outstanding(ticket):
        ticket.status = TicketStatus.OPEN
    if ticket.required_documents:
        regulation.refresh_due(ticket, settings)
    session.flush()
    return requirement


def assert_can_resolve(ticket: Ticket) -> None:
    """Raise :class:`DocumentsOutstanding` listing what is missing (P4.3)."""
    missing = missing_names(ticket)
    if missing:
        raise DocumentsOutstanding(ticket, missing)
