"""SMS/WhatsApp we owe customers, written to an outbox before any worker sends them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from callcenter.models import OutboundMessage


def queue_message(
    session: Session, *, ticket_id: int | None, to_number: str, body: str, channel: str = "sms"
) -> OutboundMessage:
    """Write the message row; the web layer enqueues the send job after commit."""
    message = OutboundMessage(ticket_id=ticket_id, to_number=to_number, body=body, channel=channel)
    session.add(message)
    session.flush()
    return message
