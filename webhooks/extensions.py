"""Extending a written complaint's deadline once, with written notice (POJK 22/2023)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import select

from callcenter import audit, messages, regulation
from callcenter.answers import long_date
from callcenter.models import Customer, Ticket, utcnow
from callcenter.ticket_numbers import is_well_formed
from webhooks.context import content, db, settings
from webhooks.user_auth import require_user
from workers import queues

bp = Blueprint("extensions", __name__)


@bp.post("/api/tickets/<number>/extension")
@require_user("supervisor")
def extend(number: str) -> tuple[Response, int]:
    """``{"reason": "..."}``: once, only for a written complaint whose clock runs, only
    before its first period ends; the customer is told in writing (SMS) at once."""
    session = db()
    ticket = session.scalars(select(Ticket).where(Ticket.number == number)).first() if (
        is_well_formed(number)) else None
    if ticket is None:
        abort(404)
    body = request.get_json(silent=True) or {}
    reason = str(body.get("reason") or "").strip()
    if not reason:
        abort(400, "reason is required: the customer is told why")
    current = settings()
    decision = regulation.extension_allowed(ticket, utcnow(), current)
    if not decision.allowed or decision.new_due_at is None:
        abort(409, decision.reason)
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    if customer is None:
        abort(409, "the ticket has no verified customer to give the written notice to")
    ticket.due_at = decision.new_due_at
    lang = ticket.language or "id"
    due_text = long_date(decision.new_due_at.astimezone(ZoneInfo(current.timezone)).date(), lang)
    notice = messages.queue_message(
        session, ticket_id=ticket.id, to_number=customer.phone,
        body=content().text(lang, "extension_notice", ticket=ticket.number, due_date=due_text,
                            reason=reason[:300]))
    audit.record(session, g.actor, "extend_deadline", f"ticket:{number}",
                 f"{decision.first_due_at} -> {decision.new_due_at}: {reason[:200]}")
    session.commit()
    queues.enqueue_send_message(current, notice.id)
    return jsonify({"ticket": number, "due_at": decision.new_due_at.isoformat(),
                    "first_due_at": decision.first_due_at.isoformat()
                    if decision.first_due_at else None, "notice_id": notice.id,
                    "rule": decision.reason}), 200
