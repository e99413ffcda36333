"""Supporting documents in the JSON API (P4.3): what a ticket still needs, asking the
customer for more, and a document handed in at the desk.

Asking and receiving are :func:`callcenter.tickets.actions.request_documents` and
:func:`~callcenter.tickets.actions.receive_document`, the console's too; a refusal is answered
with its status (400 bad input, 404 unknown ticket or visit, 409 conflicts, 413 a file too
large). The SMS telling the customer what is missing is queued after the commit.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from callcenter import audit
from callcenter.channels import walkins
from callcenter.models import RequiredDocument, Ticket
from callcenter.tickets import actions, documents
from callcenter.tickets.serialize import iso
from webhooks.api.auth import require_user
from webhooks.api.inputs import json_object
from webhooks.context import content, db, settings, ticket_or_404
from webhooks.params import row_id, storable
from workers import queues

bp = Blueprint("api_documents", __name__, url_prefix="/api/tickets")
WORK_ROLES = ("agent", "supervisor")
UPLOAD_OVERHEAD = 64 * 1024  # multipart framing and the small form fields


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


@bp.get("/<number>/required-documents")
@require_user(*WORK_ROLES)
def list_required_documents(number: str) -> Response:
    ticket = ticket_or_404(number)
    session = db()
    result = _documents_json(ticket, settings().timezone)
    audit.record(session, g.actor, "view_documents", f"ticket:{ticket.number}")
    session.commit()
    return jsonify(result)


@bp.post("/<number>/required-documents")
@require_user(*WORK_ROLES)
def require_documents(number: str) -> tuple[Response, int]:
    """P4.3: the ticket waits for these; the customer is told (response and SMS) what is
    missing. ``{"names": [...], "language": "id"|"en" (default: the ticket's)}``."""
    body = json_object()
    names = body.get("names")
    if not isinstance(names, list):
        abort(400, "names must be a list of document names")
    ticket = ticket_or_404(number)
    session, current, words = db(), settings(), content()
    try:
        requested = actions.request_documents(session, current, words, ticket, names,
                                              body.get("language"), actor=g.actor)
    except actions.ActionRefused as exc:
        abort(exc.status, str(exc))
    language, missing, tz = requested.language, requested.missing, current.timezone
    result = _documents_json(ticket, tz)
    result["added"] = [r.id for r in requested.added]
    result["missing_text"] = words.text(language, "desk_documents_sms", ticket=ticket.number,
                                        documents=", ".join(missing)) if missing else None
    result["slip"] = walkins.slip_text(words, language, ticket, tz)
    session.commit()
    message_id = requested.sms_id
    result["sms"] = ({"id": message_id, "queued": queues.send_soon(current, "sms", message_id)}
                     if message_id else None)
    return jsonify(result), 201 if requested.added else 200


@bp.post("/<number>/documents")
@require_user(*WORK_ROLES)
def upload_document(number: str) -> tuple[Response, int]:
    """A document handed in at the desk: multipart ``file``, optional ``fulfils`` (a required
    document's id or name) and ``visit_id`` (the visit it was handed in on)."""
    # The app caps bodies at 1 MB; a document may be up to MAX_DOCUMENT_BYTES.
    request.max_content_length = documents.MAX_DOCUMENT_BYTES + UPLOAD_OVERHEAD
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
    if visit_id is not None and row_id(visit_id) is None:
        abort(400, "visit_id must be a visit's id")
    if not all(storable(text) for text in (fulfils or "", upload.filename or "")):
        abort(400, "fulfils and the file name cannot hold NUL characters")
    ticket = ticket_or_404(number)
    session, tz = db(), settings().timezone
    try:
        document = actions.receive_document(
            session, settings(), ticket, actor=g.actor, filename=upload.filename or "document",
            content_type=upload.mimetype or "application/octet-stream", data=data,
            visit_id=row_id(visit_id), fulfils=fulfils)
    except actions.ActionRefused as exc:
        abort(exc.status, str(exc))
    fulfilled = actions.fulfilled_by(ticket, document)
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
