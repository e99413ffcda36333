"""Made-up customers and agents for tests (no real personal data)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from callcenter.models import Customer, Ticket, User
from callcenter.tickets import lifecycle

BUDI_PHONE = "+6281234567890"
BUDI_ORDER = "20261001"


def make_customer(session: Session, **overrides: object) -> Customer:
    values: dict[str, object] = {
        "order_id": BUDI_ORDER,
        "name": "Budi Santoso",
        "phone": BUDI_PHONE,
        "email": "budi@example.com",
        "product": "Cankul Tunai",
        "application_status": "disbursed",
        "amount_due": 1_250_000,
        "due_date": date(2026, 12, 5),
        "va_bank": "BCA",
        "va_number": "8808123456",
    }
    values.update(overrides)
    customer = Customer(**values)
    session.add(customer)
    session.commit()
    return customer


def make_ticket(session: Session, status: str = "open", due: datetime | None = None,
                channel: str = "email", owner: User | None = None,
                customer: Customer | None = None) -> Ticket:
    """A ticket in a given state (flushed, not committed) for queue and timeline tests."""
    ticket = lifecycle.open_ticket(session, channel=channel,
                                 customer_id=customer.id if customer else None)
    ticket.status, ticket.due_at = status, due
    ticket.owner_id = owner.id if owner else None
    session.flush()
    return ticket
