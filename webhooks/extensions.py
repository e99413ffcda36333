"""Extending a written complaint's deadline once, with written notice (POJK 22/2023).

The steps (the rule's decision, the new ``due_at``, the customer's SMS notice, the audit row)
are :func:`callcenter.tickets.actions.extend_deadline`, which the console's ticket page calls
too; this is its JSON face.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import select

from callcenter.models import Ticket
from callcenter.tickets import actions
from callcenter.tickets.numbers import is_well_formed
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
    current = settings()
    try:
        extended = actions.extend_deadline(
            session, current, content(), ticket, str(body.get("reason") or ""), actor=g.actor)
    except actions.ReasonMissing:
        abort(400, "reason is required: the customer is told why")
    except actions.ExtensionRefused as exc:
        abort(409, str(exc))
    session.commit()
    queues.send_soon(current, "sms", extended.notice_id)
    return jsonify({"ticket": number, "due_at": extended.new_due_at.isoformat(),
                    "first_due_at": extended.first_due_at.isoformat()
                    if extended.first_due_at else None, "notice_id": extended.notice_id,
                    "rule": extended.rule}), 200
