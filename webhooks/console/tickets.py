"""Console: the ticket queue and the ticket page with its actions.

Thin over :mod:`callcenter.tickets.queue` (the list), :mod:`callcenter.tickets.timeline` (one
ticket), :mod:`callcenter.tickets.actions` (what is done to it: the functions the JSON API
calls too, each writing its own audit row), :mod:`callcenter.display` and the domain they call.
Every page view is audited here (``auth.record``); each action is a POST form with its CSRF
token, answered by a redirect back to the ticket page and a flash message (category ``error``
when refused, never a 500 for something the agent can fix). Outbox rows and callbacks are
committed before their jobs are enqueued; a job that cannot be enqueued now is left to the
sweeps (the row is the promise).

The queue masks customers' names ("Budi S."): a list is glanced at by many people on a busy
floor, and viewing it writes one audit row for the whole list, not one per customer; the full
name, phone and loan come only on the ticket page, whose every view is audited per ticket.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from callcenter import display
from callcenter.compliance import regulation
from callcenter.models import Ticket, utcnow
from callcenter.people import users
from callcenter.tickets import actions, documents, queue, timeline
from webhooks.console import auth
from webhooks.console.blueprint import bp
from webhooks.context import content, db, settings, ticket_or_404
from webhooks.i18n import gettext, translate
from webhooks.i18n import when as page_time
from webhooks.params import row_id
from workers import queues

log = logging.getLogger(__name__)
VIEW_ROLES = ("agent", "supervisor", "qa")
ACT_ROLES = ("agent", "supervisor")  # QA reads tickets, does not work them (as the API)
EXTEND_ROLES = ("supervisor",)  # and admins: as POST /api/tickets/<n>/extension


def _formatting() -> dict[str, Any]:
    tz = settings().timezone
    return {
        "when": lambda value: display.local_time(value, tz),
        "rupiah": display.rupiah,
        "duration": display.duration_text,
        "size": display.size_text,
        "channel_label": lambda c: queue.CHANNEL_LABELS.get(c, c),
        "status_label": lambda s: queue.STATUS_LABELS.get(s, s),
        "timezone": tz,
    }


QUEUE_REFRESH_S = 20  # the results table refreshes itself (htmx) on a busy shift


def _queue_results() -> tuple[dict[str, Any], str, str]:
    """The page of the queue the query string asks for: the template context, the results
    region's HTML (table and pager) and its fingerprint (``seen``)."""
    session, user = db(), auth.current_user()
    filters = queue.QueueFilters.from_args(request.args)
    after = queue.Cursor.decode(request.args.get("after"))
    page = queue.queue_page(session, settings(), filters, user_id=user.id, after=after)
    here = filters.as_args() | ({"after": request.args["after"]} if after else {})
    context = dict(
        page=page, filters=filters, first_page=after is None,
        next_url=url_for("console.ticket_queue", **filters.as_args(), after=page.next_cursor)
        if page.next_cursor else None,
        first_url=url_for("console.ticket_queue", **filters.as_args()),
        live_url=url_for("console.ticket_queue_live", **here),
        refresh_s=QUEUE_REFRESH_S, **_formatting())
    results = render_template("console/tickets/_results.html", **context)
    return context, results, hashlib.sha256(results.encode()).hexdigest()[:20]


@bp.get("/tickets", endpoint="ticket_queue")
@auth.login_required(*VIEW_ROLES)
def queue_page() -> str:
    """The queue: filters in the query string, keyset pages of 50, one audit row per view."""
    session, user = db(), auth.current_user()
    context, results, seen = _queue_results()
    filters = context["filters"]
    supervises = users.has_role(user, "supervisor")
    owners = queue.owners_for_filter(session) if supervises else []
    auth.record("view_queue", "tickets",
                f"{filters.describe()} page={'first' if context['first_page'] else 'next'} "
                f"shown={len(context['page'].rows)}")
    html = render_template(
        "console/tickets/queue.html", results=Markup(results), seen=seen,
        statuses=queue.STATUS_LABELS, channels=queue.CHANNEL_LABELS,
        dues=queue.DUE_FILTERS, owner_choices=queue.OWNER_FILTERS,
        owners=owners, **context)
    session.commit()
    return html


@bp.get("/tickets/live", endpoint="ticket_queue_live")
@auth.login_required(*VIEW_ROLES)
def queue_live() -> Response:
    """The queue's results region alone (same filters and cursor), polled by htmx every
    ``QUEUE_REFRESH_S`` seconds. No audit row per poll: opening the page wrote
    ``view_queue``, and the poll shows the same list with masked names. 204 when nothing
    changed since the fingerprint the region sends back (``seen``), so htmx swaps nothing and
    neither the agent's focus nor a screen reader is disturbed."""
    _context, results, seen = _queue_results()
    if request.args.get("seen") == seen:
        response = Response(status=204)
    else:
        response = Response(results + _seen_input(seen), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _seen_input(seen: str) -> str:
    return f'<input type="hidden" name="seen" value="{seen}">'


def _ticket(number: str) -> Ticket:
    """The ticket, or the console's "Ticket not found" page (404)."""
    return ticket_or_404(number, page="console/tickets/not_found.html")


@bp.get("/tickets/<number>")
@auth.login_required(*VIEW_ROLES)
def ticket_page(number: str) -> str:
    """Everything on one ticket: customer, documents, one timeline, and the actions."""
    session, user = db(), auth.current_user()
    ticket = _ticket(number)
    current = settings()
    customer = ticket.customer
    status_text = (content().lookup("en", "statuses", customer.application_status)
                   if customer and customer.application_status else None)
    owner = timeline.users_by_id(session, [ticket.owner_id]).get(ticket.owner_id or 0)
    may_act = users.has_role(user, *ACT_ROLES)
    calendar = regulation.WorkCalendar.from_settings(current)
    now = utcnow()
    extended = regulation.is_extended(ticket, current)
    supervises = users.has_role(user, *EXTEND_ROLES)
    auth.record("view_ticket", f"ticket:{ticket.number}")
    html = render_template(
        "console/tickets/ticket.html", ticket=ticket, customer=customer,
        status_text=status_text, owner=owner, may_act=may_act,
        timeline=timeline.timeline(session, ticket),
        outstanding=documents.outstanding(ticket), received=documents.received(ticket),
        kind=ticket.kind or regulation.kind_of(ticket.channel),
        extended=extended,
        first_due=regulation.compute_due(ticket, None, current) if extended else None,
        due_state=queue.due_state(ticket, now, calendar,
                                         current.complaint_nearing_working_days),
        extension=regulation.extension_allowed(ticket, now, current) if supervises else None,
        now=now,
        templates=actions.approved_templates(session, ticket) if may_act else [],
        reply_channels=actions.reply_channels(ticket),
        assignable=actions.assignable_users(session, user) if may_act else [],
        supervises=supervises, max_reason=actions.MAX_EXTENSION_REASON,
        max_note=actions.MAX_NOTE, **_formatting())
    session.commit()
    return html


def _back(ticket: Ticket) -> Response:
    return redirect(url_for("console.ticket_page", number=ticket.number), code=303)


def _refused(ticket: Ticket, message: str) -> Response:
    db().rollback()
    flash(message, "error")
    return _back(ticket)


@bp.post("/tickets/<number>/reply")
@auth.login_required(*ACT_ROLES)
def ticket_reply(number: str) -> Response:
    """P3.3: an approved template the page offers, on the ticket's channel (voice/walk-in:
    SMS or email); the same :func:`actions.send_reply` as the API's replies and messages."""
    ticket = _ticket(number)
    session, current = db(), settings()
    raw = request.form.get("template_id", "")
    try:
        template = actions.offered_template(
            session, ticket, row_id(raw))
        reply = actions.send_reply(session, current, content(), ticket, actor=auth.actor(),
                                   channel=template.channel, template=template)
    except actions.ActionRefused as exc:
        return _refused(ticket, translate(exc))
    session.commit()
    queues.send_soon(current, "email" if reply.kind == "email" else "sms", reply.id)
    flash(_reply_message(template.key, reply.kind), "success")
    return _back(ticket)


@bp.post("/tickets/<number>/callback")
@auth.login_required(*ACT_ROLES)
def ticket_callback(number: str) -> Response:
    """P2.2a: the same :func:`actions.schedule_callback` as ``POST
    /api/tickets/<n>/callbacks``; the time moves into the calling window."""
    ticket = _ticket(number)
    session, current = db(), settings()
    try:
        earliest = actions.parse_local(request.form.get("call_at"), current.timezone)
        scheduled = actions.schedule_callback(session, current, ticket, earliest,
                                              actor=auth.actor())
    except actions.ActionRefused as exc:
        return _refused(ticket, translate(exc))
    session.commit()
    callback = scheduled.callback
    when = page_time(callback.due_at)
    if not scheduled.created:
        flash(gettext("A callback is already scheduled for %(when)s; no second one was added.",
                      when=when), "info")
        return _back(ticket)
    queues.schedule_soon(current, callback)
    message = gettext("Callback scheduled for %(when)s.", when=when)
    if scheduled.moved:
        start, end = current.calling_hours
        message += " " + gettext(
            "The time was moved into the customer's calling window (%(start)s–%(end)s, Monday "
            "to Saturday, not on holidays).", start=f"{start:%H:%M}", end=f"{end:%H:%M}")
    flash(message, "success")
    return _back(ticket)


@bp.post("/tickets/<number>/documents")
@auth.login_required(*ACT_ROLES)
def ticket_documents(number: str) -> Response:
    """P4.3: the ticket waits for these documents; the customer is told by SMS (the same
    :func:`actions.request_documents` as the desk's API)."""
    ticket = _ticket(number)
    session, current = db(), settings()
    names = actions.document_names(request.form.get("documents", ""))
    if not names:
        return _refused(ticket, gettext("Write the documents needed, one per line."))
    try:
        result = actions.request_documents(session, current, content(), ticket, names,
                                           actor=auth.actor())
    except actions.ActionRefused as exc:
        return _refused(ticket, translate(exc))
    session.commit()
    queues.send_soon(current, "sms", result.sms_id)
    if result.added:
        message = gettext("Documents requested: %(documents)s.",
                          documents=", ".join(r.name for r in result.added))
    else:
        message = gettext("Those documents were already requested.")
    if result.sms_id is not None:
        message += " " + gettext("The customer is told by SMS what is still missing.")
    flash(message, "success" if result.added else "info")
    return _back(ticket)


@bp.post("/tickets/<number>/assign")
@auth.login_required(*ACT_ROLES)
def ticket_assign(number: str) -> Response:
    """Agents take tickets for themselves; supervisors assign anyone (or nobody)."""
    ticket = _ticket(number)
    session, user = db(), auth.current_user()
    raw = request.form.get("owner_id", "")
    owner_id = row_id(raw)
    if raw and owner_id is None:
        return _refused(ticket, gettext("Choose who should own the ticket."))
    try:
        owner = actions.assign(session, user, ticket, owner_id)
    except actions.ActionRefused as exc:
        return _refused(ticket, translate(exc))
    session.commit()
    flash(gettext("Ticket %(number)s is now assigned to %(owner)s.", number=ticket.number,
                  owner=owner.username) if owner
          else gettext("Ticket %(number)s is now unassigned.", number=ticket.number), "success")
    return _back(ticket)


@bp.post("/tickets/<number>/notes")
@auth.login_required(*ACT_ROLES)
def ticket_note(number: str) -> Response:
    """What the customer said, in the agent's words (:func:`actions.add_note`, as ``POST
    /api/tickets/<n>/notes``); from the ticket page or the screen pop, which sends ``next``
    so the agent stays where they were writing."""
    ticket = _ticket(number)
    session = db()
    back = auth.safe_next(request.form.get("next"))
    try:
        actions.add_note(session, auth.current_user(), ticket, request.form.get("text"))
    except actions.ActionRefused as exc:
        session.rollback()
        flash(translate(exc), "error")
        return redirect(back, code=303) if back else _back(ticket)
    session.commit()
    flash(gettext("Note saved on ticket %(number)s.", number=ticket.number), "success")
    return redirect(back, code=303) if back else _back(ticket)


@bp.post("/tickets/<number>/resolve")
@auth.login_required(*ACT_ROLES)
def ticket_resolve(number: str) -> Response:
    """P1.8: settled with the summary the customer is told; refused while documents are
    outstanding (P4.3), listing them. The desk's ``POST /api/tickets/<n>/resolve`` is the
    same :func:`actions.resolve`."""
    ticket = _ticket(number)
    session, current = db(), settings()
    try:
        resolved = actions.resolve(session, current, content(), ticket,
                                   request.form.get("summary", ""), actor=auth.actor())
    except actions.ActionRefused as exc:
        return _refused(ticket, translate(exc))
    session.commit()
    notice = resolved.notice
    if notice is not None:
        queues.send_soon(current, notice.outbox, notice.id)
    flash(_resolved_message(ticket.number, notice.kind if notice else None,
                            resolved.why_not), "success" if notice else "info")
    return _back(ticket)


def _reply_message(key: str, kind: str) -> str:
    """Where the reply went, in the agent's words (one sentence per channel to translate)."""
    if kind == "email":
        return gettext("Reply “%(template)s” queued to the customer by email; the ticket now "
                       "waits for the customer.", template=key)
    if kind == "whatsapp":
        return gettext("Reply “%(template)s” queued to the customer on WhatsApp; the ticket "
                       "now waits for the customer.", template=key)
    return gettext("Reply “%(template)s” queued to the customer by SMS; the ticket now waits "
                   "for the customer.", template=key)


def _resolved_message(number: str, kind: str | None, why_not: str | None) -> str:
    """Whether and where the customer was told the summary, in the agent's words."""
    if kind == "email":
        return gettext("Ticket %(number)s is resolved. The summary goes to the customer by "
                       "email.", number=number)
    if kind == "whatsapp":
        return gettext("Ticket %(number)s is resolved. The summary goes to the customer on "
                       "WhatsApp.", number=number)
    if kind == "sms":
        return gettext("Ticket %(number)s is resolved. The summary goes to the customer by "
                       "SMS.", number=number)
    return gettext("Ticket %(number)s is resolved. No notice could be sent: %(reason)s",
                   number=number, reason=translate(why_not) if why_not else "")


@bp.post("/tickets/<number>/extension")
@auth.login_required(*EXTEND_ROLES)
def ticket_extend(number: str) -> Response:
    """The one extension of a written complaint (POJK 22/2023: 10 working days; 18/2018: 20),
    before its first period ends, with the customer told in writing (SMS) at once: the same
    :func:`actions.extend_deadline` as ``POST /api/tickets/<n>/extension``."""
    ticket = _ticket(number)
    session, current = db(), settings()
    try:
        extended = actions.extend_deadline(
            session, current, content(), ticket, request.form.get("reason", ""),
            actor=auth.actor())
    except actions.ExtensionRefused as exc:
        return _refused(ticket, gettext("The deadline cannot be extended: %(reason)s.",
                                        reason=translate(exc)))
    except actions.ActionRefused as exc:
        return _refused(ticket, translate(exc))
    session.commit()
    queues.send_soon(current, "sms", extended.notice_id)
    flash(gettext("Deadline extended to %(when)s. The customer is told by SMS, with the "
                  "reason.", when=page_time(extended.new_due_at)),
          "success")
    return _back(ticket)
