"""How a ticket is written on the IVR's hot path: opened by one Core INSERT (its id drawn in
blocks from the sequence), read with the call, and settled at the closing by one guarded
UPDATE (P1.5, P1.8, P4.3). What an agent or the customer sees must be what the database holds.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func, select

from callcenter.config import Settings
from callcenter.db import session_factory
from callcenter.models import Callback, Ticket, utcnow
from callcenter.statuses import CallbackStatus, TicketStatus
from callcenter.tickets import documents, lifecycle
from callcenter.tickets.numbers import number_for
from tests.factories import make_customer

COLUMNS = [column.name for column in Ticket.__table__.c]


def _stored(settings: Settings, ticket_id: int) -> dict[str, object]:
    """The ticket's row as a fresh session reads it after commit."""
    other = session_factory(settings.database_url)()
    try:
        row = other.execute(select(*Ticket.__table__.c).where(Ticket.id == ticket_id)).one()
        return dict(row._mapping)
    finally:
        other.close()


def test_an_opened_ticket_in_memory_is_the_ticket_in_the_database(session, settings):
    """P1.5: the object an IVR step speaks from holds every column as the row does, the
    defaults included, and a later change is written like any other."""
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                                   language="en", settings=settings)
    session.commit()
    stored = _stored(settings, ticket.id)
    assert {name: getattr(ticket, name) for name in COLUMNS} == stored
    assert stored["status"] == TicketStatus.OPEN and stored["kind"] == "oral"
    assert stored["number"] == number_for(ticket.id)

    ticket.reason = "asked for an agent"
    session.commit()
    assert _stored(settings, ticket.id)["reason"] == "asked for an agent"


def test_ticket_ids_drawn_in_blocks_never_meet_the_sequences_other_users(session, settings):
    """Tickets opened here (ids from a block this process drew) and tickets inserted with the
    table's own default, in between and from another process, all get different numbers."""
    opened = [lifecycle.open_ticket(session, channel="voice", customer_id=None)]
    session.add(Ticket(channel="email", category="inquiry", language="id"))  # the default id
    session.flush()
    script = ("import sys; from callcenter.db import session_factory; "
              "from callcenter.tickets import lifecycle; "
              "s = session_factory(sys.argv[1])(); "
              "print(*[lifecycle.open_ticket(s, channel='email', customer_id=None).id "
              "for _ in range(3)]); s.commit()")
    session.commit()
    other_process = subprocess.run([sys.executable, "-c", script, settings.database_url],
                                   capture_output=True, text=True, check=True, timeout=60)
    opened += [lifecycle.open_ticket(session, channel="voice", customer_id=None)
               for _ in range(25)]  # past one block: a second draw
    session.commit()
    ids = session.scalars(select(Ticket.id)).all()
    assert len(ids) == len(set(ids)) == 1 + 1 + 3 + 25
    assert {int(i) for i in other_process.stdout.split()} <= set(ids)
    numbers = session.scalars(select(Ticket.number).where(Ticket.id.in_(
        [t.id for t in opened]))).all()
    assert sorted(numbers) == sorted(number_for(t.id) for t in opened)


def _open(session, settings):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                                   settings=settings)
    session.commit()
    return ticket


def test_the_closing_resolves_a_ticket_of_answered_questions(session, settings):
    """P1.8: the summary is what the customer was told, and the ticket is resolved."""
    ticket = _open(session, settings)
    assert lifecycle.resolve_if_settled(session, ticket, "Tagihan Anda Rp 1.250.000")
    session.commit()
    stored = _stored(settings, ticket.id)
    assert stored["status"] == TicketStatus.RESOLVED == ticket.status
    assert stored["summary"] == "Tagihan Anda Rp 1.250.000" == ticket.summary
    assert stored["resolved_at"] is not None and ticket.resolved_at == stored["resolved_at"]


def test_the_closing_leaves_open_a_ticket_waiting_for_a_document(session, settings):
    """P4.3: a ticket is never resolved while a document is outstanding (no apology either:
    the caller still hears the summary)."""
    ticket = _open(session, settings)
    documents.require_documents(session, ticket, ["KTP"])
    ticket.status = TicketStatus.OPEN  # as if the agent had set it back; the KTP is missing
    session.commit()
    assert not lifecycle.resolve_if_settled(session, ticket, "summary")
    session.commit()
    assert _stored(settings, ticket.id)["status"] == TicketStatus.OPEN

    documents.receive_document(session, ticket, settings=settings, filename="ktp.jpg",
                               content_type="image/jpeg", data=b"\xff\xd8ktp", source="desk")
    session.commit()
    assert lifecycle.resolve_if_settled(session, ticket, "summary")


def test_the_closing_leaves_open_a_ticket_that_had_a_callback(session, settings):
    """P2.2: a callback was arranged on the ticket (even one since cancelled): a person
    settles it, not the IVR."""
    ticket = _open(session, settings)
    session.add(Callback(ticket_id=ticket.id, reason="more_explanation", phone="+6281234567890",
                         due_at=utcnow() + timedelta(hours=1), status=CallbackStatus.CANCELLED))
    session.commit()
    assert not lifecycle.resolve_if_settled(session, ticket, "summary")
    session.commit()
    assert _stored(settings, ticket.id)["status"] == TicketStatus.OPEN
    assert session.scalar(select(func.count(Callback.id))) == 1


def test_the_closing_sees_the_status_set_earlier_in_the_same_step(session, settings):
    """A change not yet written (the email hand-off sets pending_customer) is what the guard
    judges: the ticket stays with the customer."""
    ticket = _open(session, settings)
    ticket.status = TicketStatus.PENDING_CUSTOMER
    assert not lifecycle.resolve_if_settled(session, ticket, "summary")
    session.commit()
    assert _stored(settings, ticket.id)["status"] == TicketStatus.PENDING_CUSTOMER
