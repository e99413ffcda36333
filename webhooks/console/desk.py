"""Console: the walk-in desk (P4.1–P4.8), for agents and supervisors.

Thin over :mod:`callcenter.channels.walkins` (verify, record the visit, close it) and
:mod:`callcenter.tickets.actions` (ask for documents, take one in), the functions the JSON API's
``/api/desk`` calls too; each writes its own audit row. A visitor is served on one page, top to
bottom as the procedure goes:

1. ``GET /console/desk``: verify name, phone and Order ID (P4.1). Whatever part is wrong the
   officer reads one message; the third failure for one phone within 15 minutes says, in
   words, that a supervisor must take over (the supervisor verifies on the same page).
2. ``GET /console/desk/visits/<id>``: the customer's data and the prepared answers to read out
   (P4.2), the ticket number with a printable slip (a print stylesheet prints the slip alone)
   and the SMS that carries it (P4.4, P4.5), the documents as a checklist with an upload per
   document (P4.3: the ticket waits while any is missing), "anything else?" (P4.6), the summary
   (P4.7) and the closing greeting as a script to read out (P4.8).

Every form carries its CSRF token; an upload (larger than the app's 1 MB body limit) checks
its token itself once the body limit is raised for it. Each page view is audited
(``view_desk``, ``view_visit``); refusals are flashed in the reader's language.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from callcenter import display
from callcenter.channels import walkins
from callcenter.i18n import N_
from callcenter.models import Contact, Document
from callcenter.people import users
from callcenter.phones import mask_phone
from callcenter.tickets import actions, documents
from callcenter.tickets.queue import mask_name
from webhooks.console import auth
from webhooks.console.blueprint import bp
from webhooks.context import content, db, settings
from webhooks.i18n import current_language, gettext, ngettext, translate
from workers import queues

log = logging.getLogger(__name__)
ROLES = ("agent", "supervisor")  # as /api/desk
LIMITS = {"name": 200, "phone": 40, "order_id": 64, "problem": 5000}
UPLOAD_OVERHEAD = 64 * 1024  # multipart framing and the small form fields
# The answers read out at the desk (walkins.DIRECT_TOPICS), titled in the officer's language.
TOPIC_TITLES = {
    "how_to_pay": N_("How to pay"),
    "bill": N_("Bill amount and due date"),
    "status": N_("Application status"),
}
UPLOAD_VIEW = "webhooks.console.desk.visit_upload"


@bp.record_once
def _upload_checks_its_own_token(state: Any) -> None:
    """The upload view reads its body only after raising the size limit; Flask-WTF's check,
    which reads the body before any view, would refuse a document over 1 MB. The view calls
    the same check itself (:func:`visit_upload`)."""
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(UPLOAD_VIEW)


# -- verifying (P4.1) ------------------------------------------------------------------------


def _desk_page(form: dict[str, str] | None = None, *, error: str | None = None,
               escalate: bool = False, status: int = 200) -> Response:
    session, user = db(), auth.current_user()
    supervises = users.has_role(user, "supervisor")
    visits = walkins.open_visits(session, None if supervises else user.id)
    auth.record("view_desk", "desk", f"open visits shown={len(visits)}")
    html = render_template(
        "console/desk/desk.html", form=form or {"language": "id"}, error=error,
        escalate=escalate, visits=visits, mask_name=mask_name, supervises=supervises,
        languages=walkins.LANGUAGES, limits=LIMITS)
    session.commit()
    return make_response(html, status)


@bp.get("/desk", endpoint="desk")
@auth.login_required(*ROLES)
def desk_page() -> Response:
    """The verification form, and the visitors still at the desk."""
    return _desk_page()


@bp.post("/desk/visits", endpoint="desk_verify")
@auth.login_required(*ROLES)
def desk_verify() -> Response:
    """P4.1 verify; P4.4 record the visit on the customer's open ticket or a new one; P4.5
    the ticket number by SMS (queued after the commit)."""
    form = {name: (request.form.get(name) or "").strip() for name in
            ("name", "phone", "order_id", "problem", "language")}
    form["new_ticket"] = "1" if request.form.get("new_ticket") == "1" else ""
    if not (form["name"] and form["phone"] and form["order_id"]):
        return _desk_page(form, error=gettext(
            "Write the visitor's name, phone number and Order ID."), status=400)
    if not form["problem"]:
        return _desk_page(form, error=gettext("Write what the customer came about."),
                          status=400)
    if any(len(form[name]) > limit for name, limit in LIMITS.items()):
        return _desk_page(form, error=gettext("A field is too long: check what was typed."),
                          status=400)
    language = form["language"] if form["language"] in walkins.LANGUAGES else "id"
    session, current = db(), settings()
    try:
        customer = walkins.verify_visitor(
            session, actor=auth.actor(), name=form["name"], phone=form["phone"],
            order_id=form["order_id"], secret=current.secret_key)
    except walkins.EscalateVerification as exc:
        session.commit()  # the failure counts
        return _desk_page(form, error=translate(exc), escalate=True, status=429)
    except walkins.NotVerified as exc:
        session.commit()
        left = walkins.MAX_FAILURES - walkins.recent_failures(
            session, auth.actor(), walkins.phone_key(form["phone"], current.secret_key))
        message = translate(exc) + " " + ngettext(
            "%(num)d more try, then a supervisor must take over.",
            "%(num)d more tries, then a supervisor must take over.", left)
        return _desk_page(form, error=message, status=422)
    visit = walkins.register_visit(
        session, content(), user=auth.current_user(), actor=auth.actor(), customer=customer,
        problem=form["problem"], language=language, new_ticket=bool(form["new_ticket"]),
        tz=current.timezone, settings=current)
    visit_id, number, sms_id = visit.contact.id, visit.ticket.number, visit.message.id
    session.commit()
    queues.send_soon(current, "sms", sms_id)
    if visit.continued:
        flash(gettext("Verified. The visit continues the customer's open ticket %(number)s; "
                      "its number is sent to them by SMS again.", number=number), "success")
    else:
        flash(gettext("Verified. Ticket %(number)s is opened; its number is on its way to "
                      "the customer by SMS.", number=number), "success")
    return redirect(url_for("console.visit_page", visit_id=visit_id), code=303)


# -- the visit (P4.2–P4.8) -------------------------------------------------------------------


def _visit(visit_id: int) -> Contact:
    try:
        return walkins.find_visit(db(), visit_id)
    except walkins.VisitNotFound:
        abort(404)


def _open_visit(visit_id: int) -> Contact:
    """The visit, if the visitor is still at the desk; else back to its page with why."""
    contact = _visit(visit_id)
    if not walkins.is_open(contact):
        abort(make_response(_back(contact, gettext(
            "This visit is closed. When the customer is back at the desk, verify them again: "
            "the new visit continues the same ticket."), "error")))
    return contact


def _back(contact: Contact, message: str | None = None, category: str = "success") -> Response:
    if message:
        flash(message, category)
    return redirect(url_for("console.visit_page", visit_id=contact.id), code=303)


def _refused(contact: Contact, message: str) -> Response:
    db().rollback()
    return _back(contact, message, "error")


def _other_open_visits(contact: Contact) -> list[Contact]:
    """The same visitor's other visits still open (a second problem is a second ticket)."""
    ticket = contact.ticket
    if ticket is None or ticket.customer_id is None:
        return []
    return [c for c in walkins.customer_open_visits(db(), ticket.customer_id)
            if c.id != contact.id]


@bp.get("/desk/visits/<int:visit_id>", endpoint="visit_page")
@auth.login_required(*ROLES)
def visit_page(visit_id: int) -> str:
    """Everything the officer says and does for one visitor, in the procedure's order."""
    session, current, words = db(), settings(), content()
    contact = _visit(visit_id)
    ticket = contact.ticket
    assert ticket is not None
    customer = ticket.customer
    lang = walkins.visit_language(contact)
    answers = walkins.prepared_answers(words, lang, customer) if customer else {}
    handed_in = list(session.scalars(select(Document).where(
        Document.contact_id == contact.id).order_by(Document.id)))
    auth.record("view_visit", f"ticket:{ticket.number}", f"visit:{contact.id}")
    html = render_template(
        "console/desk/visit.html", visit=contact, ticket=ticket, customer=customer,
        visit_language=lang, answers=answers, topic_titles=TOPIC_TITLES,
        slip=walkins.slip_text(words, lang, ticket, current.timezone).splitlines(),
        sms=walkins.ticket_sms(session, contact), masked_phone=mask_phone,
        outstanding=documents.outstanding(ticket), received=documents.received(ticket),
        handed_in=handed_in, is_open=walkins.is_open(contact),
        asked=[item for item in (contact.answers or []) if isinstance(item, dict)
               and item.get("topic") == "anything_else"],
        closing=walkins.closing_lines(contact), anything_else=words.text(
            lang, "desk_anything_else"),
        others=_other_open_visits(contact), max_summary=actions.MAX_SUMMARY,
        max_bytes=documents.MAX_DOCUMENT_BYTES)
    session.commit()
    return html


@bp.post("/desk/visits/<int:visit_id>/required-documents", endpoint="visit_require")
@auth.login_required(*ROLES)
def visit_require(visit_id: int) -> Response:
    """P4.3: the ticket waits for these documents; the customer is told by SMS what is
    missing (:func:`actions.request_documents`, as the API's)."""
    contact = _open_visit(visit_id)
    ticket = contact.ticket
    assert ticket is not None
    names = actions.document_names(request.form.get("documents", ""))
    if not names:
        return _refused(contact, gettext("Write the documents needed, one per line."))
    session, current = db(), settings()
    try:
        result = actions.request_documents(session, current, content(), ticket, names,
                                           walkins.visit_language(contact), actor=auth.actor())
    except actions.ActionRefused as exc:
        return _refused(contact, translate(exc))
    session.commit()
    queues.send_soon(current, "sms", result.sms_id)
    if not result.added:
        return _back(contact, gettext("Those documents were already asked for."), "info")
    return _back(contact, gettext(
        "Asked for: %(documents)s. The ticket waits until they are here; the customer is told "
        "by SMS what is missing.", documents=", ".join(r.name for r in result.added)))


@bp.post("/desk/visits/<int:visit_id>/documents", endpoint="visit_upload")
@auth.login_required(*ROLES)
def visit_upload(visit_id: int) -> Response:
    """A document handed in at the desk (``file``; ``fulfils``: the required document's id),
    ticking it off (:func:`actions.receive_document`, as the API's)."""
    request.max_content_length = documents.MAX_DOCUMENT_BYTES + UPLOAD_OVERHEAD
    too_large = gettext("The file is too large: at most %(size)s.",
                        size=_size(documents.MAX_DOCUMENT_BYTES))
    try:
        current_app.extensions["csrf"].protect()  # reads the form: after the limit is raised
        upload = request.files.get("file")
        fulfils = request.form.get("fulfils") or None
    except RequestEntityTooLarge:
        contact = _visit(visit_id)
        return _refused(contact, too_large)
    contact = _open_visit(visit_id)
    if upload is None or not upload.filename:
        return _refused(contact, gettext("Choose the file to upload."))
    try:
        data = upload.read(documents.MAX_DOCUMENT_BYTES + 1)
    finally:
        request.close()  # large parts are spooled to a temporary file
    if len(data) > documents.MAX_DOCUMENT_BYTES:
        return _refused(contact, too_large)
    ticket = contact.ticket
    assert ticket is not None
    session = db()
    try:
        document = actions.receive_document(
            session, settings(), ticket, actor=auth.actor(), filename=upload.filename,
            content_type=upload.mimetype or "application/octet-stream", data=data,
            visit_id=contact.id, fulfils=fulfils)
    except actions.ActionRefused as exc:
        return _refused(contact, translate(exc))
    fulfilled = actions.fulfilled_by(ticket, document)
    missing = documents.missing_names(ticket)
    session.commit()
    if fulfilled is not None:
        message = gettext("Received: %(document)s.", document=fulfilled.name)
    else:
        message = gettext("Received %(file)s (it ticks off no document on the list).",
                          file=document.filename)
    if missing:
        message += " " + gettext("Still missing: %(documents)s.", documents=", ".join(missing))
    elif ticket.required_documents:
        message += " " + gettext("Nothing is missing now: the ticket no longer waits.")
    return _back(contact, message)


def _size(size: int) -> str:
    return display.size_text(size, current_language())


@bp.post("/desk/visits/<int:visit_id>/anything-else", endpoint="visit_more")
@auth.login_required(*ROLES)
def visit_more(visit_id: int) -> Response:
    """P4.6 asked, and the customer has something else: recorded, the visit goes on."""
    contact = _open_visit(visit_id)
    try:
        walkins.close_visit(db(), content(), contact, anything_else=True, summary=None,
                            actor=auth.actor())
    except walkins.WalkinError as exc:
        return _refused(contact, translate(exc))
    db().commit()
    return _back(contact, gettext(
        "Noted: the customer has something else. Answer it from their data above; a "
        "different problem gets a ticket of its own below."), "info")


@bp.post("/desk/visits/<int:visit_id>/another-problem", endpoint="visit_another")
@auth.login_required(*ROLES)
def visit_another(visit_id: int) -> Response:
    """A different problem of the same, already verified, visitor: its own ticket (X1) and
    visit, its number by SMS."""
    contact = _open_visit(visit_id)
    problem = (request.form.get("problem") or "").strip()
    if not problem or len(problem) > LIMITS["problem"]:
        return _refused(contact, gettext("Write what the other problem is."))
    ticket = contact.ticket
    assert ticket is not None
    if ticket.customer is None:
        return _refused(contact, gettext("This visit has no verified customer."))
    session, current = db(), settings()
    visit = walkins.register_visit(
        session, content(), user=auth.current_user(), actor=auth.actor(),
        customer=ticket.customer, problem=problem, language=walkins.visit_language(contact),
        new_ticket=True, tz=current.timezone, settings=current)
    new_id, number, sms_id = visit.contact.id, visit.ticket.number, visit.message.id
    session.commit()
    queues.send_soon(current, "sms", sms_id)
    flash(gettext("Ticket %(number)s is opened for the other problem; its number is on its "
                  "way by SMS. Close each visit with its own summary.", number=number),
          "success")
    return redirect(url_for("console.visit_page", visit_id=new_id), code=303)


@bp.post("/desk/visits/<int:visit_id>/close", endpoint="visit_close")
@auth.login_required(*ROLES)
def visit_close(visit_id: int) -> Response:
    """P4.6 nothing else, P4.7 the summary, P4.8 the closing greeting: kept on the visit and
    shown as the script to read out."""
    contact = _open_visit(visit_id)
    summary = (request.form.get("summary") or "").strip()
    if not summary:
        return _refused(contact, gettext("Write the summary: it is read to the customer."))
    if len(summary) > actions.MAX_SUMMARY:
        return _refused(contact, gettext("The summary has at most %(count)s characters.",
                                         count=actions.MAX_SUMMARY))
    try:
        walkins.close_visit(db(), content(), contact, anything_else=False, summary=summary,
                            actor=auth.actor())
    except walkins.WalkinError as exc:
        return _refused(contact, translate(exc))
    db().commit()
    return _back(contact, gettext("The visit is closed. Read the closing script to the "
                                  "customer."))
