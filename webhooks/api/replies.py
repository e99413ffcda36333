"""Agents write to the customer from the JSON API: by email with a QA-approved template
(``POST /api/tickets/<n>/replies``, P3.3, P3.4) or by SMS/WhatsApp, free text or a template
(``POST /api/tickets/<n>/messages``). Both are :func:`callcenter.tickets.actions.send_reply`,
the console's reply too: nothing is sent on a resolved ticket, only approved templates go,
and on WhatsApp after 24 hours of silence only a template Meta approved. The ticket then waits
for the customer (the P2.2b clock); the outbox row is committed before its send job is queued.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, jsonify

from callcenter.channels import social
from callcenter.channels.templates import find_approved
from callcenter.models import Template, Ticket
from callcenter.tickets import actions
from webhooks.api.auth import require_user
from webhooks.api.inputs import json_object, optional_json_object
from webhooks.context import content, db, settings, ticket_or_404
from workers import queues

bp = Blueprint("api_replies", __name__, url_prefix="/api/tickets")
WORK_ROLES = ("agent", "supervisor")


def _template(value: object) -> Template:
    if not isinstance(value, int) or isinstance(value, bool):
        abort(400, "template_id must be a number")
    template = db().get(Template, value)
    if template is None:
        abort(404, "no such template")
    return template


def _send(ticket: Ticket, channel: str, template: Template | None,
          text: str | None = None) -> actions.Reply:
    session, current = db(), settings()
    try:
        reply = actions.send_reply(session, current, content(), ticket, actor=g.actor,
                                   channel=channel, template=template, text=text)
    except actions.ActionRefused as exc:
        abort(exc.status, str(exc))
    session.commit()
    queues.send_soon(current, "email" if reply.kind == "email" else "sms", reply.id)
    return reply


@bp.post("/<number>/replies")
@require_user(*WORK_ROLES)
def email_reply(number: str) -> tuple[Response, int]:
    """``{"template_id": N}`` or ``{"template_key": "...", "language": "id"}`` (default: the
    ticket's language): the approved template, by email, asking whether there is anything
    else (P3.4)."""
    ticket = ticket_or_404(number)
    body = json_object()
    if body.get("template_id") is not None:
        template = _template(body["template_id"])
    elif body.get("template_key"):
        language = body.get("language") or ticket.language or "id"
        found = find_approved(db(), str(body["template_key"]), str(language))
        if found is None:
            abort(404, f"no approved template {body['template_key']!r} in {language!r}")
        template = found
    else:
        abort(400, "template_id or template_key is required")
    email = _send(ticket, "email", template).row
    return jsonify({"id": email.id, "ticket": ticket.number, "ticket_status": ticket.status,
                    "status": email.status, "to": email.to_address, "subject": email.subject,
                    "message_id": email.message_id, "in_reply_to": email.in_reply_to,
                    "template": {"id": template.id, "key": template.key,
                                 "language": template.language,
                                 "version": template.version}}), 202


@bp.post("/<number>/messages")
@require_user(*WORK_ROLES)
def message(number: str) -> tuple[Response, int]:
    """``{"channel": "sms"|"whatsapp", "text": "..." | "template_id": N}``."""
    ticket = ticket_or_404(number)
    body = optional_json_object()
    channel = body.get("channel", "sms")
    if channel not in social.SOCIAL_CHANNELS:
        abort(400, "channel must be sms or whatsapp")
    template = _template(body["template_id"]) if body.get("template_id") is not None else None
    text = body.get("text")
    reply = _send(ticket, channel, template, text if isinstance(text, str) else None)
    return jsonify({"id": reply.id, "channel": channel, "status": reply.row.status,
                    "ticket": ticket.number, "ticket_status": ticket.status}), 202
