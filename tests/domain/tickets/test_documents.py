"""Supporting documents (P4.3): a ticket waits for them and cannot be resolved without them."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from sqlalchemy import func, select

from callcenter.models import Document
from callcenter.tickets import documents, lifecycle
from tests.factories import make_customer


@pytest.fixture
def ticket(session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="walk_in", customer_id=customer.id)
    session.commit()
    return ticket


def _count(session) -> int:
    return session.scalar(select(func.count(Document.id)))


def test_required_documents_put_the_ticket_in_pending_documents(session, ticket):
    """P4.3: the ticket does not move on until the listed documents are provided."""
    added = documents.require_documents(session, ticket, ["KTP", " bank  statement "])
    session.commit()
    assert [r.name for r in added] == ["KTP", "bank statement"]
    assert ticket.status == "pending_documents"
    assert documents.missing_names(ticket) == ["KTP", "bank statement"]


def test_a_document_already_outstanding_is_not_required_twice(session, ticket):
    """P4.3: asking again for the same document does not double the requirement."""
    documents.require_documents(session, ticket, ["KTP"])
    added = documents.require_documents(session, ticket, ["ktp", "Payslip"])
    assert [r.name for r in added] == ["Payslip"]
    assert documents.missing_names(ticket) == ["KTP", "Payslip"]


@pytest.mark.parametrize("names", [[], [""], ["  "], [3], ["x" * 201]])
def test_bad_document_names_are_refused(session, ticket, names):
    with pytest.raises(documents.DocumentError):
        documents.require_documents(session, ticket, names)
    assert ticket.required_documents == []


def test_resolving_is_refused_while_documents_are_missing(session, ticket):
    """P4.3: cannot move to resolved until each document is received; the error lists them."""
    documents.require_documents(session, ticket, ["KTP", "bank statement"])
    with pytest.raises(documents.DocumentsOutstanding) as raised:
        documents.assert_can_resolve(ticket)
    assert raised.value.missing == ["KTP", "bank statement"]
    assert "KTP, bank statement" in str(raised.value)


def test_an_email_attachment_fulfils_the_only_outstanding_requirement(session, settings, ticket):
    """P4.3: a file arriving by email (another channel) ticks off the one missing document and
    the ticket leaves pending_documents."""
    documents.require_documents(session, ticket, ["KTP"])
    data = b"%PDF-1.4 ktp scan"
    document = documents.receive_document(session, ticket, settings=settings,
                                          filename="scans/ktp.pdf",
                                          content_type="application/pdf", data=data,
                                          source="email")
    session.commit()
    assert document.filename == "ktp.pdf" and document.source == "email"
    assert document.size == len(data)
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    requirement = ticket.required_documents[0]
    assert requirement.document_id == document.id and requirement.received_at is not None
    assert ticket.status == "open"
    documents.assert_can_resolve(ticket)


def test_without_fulfils_and_several_missing_the_file_is_kept_unattached(session, settings, ticket):
    """P4.3: which requirement a file meets is not guessed when several are missing."""
    documents.require_documents(session, ticket, ["KTP", "Payslip"])
    documents.receive_document(session, ticket, settings=settings,
                               filename="a.jpg", content_type="image/jpeg",
                               data=b"jpeg", source="whatsapp")
    assert documents.missing_names(ticket) == ["KTP", "Payslip"]
    assert ticket.status == "pending_documents"
    assert _count(session) == 1


def test_fulfils_names_a_requirement_by_name_or_id(session, settings, ticket):
    """P4.3: each named requirement is marked received; the last one reopens the ticket."""
    ktp, payslip = documents.require_documents(session, ticket, ["KTP", "Payslip"])
    documents.receive_document(session, ticket, settings=settings,
                               filename="k.png", content_type="image/png",
                               data=b"k", source="desk", fulfils="ktp")
    assert ktp.received_at is not None and ticket.status == "pending_documents"
    documents.receive_document(session, ticket, settings=settings,
                               filename="p.png", content_type="image/png",
                               data=b"p", source="desk", fulfils=str(payslip.id))
    assert payslip.received_at is not None and ticket.status == "open"


def test_an_unknown_or_received_requirement_writes_nothing(session, settings, ticket):
    documents.require_documents(session, ticket, ["KTP"])
    documents.receive_document(session, ticket, settings=settings,
                               filename="k.png", content_type="image/png",
                               data=b"k", source="desk", fulfils="KTP")
    with pytest.raises(documents.UnknownRequirement):
        documents.receive_document(session, ticket, settings=settings,
                                   filename="x", content_type="image/png",
                                   data=b"x", source="desk", fulfils="passport")
    with pytest.raises(documents.RequirementAlreadyReceived):
        documents.receive_document(session, ticket, settings=settings,
                                   filename="x", content_type="image/png",
                                   data=b"x", source="desk", fulfils="KTP")
    assert _count(session) == 1


def test_oversized_empty_or_unknown_source_files_are_refused(session, settings, ticket):
    """P4.3: documents are size-capped; nothing is kept for a refused file."""
    with pytest.raises(documents.DocumentTooLarge):
        documents.receive_document(session, ticket, settings=settings,
                                   filename="big", content_type="image/png",
                                   data=b"x" * (documents.MAX_DOCUMENT_BYTES + 1),
                                   source="desk")
    with pytest.raises(documents.DocumentError):
        documents.receive_document(session, ticket, settings=settings,
                                   filename="e", content_type="image/png",
                                   data=b"", source="desk")
    with pytest.raises(documents.DocumentError):
        documents.receive_document(session, ticket, settings=settings,
                                   filename="e", content_type="image/png",
                                   data=b"x", source="fax")
    assert _count(session) == 0


def test_documents_cannot_be_required_on_a_resolved_ticket(session, ticket):
    lifecycle.resolve(session, ticket, "settled")
    with pytest.raises(documents.TicketSettled):
        documents.require_documents(session, ticket, ["KTP"])


@pytest.mark.parametrize("source", documents.SOURCES)
def test_the_last_document_starts_a_written_clock_whatever_channel_brings_it(session,
                                                                             settings, source):
    """POJK 22/2023: a written complaint's 10 working days run from complete documents; the
    due date follows the arrival itself, at the desk, by email or by WhatsApp/MMS."""
    customer = make_customer(session)
    opened = datetime.fromisoformat("2030-11-04T09:00:00+07:00")  # a Monday
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=customer.id,
                                   settings=settings, now=opened)
    documents.require_documents(session, ticket, ["KTP"], now=opened)
    ticket.due_at = None  # the clock waits for the documents (regulation.refresh_due)
    arrived = datetime.fromisoformat("2030-11-06T15:00:00+07:00")  # Wednesday
    documents.receive_document(session, ticket, settings=settings, filename="ktp.png",
                               content_type="image/png", data=b"k", source=source, now=arrived)
    assert ticket.status == "open"
    assert ticket.due_at == datetime.fromisoformat("2030-11-20T23:59:59+07:00")
