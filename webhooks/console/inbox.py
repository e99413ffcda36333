"""Console: the inbox of customers' emails and messages that wait for us (P3.1–P3.5).

Thin over :mod:`callcenter.channels.inbox` (what waits, who wrote, linking and confirming a
sender) and :mod:`callcenter.tickets.actions` (the template reply, as the ticket page's and
the API's). For agents and supervisors:

- ``GET /console/inbox``: oldest first, 50 a page (keyset), the sender's verification in
  words and unverified or unknown senders flagged; names and addresses masked as in the
  ticket queue. One ``view_inbox`` audit row per view.
- ``GET /console/inbox/<id>``: one message in full with its ticket (``view_message``), and
  what can be done with it: reply with a QA-approved template (P3.3, with "anything else?",
  P3.4), link an unmatched email to a customer's ticket, or confirm that an unverified
  email's sender is the customer. Each is a POST with its CSRF token, audited by the domain,
  answered by a redirect and a flash message in the reader's language.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from callcenter.channels import inbox
from callcenter.channels.sanitize import safe_html
from callcenter.models import Contact, Document
from callcenter.phones import mask_phone
from callcenter.statuses import TicketStatus
from callcenter.tickets import actions, lifecycle
from callcenter.tickets.queue import mask_name
from webhooks.console import auth
from webhooks.console.blueprint import bp
from webhooks.context import content, db, settings
from webhooks.i18n import gettext, translate
from workers import queues

ROLES = ("agent", "supervisor")
SNIPPET = 90  # characters of a message shown in the list


def _cursor(raw: str | None) -> tuple[datetime, int] | None:
    """``after=<ISO time>~<id>``: where the previous page ended; 400 for anything else."""
    if not raw:
        return None
    at, _, contact_id = raw.partition("~")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        abort(400)
    if not contact_id.isdigit() or len(contact_id) > 12 or moment.tzinfo is None:
        abort(400)
    return moment, int(contact_id)


def _who(contact: Contact) -> str:
    """The sender as the list shows them: the customer's masked name, else a masked
    address or number."""
    ticket = contact.ticket
    if ticket is not None and ticket.customer is not None and contact.sender_verified:
        return mask_name(ticket.customer.name)
    if contact.channel == "email":
        return inbox.mask_address(contact.sender)
    return mask_phone(contact.sender)


def _snippet(contact: Contact) -> str:
    text = contact.subject if contact.channel == "email" and contact.subject else contact.body
    text = " ".join((text or "").split())
    return text if len(text) <= SNIPPET else text[:SNIPPET - 1] + "…"


@bp.get("/inbox", endpoint="inbox")
@auth.login_required(*ROLES)
def inbox_page() -> str:
    """What waits for an answer, oldest first."""
    session = db()
    after = _cursor(request.args.get("after"))
    page = inbox.waiting(session, after=after)
    auth.record("view_inbox", "inbox",
                f"page={'next' if after else 'first'} shown={len(page.items)}")
    html = render_template(
        "console/inbox/list.html", page=page, first_page=after is None,
        next_url=url_for("console.inbox", after=f"{page.next_after[0].isoformat()}~"
                         f"{page.next_after[1]}") if page.next_after else None,
        check=inbox.sender_check, who=_who, snippet=_snippet)
    session.commit()
    return html


def _message(contact_id: int) -> Contact:
    found = inbox.find_message(db(), contact_id)
    if found is None:
        abort(404)
    return found


def _back(contact: Contact, message: str, category: str = "success") -> Response:
    flash(message, category)
    return redirect(url_for("console.inbox_message", contact_id=contact.id), code=303)


def _refused(contact: Contact, message: str) -> Response:
    db().rollback()
    return _back(contact, message, "error")


@bp.get("/inbox/<int:contact_id>", endpoint="inbox_message")
@auth.login_required(*ROLES)
def message_page(contact_id: int) -> str:
    """One message in full, its sender's verification, and what can be done with it."""
    session = db()
    contact = _message(contact_id)
    ticket = contact.ticket
    assert ticket is not None
    attachments = session.execute(select(Document.filename, Document.size).where(
        Document.contact_id == contact.id).order_by(Document.id)).all()
    auth.record("view_message", f"ticket:{ticket.number}", f"contact:{contact.id}")
    html = render_template(
        "console/inbox/message.html", message=contact, ticket=ticket,
        customer=ticket.customer, check=inbox.sender_check(contact),
        waiting=inbox.is_waiting(session, contact),
        safe_body=safe_html(contact.body_html) if contact.body_html else None,
        attachments=attachments,
        templates=actions.approved_templates(session, ticket)
        if ticket.status != TicketStatus.RESOLVED else [],
        reply_channels=actions.reply_channels(ticket),
        unmatched=contact.channel == "email" and ticket.customer_id is None,
        confirmable=contact.channel == "email" and ticket.customer_id is not None
        and not contact.sender_verified,
        masked_phone=mask_phone, masked_address=inbox.mask_address)
    session.commit()
    return html


@bp.post("/inbox/<int:contact_id>/reply", endpoint="inbox_reply")
@auth.login_required(*ROLES)
def message_reply(contact_id: int) -> Response:
    """P3.3 a QA-approved template on the ticket's channel (:func:`actions.send_reply`, the
    ticket page's and the API's); the ticket then waits for the customer."""
    contact = _message(contact_id)
    ticket = contact.ticket
    assert ticket is not None
    session, current = db(), settings()
    raw = request.form.get("template_id", "")
    try:
        template = actions.offered_template(
            session, ticket, int(raw) if raw.isdigit() and len(raw) < 10 else None)
        reply = actions.send_reply(session, current, content(), ticket, actor=auth.actor(),
                                   channel=template.channel, template=template)
    except actions.ActionRefused as exc:
        return _refused(contact, translate(exc))
    session.commit()
    queues.send_soon(current, "email" if reply.kind == "email" else "sms", reply.id)
    flash(gettext("Reply “%(template)s” queued on ticket %(number)s; the ticket now waits for "
                  "the customer.", template=template.key, number=ticket.number), "success")
    return redirect(url_for("console.inbox"), code=303)


@bp.post("/inbox/<int:contact_id>/link", endpoint="inbox_link")
@auth.login_required(*ROLES)
def message_link(contact_id: int) -> Response:
    """An unmatched email onto a customer's ticket; it acts as the customer's only if the
    agent confirms the sender is the customer (:func:`inbox.link_email`, audited)."""
    contact = _message(contact_id)
    number = "".join((request.form.get("ticket") or "").split())[:20]
    confirmed = request.form.get("sender_confirmed") == "1"
    session, current = db(), settings()
    target = lifecycle.find_by_number(session, number) if number else None
    try:
        linked = inbox.link_email(session, current, contact, target, actor=auth.actor(),
                                  sender_confirmed=confirmed)
    except actions.ActionRefused as exc:
        return _refused(contact, translate(exc))
    session.commit()
    if linked.confirmed:
        message = gettext("The email is on ticket %(number)s now, as the customer's own.",
                          number=linked.ticket.number)
    else:
        message = gettext("The email is on ticket %(number)s now, marked unverified: it "
                          "changes nothing there until the sender is confirmed as the "
                          "customer.", number=linked.ticket.number)
    if linked.left_settled:
        message += " " + gettext("Ticket %(number)s, which had nothing else, is closed.",
                                 number=linked.left.number)
    return _back(contact, message)


@bp.post("/inbox/<int:contact_id>/confirm", endpoint="inbox_confirm")
@auth.login_required(*ROLES)
def message_confirm(contact_id: int) -> Response:
    """The agent confirmed with the customer that they sent this email (audited)."""
    contact = _message(contact_id)
    if request.form.get("sender_confirmed") != "1":
        return _refused(contact, gettext(
            "Tick the box once the customer has confirmed that they sent this email."))
    try:
        inbox.confirm_sender(db(), settings(), contact, actor=auth.actor())
    except actions.ActionRefused as exc:
        return _refused(contact, translate(exc))
    db().commit()
    return _back(contact, gettext("The email now counts as the customer's own."))
