"""The contract's JSON shapes for tickets, contacts and callbacks (CONTRACT "JSON API")."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.channels.sanitize import safe_html
from callcenter.models import Callback, Contact, Note, Ticket


def iso(value: datetime | None, tz: str) -> str | None:
    """ISO 8601 with the centre's offset (times are stored in UTC)."""
    return value.astimezone(ZoneInfo(tz)).isoformat() if value else None


def contact_json(contact: Contact, tz: str) -> dict[str, Any]:
    return {
        "channel": contact.channel,
        "direction": contact.direction,
        "external_id": contact.external_id,
        "status": contact.status,
        "started_at": iso(contact.started_at, tz),
        "ended_at": iso(contact.ended_at, tz),
        "duration_s": contact.duration_s,
        "kind": contact.kind,
        "menu_path": contact.menu_path,
        "answers": contact.answers,
        "sender": contact.sender,
        "sender_verified": contact.sender_verified,
        "subject": contact.subject,
        "body": contact.body,
        # Email HTML is stored raw and only ever shown sanitised (scripts, handlers removed).
        "body_html": safe_html(contact.body_html) if contact.body_html else None,
        "asks_customer": contact.asks_customer,
    }


def callback_json(callback: Callback, tz: str) -> dict[str, Any]:
    return {
        "reason": callback.reason,
        "status": callback.status,
        "due_at": iso(callback.due_at, tz),
        "attempts": callback.attempts,
        "last_error": callback.last_error,  # why it failed or was moved, for the agent
    }


def note_json(note: Note, tz: str) -> dict[str, Any]:
    """A note as the ticket JSON lists it (CONTRACT "Additions" → Notes)."""
    return {"author": note.author, "created_at": iso(note.created_at, tz), "text": note.text}


def ticket_json(ticket: Ticket, tz: str) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "status": ticket.status,
        "channel": ticket.channel,
        "order_id": ticket.customer.order_id if ticket.customer else None,
        "category": ticket.category,
        "opened_at": iso(ticket.opened_at, tz),
        "due_at": iso(ticket.due_at, tz),
        "summary": ticket.summary,
        "contacts": [contact_json(c, tz) for c in ticket.contacts],  # one timeline, all channels
        "callbacks": [callback_json(c, tz) for c in ticket.callbacks],
        "required_documents": [  # P4.3: what the ticket still waits for
            {"name": r.name, "requested_at": iso(r.requested_at, tz),
             "received_at": iso(r.received_at, tz)} for r in ticket.required_documents],
        "notes": [note_json(n, tz) for n in ticket.notes],  # oldest first
    }
