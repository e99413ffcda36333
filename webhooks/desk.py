"""The walk-in desk API (P4) and supporting documents (P4.3), for agents and supervisors.

HTTP basic with a user (``require_user``); JSON errors from the app's handler: 400 bad input,
401/403 auth, 404 unknown ticket or visit, 409 conflicts, 413 a file too large, 422 visitor
not verified, 429 too many failed verifications (escalate). One commit per request: a refused
request writes nothing, except the failed-verification audit row that counts towards 429.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from callcenter import audit
from callcenter.channels import walkins
from callcenter.compliance import regulation
from callcenter.models import RequiredDocument, Ticket
from callcenter.tickets import actions, documents, lifecycle
from callcenter.tickets.serialize import iso
from webhooks.context import content, db, settings
from webhooks.user_auth import require_user
from workers import queues

bp = Blueprint("desk", __name__, url_prefix="/api")
log = logging.getLogger(__name__)
ROLES = ("agent", "supervisor")
MAX_PROBLEM = 5000
MAX_SUMMARY = actions.MAX_SUMMARY  # what the customer is told (P1.8, P4.8)
UPLOAD_OVERHEAD = 64 * 1024  # multipart framing and the small form fields


@bp.before_request
def allow_uploads() -> None:
    """The app caps bodies at 1 MB; a document may be up to MAX_DOCUMENT_BYTES."""
    if request.endpoint == "desk.upload_document":
        request.max_content_length = documents.MAX_DOCUMENT_BYTES + UPLOAD_OVERHEAD


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object")
    return body


def _text(body: dict[str, Any], field: str, *, limit: int = 300, required: bool = True) -> str:
    value = body.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        abort(400, f"{field} is required (a non-empty string)")
    if len(value) > limit:
        abort(400, f"{field} has at most {limit} characters")
    return value.strip()


def _flag(body: dict[str, Any], field: str, default: bool) -> bool:
    value = body.get(field, default)
    if not isinstance(value, bool):
        abort(400, f"{field} must be true or false")
    return value


def _ticket(number: str) -> Ticket:
    found = lifecycle.find_by_number(db(), number)
    if found is None:
        abort(404, f"no ticket {number}")
    return found


def _enqueue(message_id: int | None) -> bool:
    """After commit; the outbox row stays even if Redis is down (logged, reported)."""
    return queues.send_soon(settings(), "sms", message_id)


def _requirement_json(row: RequiredDocument, tz: str) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "requested_at": iso(row.requested_at, tz),
            "received_at": iso(row.received_at, tz), "document_id": row.document_id}


def _documents_json(ticket: Ticket, tz: str) -> dict[str, Any]:
    return {
        "ticket": ticket.number,
        "status": ticket.status,
        "outstanding": [_requirement_json(r, tz) for r in documents.outstanding(ticket)],
        "received": [_requirement_json(r, tz) for r in documents.received(ticket)],
    }


@bp.post("/desk/visits")
@require_user(*ROLES)
def register_visit() -> tuple[Response, int]:
    """P4.1 verify, P4.2 data for a direct answer, P4.4 record, P4.5 ticket number."""
    body = _json()
    name = _text(body, "name", limit=200)
    phone = _text(body, "phone", limit=40)
    order_id = _text(body, "order_id", limit=64)
    problem = _text(body, "problem", limit=MAX_PROBLEM)
    language = body.get("language", "id")
    if language not in walkins.LANGUAGES:
        abort(400, "language must be 'id' or 'en'")
    new_ticket = _flag(body, "new_ticket", False)
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
    result["sms"] = {"id": message_id, "queued": _enqueue(message_id)}
    return jsonify(result), 201 if not visit.continued else 200


@bp.post("/desk/visits/<int:visit_id>/close")
@require_user(*ROLES)
def close_visit(visit_id: int) -> Response:
    """P4.6 anything else?, P4.7 summary, P4.8 closing greeting, kept on the visit."""
    body = _json()
    anything_else = body.get("anything_else")
    if not isinstance(anything_else, bool):
        abort(400, "anything_else must be true or false")
    summary = _text(body, "summary", limit=MAX_SUMMARY, required=not anything_else)
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
              "visit_status": contact.status, "open": contact.status == "in-progress",
              "lines": lines}
    session.commit()
    return jsonify(result)


@bp.get("/tickets/<number>/required-documents")
@require_user(*ROLES)
def list_required_documents(number: str) -> Response:
    session = db()
    ticket = _ticket(number)
    result = _documents_json(ticket, settings().timezone)
    audit.record(session, g.actor, "view_documents", f"ticket:{number}")
    session.commit()
    return jsonify(result)


@bp.post("/tickets/<number>/required-documents")
@require_user(*ROLES)
def require_documents(number: str) -> tuple[Response, int]:
    """P4.3: the ticket waits for these; the customer is told (response and SMS) what is
    missing. ``{"names": [...], "language": "id"|"en" (default: the ticket's)}``."""
    body = _json()
    names = body.get("names")
    if not isinstance(names, list):
        abort(400, "names must be a list of document names")
    session = db()
    ticket = _ticket(number)
    language = body.get("language", ticket.language or "id")
    if language not in walkins.LANGUAGES:
        abort(400, "language must be 'id' or 'en'")
    words, tz = content(), settings().timezone
    try:
        # P4.3 steps shared with the console: require, refresh the due date, SMS the customer.
        requested = actions.request_documents(session, settings(), words, ticket, names,
                                                     language)
    except documents.TicketSettled as exc:
        abort(409, str(exc))
    except documents.DocumentError as exc:
        abort(400, str(exc))
    added, missing, message_id = requested.added, requested.missing, requested.sms_id
    audit.record(session, g.actor, "require_documents", f"ticket:{number}",
                 "added: " + ", ".join(r.name for r in added) if added else "nothing new")
    result = _documents_json(ticket, tz)
    result["added"] = [r.id for r in added]
    result["missing_text"] = words.text(language, "desk_documents_sms", ticket=ticket.number,
                                        documents=", ".join(missing)) if missing else None
    result["slip"] = walkins.slip_text(words, language, ticket, tz)
    session.commit()
    result["sms"] = {"id": message_id, "queued": _enqueue(message_id)} if message_id else None
    return jsonify(result), 201 if added else 200


@bp.post("/tickets/<number>/documents")
@require_user(*ROLES)
def upload_document(number: str) -> tuple[Response, int]:
    """A document handed in at the desk: multipart ``file``, optional ``fulfils`` (a required
    document's id or name) and ``visit_id`` (the visit it was handed in on)."""
    try:
        upload = request.files.get("file")
        fulfils = request.form.get("fulfils") or None
        visit_id = request.form.get("visit_id") or None
    except RequestEntityTooLarge:
        abort(413, f"a document may have at most {documents.MAX_DOCUMENT_BYTES} bytes")
    if upload is None:
        abort(400, "send the document as multipart/form-data field 'file'")
    try:
        data = upload.read(documents.MAX_DOCUMENT_BYTES + 1)
    finally:
        request.close()  # large parts are spooled to a temporary file
    if len(data) > documents.MAX_DOCUMENT_BYTES:
        abort(413, f"a document may have at most {documents.MAX_DOCUMENT_BYTES} bytes")
    session = db()
    ticket = _ticket(number)
    contact_id = None
    if visit_id is not None:
        if not visit_id.isdigit():
            abort(400, "visit_id must be a visit's id")
        try:
            visit = walkins.find_visit(session, int(visit_id))
        except walkins.VisitNotFound as exc:
            abort(404, str(exc))
        if visit.ticket_id != ticket.id:
            abort(400, f"visit {visit_id} is not on ticket {number}")
        contact_id = visit.id
    try:
        document = documents.receive_document(
            session, ticket, filename=upload.filename or "document",
            content_type=upload.mimetype or "application/octet-stream", data=data,
            source="desk", contact_id=contact_id, fulfils=fulfils)
    except documents.DocumentTooLarge as exc:
        abort(413, str(exc))
    except documents.RequirementAlreadyReceived as exc:
        abort(409, str(exc))
    except documents.DocumentError as exc:
        abort(400, str(exc))
    regulation.refresh_due(ticket, settings())  # complete documents start a written clock
    fulfilled = next((r for r in ticket.required_documents if r.document_id == document.id),
                     None)
    audit.record(session, g.actor, "receive_document", f"ticket:{number}",
                 f"document:{document.id} {document.size} bytes sha256:{document.sha256[:12]}"
                 + (f" fulfils:{fulfilled.id}" if fulfilled else ""))
    tz = settings().timezone
    result = {
        "document": {"id": document.id, "filename": document.filename,
                     "content_type": document.content_type, "size": document.size,
                     "sha256": document.sha256, "source": document.source,
                     "received_at": iso(document.received_at, tz)},
        "fulfils": _requirement_json(fulfilled, tz) if fulfilled else None,
        **_documents_json(ticket, tz),
    }
    session.commit()
    return jsonify(result), 201


@bp.post("/tickets/<number>/resolve")
@require_user(*ROLES)
def resolve(number: str) -> Response | tuple[Response, int]:
    """Settle the ticket with what the customer was told; 409 while documents are missing."""
    body = _json()
    summary = _text(body, "summary", limit=MAX_SUMMARY)
    session = db()
    ticket = _ticket(number)
    if ticket.status == "resolved":
        abort(409, f"ticket {number} is already resolved")
    try:
        documents.assert_can_resolve(ticket)
    except documents.DocumentsOutstanding as exc:
        response = jsonify({"error": "Conflict", "message": str(exc), "missing": exc.missing})
        return response, 409
    lifecycle.resolve(session, ticket, summary)
    audit.record(session, g.actor, "resolve_ticket", f"ticket:{number}")
    tz = settings().timezone
    result = {"ticket": ticket.number, "status": ticket.status, "summary": ticket.summary,
              "resolved_at": iso(ticket.resolved_at, tz)}
    session.commit()
    return jsonify(result)
