"""Reply templates in the console (P3.3): list, draft, edit, review (approve or reject).

The rules and the audit rows live in :mod:`callcenter.channels.templates` (the JSON API in
webhooks/api/templates.py calls the same functions): anyone drafts; QA (or an admin) approves,
never the text's own author; editing an approved template writes a new draft version, and the
approved one is still the one sent until the new version is approved.

QA reviews on the template's own page, where the approve and reject buttons sit under the full
text; both forms carry the :func:`~callcenter.channels.templates.digest` of that text, so a
draft edited after the page was opened is refused and shown again to be read. A rejection's
reason is shown to the author on the same page.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from callcenter import display
from callcenter.channels import templates
from callcenter.models import Template, User
from callcenter.people import users
from callcenter.statuses import TemplateStatus
from webhooks.console.auth import current_user, login_required
from webhooks.console.blueprint import bp
from webhooks.context import db, settings
from webhooks.i18n import code_label, gettext, translate

LIST_LIMIT = 500
LANGUAGE_LABELS = {"id": "Bahasa Indonesia (id)", "en": "English (en)"}
CHANNEL_LABELS = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp"}
PLACEHOLDER_HELP = {
    "name": "the customer's name",
    "ticket": "the ticket number",
    "amount": "the amount due, in Rupiah",
    "due_date": "the due date",
    "va": "the virtual account number",
    "bank": "the virtual account's bank",
    "email": "the customer's email address",
}


def _version_name(template: Template) -> str:
    """``status-checked (Indonesian) v2``: a template version as the page names it."""
    return f"{template.key} ({code_label(template.language, 'language')}) v{template.version}"


def _local(value: datetime | None) -> str:
    return display.local_time(value, settings().timezone, "%Y-%m-%d %H:%M")


def _can_review(user: User, template: Template) -> bool:
    """Four eyes (P3.3): QA or admin, and not the author of the draft's text."""
    return (template.status == TemplateStatus.DRAFT
            and users.has_role(user, *templates.APPROVER_ROLES)
            and template.created_by != user.id)


def _page(form: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    session = db()
    found = list(session.scalars(
        select(Template).order_by(Template.key, Template.language, Template.version.desc())
        .limit(LIST_LIMIT)))
    names = templates.usernames(session, found)
    user = current_user()
    groups = [(key, list(items)) for key, items in groupby(found, key=lambda t: t.key)]
    html = render_template(
        "console/templates/list.html", groups=groups, names=names, user=user,
        can_review=_can_review, local=_local, form=form or {},
        languages=LANGUAGE_LABELS, channels=CHANNEL_LABELS,
        placeholders=[(p, PLACEHOLDER_HELP.get(p, "")) for p in templates.PLACEHOLDERS],
        truncated=len(found) >= LIST_LIMIT)
    return html, status


@bp.get("/templates")
@login_required()
def template_list() -> tuple[str, int]:
    """Every template, grouped by key, newest version first; the draft form below."""
    return _page()


@bp.post("/templates")
@login_required()
def template_create() -> Response | tuple[str, int]:
    form = {name: request.form.get(name, "") for name in
            ("key", "language", "channel", "subject", "body")}
    session = db()
    try:
        template = templates.create_draft(
            session, current_user(), key=form["key"].strip(), language=form["language"],
            channel=form["channel"], subject=form["subject"].strip() or None, body=form["body"])
    except templates.TemplateError as exc:
        session.rollback()
        flash(gettext("Draft not saved: %(reason)s.", reason=translate(exc)), "error")
        return _page(form, exc.status)
    session.commit()
    flash(gettext("Draft %(name)s saved; QA approves it before it can be sent.",
                  name=_version_name(template)), "success")
    return redirect(url_for("console.template_list"))


def _template(template_id: int) -> Template:
    found = db().get(Template, template_id)
    if found is None:
        abort(404, gettext("No such template."))
    return found


def _refused(message: str, endpoint: str, **values: int) -> Response:
    """Nothing written: back to the page with the refusal."""
    db().rollback()
    flash(message, "error")
    return redirect(url_for(endpoint, **values))


@bp.get("/templates/<int:template_id>")
@login_required()
def template_edit(template_id: int) -> str:
    """The full text, the review for QA (approve or reject under the text) and the editor."""
    template = _template(template_id)
    session = db()
    names = templates.usernames(session, [template])
    return render_template(
        "console/templates/edit.html", template=template, names=names, local=_local,
        languages=LANGUAGE_LABELS, channels=CHANNEL_LABELS,
        placeholders=[(p, PLACEHOLDER_HELP.get(p, "")) for p in templates.PLACEHOLDERS],
        can_review=_can_review(current_user(), template), digest=templates.digest(template),
        rejection=templates.rejection(session, template),
        editable_in_place=template.status in templates.OPEN_STATUSES)


@bp.post("/templates/<int:template_id>/edit")
@login_required()
def template_save(template_id: int) -> Response:
    """A draft changes in place; an approved template gets a new draft version."""
    session = db()
    template = _template(template_id)
    try:
        result, created = templates.edit(
            session, current_user(), template, body=request.form.get("body", ""),
            subject=(request.form.get("subject") or "").strip() or None, subject_given=True)
    except templates.TemplateError as exc:
        return _refused(gettext("Not saved: %(reason)s.", reason=translate(exc)),
                        "console.template_edit", template_id=template_id)
    session.commit()
    if created:
        flash(gettext("Saved as a new draft, v%(new)s; v%(old)s stays in use until QA approves "
                      "the new one.", new=result.version, old=template.version), "success")
    else:
        flash(gettext("Draft v%(version)s saved.", version=result.version), "success")
    return redirect(url_for("console.template_list"))


@bp.post("/templates/<int:template_id>/approve")
@login_required()
def template_approve(template_id: int) -> Response:
    """QA (or an admin) approves a draft someone else wrote (four eyes, P3.3): the text
    whose digest the form carries, i.e. the one on the page they read."""
    template = _template(template_id)
    try:
        templates.approve(db(), current_user(), template, read=request.form.get("digest"))
    except templates.TemplateError as exc:
        return _refused(gettext("Not approved: %(reason)s.", reason=translate(exc)),
                        "console.template_edit", template_id=template_id)
    db().commit()
    flash(gettext("%(name)s approved.", name=_version_name(template)), "success")
    return redirect(url_for("console.template_list"))


@bp.post("/templates/<int:template_id>/reject")
@login_required()
def template_reject(template_id: int) -> Response:
    """QA sends the draft back to its author with a reason (the text on the page they read)."""
    template = _template(template_id)
    try:
        templates.reject(db(), current_user(), template, read=request.form.get("digest"),
                         reason=request.form.get("reason"))
    except templates.TemplateError as exc:
        return _refused(gettext("Not rejected: %(reason)s.", reason=translate(exc)),
                        "console.template_edit", template_id=template_id)
    db().commit()
    flash(gettext("%(name)s sent back to its author with your reason.",
                  name=_version_name(template)), "success")
    return redirect(url_for("console.template_list"))
