"""Email: the provider's inbound-parse hook (P3.1). Agents' replies by email are the JSON
API's (webhooks/api/replies.py).

``POST /email/inbound`` is SendGrid Inbound Parse (multipart/form-data), with HTTP basic auth
per ``EMAIL_WEBHOOK_AUTH`` (401 otherwise, and always when unset). The post is parsed whole
before anything is written; one commit at the end; the same Message-ID twice changes nothing.
A customer's new ticket is acknowledged with its number (P3.5); a sender who is not the
ticket's customer gets at most one generic reply a day (``email_outbound``).
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from callcenter.channels import email_inbound, email_outbound
from webhooks.context import db, settings
from workers import queues

bp = Blueprint("email", __name__)
log = logging.getLogger(__name__)


def _authorised() -> bool:
    expected = settings().email_webhook_auth
    auth = request.authorization
    if not expected or ":" not in expected or auth is None or auth.type != "basic":
        return False
    user, _, password = expected.partition(":")
    return (hmac.compare_digest((auth.username or "").encode(), user.encode())
            & hmac.compare_digest((auth.password or "").encode(), password.encode()))


@bp.post("/email/inbound")
def inbound() -> tuple[Response, int]:
    if not _authorised():
        response = jsonify({"error": "Unauthorized",
                            "message": "HTTP basic auth per EMAIL_WEBHOOK_AUTH is required"})
        response.headers["WWW-Authenticate"] = 'Basic realm="email-inbound"'
        return response, 401
    current = settings()
    # Emails with attachments are larger than the app's 1 MB: this endpoint's own limits.
    request.max_content_length = current.email_max_bytes
    request.max_form_memory_size = current.email_max_bytes
    try:
        form = request.form.to_dict()
        files = request.files.to_dict()
    except RequestEntityTooLarge:
        abort(413, f"the email is larger than {current.email_max_bytes} bytes "
                   "(EMAIL_MAX_BYTES); nothing was recorded")
    try:
        parsed = email_inbound.parse_post(form, files, current)
    except email_inbound.AttachmentTooLarge as exc:
        abort(413, f"{exc} (EMAIL_MAX_ATTACHMENT_BYTES); nothing was recorded")
    except email_inbound.MalformedEmail as exc:
        abort(400, f"{exc}; nothing was recorded")
    session = db()
    try:
        taken = email_inbound.take_in(session, current, parsed)
        ack = None
        if not taken.duplicate and not parsed.auto_generated:
            if taken.verified and taken.new_ticket:  # P3.5: the customer gets the number
                ack = email_outbound.queue_acknowledgement(session, current, taken.ticket,
                                                           taken.contact)
            elif not taken.verified:  # a stranger: one generic answer a day at most
                ack = email_outbound.queue_stranger_reply(session, current, taken.contact)
        body = {"ticket": taken.ticket.number, "contact_id": taken.contact.id,
                "duplicate": taken.duplicate, "new_ticket": taken.new_ticket,
                "threaded_by": taken.threaded_by, "sender_verified": taken.verified,
                "unverified_reason": taken.unverified_reason,
                "documents": 0 if taken.duplicate else len(parsed.attachments),
                "acknowledgement_id": ack.id if ack else None}
        session.commit()
    except IntegrityError:
        # The provider posted the same email twice at once: the other request has it.
        session.rollback()
        existing = email_inbound.find_email(session, parsed.message_id)
        if existing is None:
            raise
        return jsonify({"ticket": existing.ticket.number if existing.ticket else None,
                        "contact_id": existing.id, "duplicate": True}), 200
    if ack is not None:
        queues.send_soon(current, "email", ack.id)
    return jsonify(body), 200
