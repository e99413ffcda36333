"""Tickets in the JSON API: the read side (CONTRACT "JSON API", bearer token, every view
audited) and what is done to one ticket: a callback (P2.2a), a note, resolving (P1.8) and
the one extension of a written complaint (POJK 22/2023). Every change takes a person (HTTP basic
with a user), so the audit names who made the service act; the bearer token only reads.

Each action is one function of :mod:`callcenter.tickets.actions`, the same the console's
ticket page calls, with the same rules; its refusal is answered with its status (400, 404,
409). The web side commits, then queues the job (the row is the promise).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import select

from callcenter import audit
from callcenter.models import Customer, Ticket
from callcenter.phones import try_e164
from callcenter.tickets import actions
from callcenter.tickets.serialize import callback_json, iso, note_json, ticket_json
from webhooks.api.auth import require_token, require_user
from webhooks.api.inputs import json_object, optional_json_object
from webhooks.context import content, db, settings, ticket_or_404
from workers.queues import schedule_soon, send_soon

bp = Blueprint("api_tickets", __name__, url_prefix="/api/tickets")
WORK_ROLES = ("agent", "supervisor")  # QA reads tickets, does not work them


@bp.get("/<number>")
@require_token
def ticket(number: str) -> Response:
    found = ticket_or_404(number)
    session = db()
    audit.record(session, g.actor, "view_ticket", f"ticket:{found.number}")
    body = ticket_json(found, settings().timezone)
    session.commit()
    return jsonify(body)


@bp.get("")
@require_token
def tickets() -> Response:
    session = db()
    query = select(Ticket).order_by(Ticket.opened_at.desc()).limit(200)
    order_id = request.args.get("order_id")
    phone = request.args.get("phone")
    status = request.args.get("status")
    if order_id or phone:
        query = query.join(Customer, Ticket.customer_id == Customer.id)
    if order_id:
        query = query.where(Customer.order_id == order_id)
    if phone:
        e164 = try_e164(phone)
        if e164 is None:
            abort(400, "phone is not a valid phone number")
        query = query.where(Customer.phone == e164)
    if status:
        query = query.where(Ticket.status == status)
    found = session.scalars(query).all()
    audit.record(session, g.actor, "search_tickets", "tickets",
                 f"filters={sorted(k for k in request.args)} results={len(found)}")
    body = {"tickets": [ticket_json(t, settings().timezone) for t in found]}
    session.commit()
    return jsonify(body)


@bp.post("/<number>/callbacks")
@require_user(*WORK_ROLES)
def schedule_callback(number: str) -> tuple[Response, int]:
    """P2.2a: an agent owes the customer a fuller explanation by phone (the service will
    phone them: a person answers for it, never the read token).

    ``{"due_at": ISO 8601 (optional)}``; the time moves into the customer's calling window.
    A second request while one is pending returns that one (200) instead of doubling it.
    """
    ticket = ticket_or_404(number)
    body = optional_json_object()
    earliest = None
    if body.get("due_at"):
        try:
            earliest = datetime.fromisoformat(str(body["due_at"]))
        except ValueError:
            abort(400, "due_at must be an ISO 8601 date-time with an offset")
        if earliest.tzinfo is None:
            abort(400, "due_at must carry a UTC offset")
    session, current = db(), settings()
    try:
        scheduled = actions.schedule_callback(session, current, ticket, earliest,
                                              actor=g.actor)
    except actions.ActionRefused as exc:
        abort(exc.status, str(exc))
    session.commit()
    if scheduled.created:
        schedule_soon(current, scheduled.callback)
    return (jsonify(callback_json(scheduled.callback, current.timezone)),
            201 if scheduled.created else 200)


@bp.post("/<number>/notes")
@require_user(*WORK_ROLES)
def add_note(number: str) -> tuple[Response, int]:
    """``{"text": "..."}``: what the customer said, recorded by the person who heard it
    (CONTRACT "Additions" → Notes); 400 when empty or longer than ``actions.MAX_NOTE``."""
    text = json_object().get("text")
    if not isinstance(text, str):
        abort(400, "text is required (a non-empty string)")
    ticket = ticket_or_404(number)
    session = db()
    try:
        note = actions.add_note(session, g.user, ticket, text)
    except actions.ActionRefused as exc:
        abort(exc.status, str(exc))
    body = {"id": note.id, **note_json(note, settings().timezone)}
    session.commit()
    return jsonify(body), 201


@bp.post("/<number>/resolve")
@require_user(*WORK_ROLES)
def resolve(number: str) -> Response | tuple[Response, int]:
    """Settle the ticket with what the customer was told; 409 while documents are missing
    (with the ``missing`` list) or when it is resolved already."""
    summary = json_object().get("summary")
    if not isinstance(summary, str):
        abort(400, "summary is required (a non-empty string)")
    ticket = ticket_or_404(number)
    session, current = db(), settings()
    try:
        resolved = actions.resolve(session, current, content(), ticket, summary,
                                   actor=g.actor)
    except actions.DocumentsMissing as exc:
        return jsonify({"error": "Conflict", "message": str(exc), "missing": exc.missing}), 409
    except actions.ActionRefused as exc:
        abort(exc.status, str(exc))
    notice = resolved.notice
    result = {"ticket": ticket.number, "status": ticket.status, "summary": ticket.summary,
              "resolved_at": iso(ticket.resolved_at, current.timezone),
              "notice": {"channel": notice.kind, "id": notice.id} if notice else None,
              "notice_missing": resolved.why_not}
    session.commit()
    if notice is not None:
        send_soon(current, notice.outbox, notice.id)
    return jsonify(result)


@bp.post("/<number>/extension")
@require_user("supervisor")
def extend(number: str) -> tuple[Response, int]:
    """``{"reason": "..."}``: once, only for a written complaint whose clock runs, only
    before its first period ends; the customer is told in writing (SMS) at once."""
    ticket = ticket_or_404(number)
    reason = optional_json_object().get("reason")
    session, current = db(), settings()
    try:
        extended = actions.extend_deadline(session, current, content(), ticket,
                                           str(reason or ""), actor=g.actor)
    except actions.ActionRefused as exc:
        abort(exc.status, str(exc))
    session.commit()
    send_soon(current, "sms", extended.notice_id)
    return jsonify({"ticket": ticket.number, "due_at": extended.new_due_at.isoformat(),
                    "first_due_at": extended.first_due_at.isoformat()
                    if extended.first_due_at else None, "notice_id": extended.notice_id,
                    "rule": extended.rule}), 200
