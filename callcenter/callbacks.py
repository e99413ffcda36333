"""Callbacks owed to customers (P2.1, P2.2): the database row is the outbox.

At most one pending callback per ticket: asking twice does not double it (a partial unique
index backs this up against races).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import Callback, Ticket, utcnow

PENDING = ("scheduled", "dialing")
REASONS = ("dropped_call", "more_explanation", "no_response")


def pending_callback(session: Session, ticket_id: int) -> Callback | None:
    return session.scalars(
        select(Callback).where(Callback.ticket_id == ticket_id, Callback.status.in_(PENDING))
    ).first()


def request_callback(
    session: Session,
    ticket: Ticket,
    *,
    phone: str,
    reason: str,
    due_at: datetime | None = None,
    delay: timedelta = timedelta(0),
) -> tuple[Callback, bool]:
    """Schedule a callback on ``ticket``; returns (callback, created).

    The existing pending one is returned untouched when there is one.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown callback reason {reason!r}")
    existing = pending_callback(session, ticket.id)
    if existing is not None:
        return existing, False
    callback = Callback(
        ticket_id=ticket.id,
        reason=reason,
        phone=phone,
        due_at=due_at or (utcnow() + delay),
        status="scheduled",
    )
    session.add(callback)
    session.flush()
    return callback, True


def cancel_pending(session: Session, ticket_id: int, why: str) -> int:
    """A customer who called in, or a resolved ticket, needs no callback any more."""
    cancelled = 0
    for callback in session.scalars(
        select(Callback).where(Callback.ticket_id == ticket_id, Callback.status == "scheduled")
    ):
        callback.status = "cancelled"
        callback.last_error = why
        cancelled += 1
    return cancelled
