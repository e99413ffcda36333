"""Personal data past its retention period is anonymised (UU PDP No. 27/2022).

The law sets no period: ``RETENTION_DAYS`` does (default five years). Settled tickets older
than that keep their numbers, channels, categories, products, times and outcomes, so the
quarterly report's counts do not change, but lose every name, number, address, Order ID,
message body, note and document. A customer is anonymised once none of their tickets is open or
recent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.models import (
    Contact,
    Customer,
    Document,
    Note,
    OutboundEmail,
    OutboundMessage,
    Ticket,
    utcnow,
)
from callcenter.statuses import TicketStatus

PURGED = "[dihapus]"


@dataclass
class PurgeResult:
    tickets: int = 0
    customers: int = 0


def purge(session: Session, settings: Settings, now: datetime | None = None,
          batch: int = 500) -> PurgeResult:
    """Anonymise what is past retention; idempotent, batched, flushed (caller commits)."""
    cutoff = (now or utcnow()) - timedelta(days=settings.retention_days)
    result = PurgeResult()
    old = list(session.scalars(
        select(Ticket.id).where(Ticket.status == TicketStatus.RESOLVED, Ticket.resolved_at < cutoff,
                                Ticket.summary.is_distinct_from(PURGED))
        .limit(batch)))
    if old:
        session.execute(update(Contact).where(Contact.ticket_id.in_(old)).values(
            from_number=None, to_number=None, sender=None, subject=None, body=None,
            body_html=None, answers=[], ivr_state={}, last_response=None))
        session.execute(update(Document).where(Document.ticket_id.in_(old)).values(
            filename=PURGED, data=b"", size=0))
        session.execute(update(Note).where(Note.ticket_id.in_(old)).values(text=PURGED))
        session.execute(update(OutboundMessage).where(OutboundMessage.ticket_id.in_(old))
                        .values(to_number=PURGED, body=PURGED))
        session.execute(update(OutboundEmail).where(OutboundEmail.ticket_id.in_(old))
                        .values(to_address=PURGED, body=PURGED, subject=PURGED))
        session.execute(update(Ticket).where(Ticket.id.in_(old)).values(
            summary=PURGED, reason=None, customer_email=None))
        result.tickets = len(old)
    kept = exists().where(Ticket.customer_id == Customer.id,
                          (Ticket.status != TicketStatus.RESOLVED) | (Ticket.resolved_at >= cutoff))
    customers = list(session.scalars(
        select(Customer).where(~kept, Customer.updated_at < cutoff,
                               Customer.name != PURGED).limit(batch)))
    for customer in customers:
        customer.name = PURGED
        customer.order_id = f"purged-{customer.id}"
        customer.phone = ""
        customer.email = None
        customer.va_bank = None
        customer.va_number = None
        customer.amount_due = None
        customer.due_date = None
    result.customers = len(customers)
    session.flush()
    return result
