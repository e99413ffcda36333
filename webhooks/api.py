"""The read-side JSON API (CONTRACT): bearer tokens, every ticket view audited."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import select, text

from callcenter import audit
from callcenter.callbacks import policy
from callcenter.models import Customer, Ticket
from callcenter.phones import try_e164
from callcenter.tickets.numbers import is_well_formed
from callcenter.tickets.serialize import callback_json, ticket_json
from webhooks.context import db, settings
from workers.queues import redis_connection, schedule_soon

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


@bp.before_request
def require_token() -> None:
    if request.endpoint == "api.health":
        return
    header = request.headers.get("Authorization", "")
    given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    tokens = settings().api_tokens
    if not given or not any(hmac.compare_digest(given, t) for t in tokens):
        abort(401)
    # The actor in the audit trail: which token (rotations stay distinguishable), not the secret.
    g.actor = "api:" + hashlib.sha256(given.encode()).hexdigest()[:10]


@bp.get("/health")
def health() -> tuple[Response, int]:
    result, code = {"db": "ok", "redis": "ok"}, 200
    try:
        db().execute(text("SELECT 1"))
    except Exception:
        log.exception("health: database")
        result["db"], code = "error", 503
    try:
        redis_connection(settings()).ping()
    except Exception:
        log.exception("health: redis")
        result["redis"], code = "error", 503
    return jsonify(result), code


@bp.get("/tickets/<number>")
def ticket(number: str) -> Response:
    if not is_well_formed(number):
        abort(404)
    session = db()
    found = session.scalars(select(Ticket).where(Ticket.number == number)).first()
    if found is None:
        abort(404)
    audit.record(session, g.actor, "view_ticket", f"ticket:{number}")
    body = ticket_json(found, settings().timezone)
    session.commit()
    return jsonify(body)


@bp.post("/tickets/<number>/callbacks")
def schedule_callback(number: str) -> tuple[Response, int]:
    """P2.2a: an agent owes the customer a fuller explanation by phone.

    ``{"due_at": ISO 8601 (optional)}``; the time moves into the customer's calling window.
    A second request while one is pending returns that one (200) instead of doubling it.
    """
    session = db()
    found = session.scalars(select(Ticket).where(Ticket.number == number)).first() if (
        is_well_formed(number)) else None
    if found is None:
        abort(404)
    body = request.get_json(silent=True) or {}
    earliest = None
    if body.get("due_at"):
        try:
            earliest = datetime.fromisoformat(str(body["due_at"]))
        except ValueError:
            abort(400, "due_at must be an ISO 8601 date-time with an offset")
        if earliest.tzinfo is None:
            abort(400, "due_at must carry a UTC offset")
    callback, created = policy.request_callback(
        session, settings(), found, reason="more_explanation", earliest=earliest)
    if callback is None:
        abort(409, "the ticket has no verified customer to call back")
    audit.record(session, g.actor, "schedule_callback", f"ticket:{number}",
                 f"callback:{callback.id} due {callback.due_at.isoformat()}")
    session.commit()
    if created:
        schedule_soon(settings(), callback)
    return jsonify(callback_json(callback, settings().timezone)), 201 if created else 200


@bp.get("/tickets")
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
