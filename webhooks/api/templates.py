"""Reply templates in the JSON API (P3.3): list, draft, edit, approve, reject. People only
(HTTP basic, with roles). The rules and the audit rows are
:mod:`callcenter.channels.templates`', the console's templates page calls the same functions.

Every template carries the ``digest`` of its text: an approval or a rejection sends back the
digest of the text the reviewer read (``{"digest": ...}``), and a draft edited since then is
refused with 409, to be read again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import select

from callcenter.channels import templates
from callcenter.models import Template
from webhooks.api.auth import require_user
from webhooks.api.inputs import json_object
from webhooks.context import db

bp = Blueprint("api_templates", __name__, url_prefix="/api/templates")


def _template(template_id: int) -> Template:
    found = db().get(Template, template_id)
    if found is None:
        abort(404, "no such template")
    return found


def _out(template: Template) -> dict[str, Any]:
    session = db()
    return templates.template_json(template, templates.usernames(session, [template]),
                                   templates.rejection(session, template))


@bp.get("")
@require_user()
def list_templates() -> Response:
    """``?key=&language=&status=&channel=`` → ``{"templates": [...]}``."""
    query = select(Template).order_by(Template.key, Template.language, Template.version.desc())
    for name in ("key", "language", "status", "channel"):
        if request.args.get(name):
            query = query.where(getattr(Template, name) == request.args[name])
    session = db()
    found = list(session.scalars(query.limit(500)))
    names = templates.usernames(session, found)
    return jsonify({"templates": [templates.template_json(t, names,
                                                          templates.rejection(session, t))
                                  for t in found]})


@bp.get("/<int:template_id>")
@require_user()
def get_template(template_id: int) -> Response:
    return jsonify(_out(_template(template_id)))


@bp.post("")
@require_user()
def create() -> tuple[Response, int]:
    body = json_object()
    session = db()
    try:
        template = templates.create_draft(
            session, g.user, key=body.get("key"), language=body.get("language"),
            body=body.get("body"), subject=body.get("subject"),
            channel=body.get("channel", "email"))
    except templates.TemplateError as exc:
        abort(exc.status, str(exc))
    session.commit()
    return jsonify(_out(template)), 201


@bp.patch("/<int:template_id>")
@require_user()
def edit(template_id: int) -> tuple[Response, int]:
    """A draft changes in place (200); an approved template gets a new draft version (201)."""
    body = json_object()
    session = db()
    template = _template(template_id)
    try:
        result, created = templates.edit(session, g.user, template, body=body.get("body"),
                                         subject=body.get("subject"),
                                         subject_given="subject" in body)
    except templates.TemplateError as exc:
        abort(exc.status, str(exc))
    session.commit()
    return jsonify(_out(result)), 201 if created else 200


@bp.post("/<int:template_id>/approve")
@require_user("qa")
def approve(template_id: int) -> Response:
    """``{"digest": "..."}``: the digest of the text read (from ``GET``); 409 when the draft
    changed since."""
    body = json_object()
    session = db()
    template = _template(template_id)
    try:
        templates.approve(session, g.user, template, read=body.get("digest"))
    except templates.TemplateError as exc:
        abort(exc.status, str(exc))
    session.commit()
    return jsonify(_out(template))


@bp.post("/<int:template_id>/reject")
@require_user("qa")
def reject(template_id: int) -> Response:
    """``{"digest": "...", "reason": "..."}``: sent back to its author with the reason."""
    body = json_object()
    session = db()
    template = _template(template_id)
    try:
        templates.reject(session, g.user, template, read=body.get("digest"),
                         reason=body.get("reason"))
    except templates.TemplateError as exc:
        abort(exc.status, str(exc))
    session.commit()
    return jsonify(_out(template))
