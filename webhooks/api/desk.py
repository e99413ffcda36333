"""The walk-in desk in the JSON API (P4), for agents and supervisors.

``POST /api/desk/visits`` verifies the visitor (P4.1; 422 with one message whatever part
failed, 429 after the third failure: escalate), answers from their data (P4.2), records the
visit on a ticket (P4.4) and sends its number by SMS (P4.5); ``POST
/api/desk/visits/<id>/close`` records "anything else?", the summary and the closing greeting
(P4.6–P4.8). Both are :mod:`callcenter.channels.walkins`, which writes the audit rows. One
commit per request: a refused request writes nothing, except the failed-verification audit row
that counts towards 429. The documents and resolving of a desk ticket are
:mod:`webhooks.api.documents` and :mod:`webhooks.api.tickets`, shared with every channel.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, jsonify

from callcenter.channels import walkins
from callcenter.statuses import VisitStatus
from callcenter.tickets import actions, documents
from callcenter.tickets.serialize import iso
from webhooks.api.auth import require_user
from webhooks.api.inputs import flag, json_object, text
from webhooks.context import content, db, settings
from workers import queues

bp = Blueprint("api_desk", __name__, url_prefix="/api/desk")
ROLES = ("agent", "supervisor")
MAX_PROBLEM = 5000


@bp.post("/visits")
@require_user(*ROLES)
def register_visit() -> tuple[Response, int]:
    """P4.1 verify, P4.2 data for a direct answer, P4.4 record, P4.5 ticket number."""
    body = json_object()
    name = text(body, "name", limit=200)
    phone = text(body, "phone", limit=40)
    order_id = text(body, "order_id", limit=64)
    problem = text(body, "problem", limit=MAX_PROBLEM)
    language = body.get("language", "id")
    if language not in walkins.LANGUAGES:
        abort(400, "language must be 'id' or 'en'")
    new_ticket = flag(body, "new_ticket", False)
    session, current, words = db(), settings(), content()
    try:
        customer = walkins.verify_visitor(session, actor=g.actor, name=name, phone=phone,
                                          order_id=order_id, secret=current.secret_key)
    except walkins.EscalateVerification as exc:
        session.commit()  # the failure counts
        return jsonify({"error": "Too Many Requests", "message": str(exc),
                        "escalate": True}), 429
    except walkins.NotVerified as exc:
        session.commit()
        return jsonify({"error": "Unprocessable Entity", "message": str(exc),
                        "escalate": False}), 422
    visit = walkins.register_visit(
        session, words, user=g.user, actor=g.actor, customer=customer, problem=problem,
        language=language, new_ticket=new_ticket, tz=current.timezone, settings=current)
    ticket = visit.ticket
    result = {
        "visit_id": visit.contact.id,
        "ticket": ticket.number,
        "status": ticket.status,
        "continued": visit.continued,
        "opened_at": iso(ticket.opened_at, current.timezone),
        "due_at": iso(ticket.due_at, current.timezone),
        "language": language,
        "customer": walkins.customer_data(words, language, customer),
        "answers": walkins.prepared_answers(words, language, customer),
        "outstanding_documents": documents.missing_names(ticket),
        "slip": walkins.slip_text(words, language, ticket, current.timezone),
    }
    message_id = visit.message.id
    session.commit()
    result["sms"] = {"id": message_id, "queued": queues.send_soon(current, "sms", message_id)}
    return jsonify(result), 201 if not visit.continued else 200


@bp.post("/visits/<int:visit_id>/close")
@require_user(*ROLES)
def close_visit(visit_id: int) -> Response:
    """P4.6 anything else?, P4.7 summary, P4.8 closing greeting, kept on the visit."""
    body = json_object()
    anything_else = body.get("anything_else")
    if not isinstance(anything_else, bool):
        abort(400, "anything_else must be true or false")
    summary = text(body, "summary", limit=actions.MAX_SUMMARY, required=not anything_else)
    session = db()
    try:
        contact = walkins.find_visit(session, visit_id)
        lines = walkins.close_visit(session, content(), contact, anything_else=anything_else,
                                    summary=summary, actor=g.actor)
    except walkins.VisitNotFound as exc:
        abort(404, str(exc))
    except walkins.VisitClosed as exc:
        abort(409, str(exc))
    except walkins.WalkinError as exc:
        abort(400, str(exc))
    assert contact.ticket is not None
    result = {"visit_id": contact.id, "ticket": contact.ticket.number,
              "visit_status": contact.status,
              "open": contact.status == VisitStatus.IN_PROGRESS, "lines": lines}
    session.commit()
    return jsonify(result)
