"""Presence and calls: the agent's available/busy/away switch, the screen pop of the
call being put through to them, and the Voice access token for browser agents.

- ``POST /console/presence``: sets ``Agent.presence`` (routing offers calls only to
  ``available`` agents) and, when the agent becomes available, kicks the dispatcher so a caller
  already waiting is routed to them at once. The change is
  :func:`callcenter.voice.agents.choose_presence`, as ``callcenter agents available``, which
  writes the ``set_presence`` audit row.
- ``GET /console/pop``: the live region's HTML fragment, polled every 2 s by every agent page
  (2 queries at most, see callcenter/screen_pop.py; 204 when nothing changed). The first time
  a leg's caller identity is shown, one ``screen_pop`` audit row is written. After the call
  it is the wrap-up card (finished with ``POST /console/wrap-up``, webhooks/console/wrap_up.py).
- ``GET /console/voice-token``: JSON ``{"identity", "token"}`` for the Twilio Voice JS SDK.

Two context-processor callables put the widgets on every console page of an agent user:
``presence_widget()`` (top bar) and ``screen_pop_region()`` (the live region).
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from sqlalchemy import select

from callcenter import display
from callcenter.i18n import Msg
from callcenter.labels import label
from callcenter.models import Agent, AuditEntry, Contact, User
from callcenter.people.users import has_role
from callcenter.statuses import Presence
from callcenter.tickets import actions
from callcenter.voice import agents, screen_pop, wrap_up
from callcenter.voice.voice_token import TOKEN_TTL_S, VoiceTokenError, voice_token
from webhooks.console.auth import actor, current_user, login_required, record, safe_next
from webhooks.console.blueprint import bp
from webhooks.context import db, settings
from webhooks.i18n import gettext, translate
from workers import queues

log = logging.getLogger(__name__)

NOTE_ROLES = ("agent", "supervisor")  # as the ticket page's note box
PRESENCE_LABELS = {Presence.AVAILABLE: "Available", Presence.BUSY: "Busy",
                   Presence.AWAY: "Away"}


def _agent_of(user: User | None) -> Agent | None:
    if user is None or user.agent_id is None:
        return None
    return db().get(Agent, user.agent_id)


def _back(target: str | None) -> str:
    """Back to the page the form was on: a console path only (never an open redirect)."""
    return safe_next(target) or url_for("console.home")


@bp.post("/presence")
@login_required()
def set_presence() -> Response:
    """The agent chooses available, busy or away; routing follows at once."""
    agent = _agent_of(current_user())
    if agent is None:
        abort(403, Msg("Your user is not linked to an agent."))
    choice = request.form.get("presence", "")
    if choice not in PRESENCE_LABELS:
        flash(gettext("Choose Available, Busy or Away."), "error")
        return redirect(_back(request.form.get("next")))
    session = db()
    agents.choose_presence(session, agent, choice, actor=actor())
    session.commit()
    message = gettext("Presence set to %(presence)s.",
                      presence=translate(label("presence", choice)))
    if choice == Presence.AVAILABLE:
        # Like a finished call does (webhooks/voice.py): a caller already waiting in the queue
        # is routed now, not when the next caller arrives. The dispatcher is a no-op if nobody
        # waits or the agent is still on a call.
        try:
            queues.enqueue_dispatch_agents(settings())
        except Exception:
            log.exception("could not dispatch agents after agent %s became available", agent.id)
            message += " " + gettext("Routing will pick you up with the next caller.")
    flash(message, "success")
    return redirect(_back(request.form.get("next")))


@bp.get("/pop")
@login_required()
def screen_pop_fragment() -> Response:
    """The current call of the signed-in agent, as an HTML fragment (htmx swaps it in); after
    the call, its wrap-up card until the agent finishes it (:mod:`callcenter.voice.wrap_up`)."""
    user = current_user()
    session = db()
    pop = screen_pop.current_pop(session, user.agent_id) if user.agent_id is not None else None
    agent = session.get(Agent, user.agent_id) if user.agent_id is not None else None
    card = wrap_up.current_card(session, agent) if pop is None and agent is not None else None
    if pop is not None and pop.shows_identity:
        subject = (f"ticket:{pop.ticket.number}" if pop.ticket is not None
                   else f"contact:{pop.leg.id}")
        _audit_first_showing(subject, pop.leg, pop.leg_sid)
    elif card is not None and card.customer is not None:
        # The card shows more of the customer than the pop did (other tickets, contacts).
        subject = (f"ticket:{card.ticket.number}" if card.ticket is not None
                   else f"contact:{card.leg.id}")
        _audit_first_showing(subject, card.leg, f"{card.leg.external_id} wrap-up",
                             marker="wrap-up:")
    here = _here()
    if card is not None:
        html = render_template("console/presence/wrap_up.html", card=card, here=here,
                               ticket_url=_ticket_url, **wrap_up_choices())
    else:
        html = render_template("console/presence/pop.html", pop=pop, ticket_url=_ticket_url,
                               local=_local_time, here=here, max_note=actions.MAX_NOTE,
                               may_note=has_role(user, *NOTE_ROLES))
    if agent is not None:  # the top bar's "On a call" follows the pop (htmx out-of-band swap)
        html += render_template("console/presence/call_badge.html", oob=True,
                                **_call_state(agent, pop is not None))
    # Unchanged since the last poll: 204, htmx swaps nothing, so screen readers do not hear
    # the live region again every 2 s. The fragment carries its own fingerprint, swapped out
    # of band into the input the region sends back (hx-include="#pop-seen").
    seen = fingerprint(html)
    if request.args.get("seen") == seen:
        response = Response(status=204)
    else:
        html += (f'<input type="hidden" id="pop-seen" name="seen" value="{seen}" '
                 'hx-swap-oob="true">')
        response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


CSRF_VALUE = re.compile(r'(name="csrf_token" value=")[^"]*(")')


def fingerprint(html: str) -> str:
    """What the agent sees, without the forms' CSRF tokens (signed afresh at each render,
    valid for the whole sign-in): an unchanged pop with a note box is still unchanged."""
    return hashlib.sha256(CSRF_VALUE.sub(r"\1\2", html).encode()).hexdigest()[:20]


def wrap_up_choices() -> dict[str, Any]:
    """The wrap-up card's lists, in the page's language."""
    return {
        "categories": [(code, translate(label("category", code) or code))
                       for code in actions.category_choices()],
        "steps": [(wrap_up.NextStep.WAIT, gettext("Keep the ticket open (waiting for the "
                                                  "customer's email or a check)")),
                  (wrap_up.NextStep.RESOLVE, gettext("Resolve with the summary")),
                  (wrap_up.NextStep.CALLBACK, gettext("Schedule a callback")),
                  (wrap_up.NextStep.DOCUMENTS, gettext("Wait for documents"))],
        "max_note": actions.MAX_NOTE, "max_summary": actions.MAX_SUMMARY,
    }


def _here() -> str:
    """The console page the region is on (htmx names it), for the pop's forms to return to."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    target = current.path + (f"?{current.query}" if current.query else "")
    return safe_next(target) or url_for("console.home")


def _call_state(agent: Agent, on_call: bool) -> dict[str, Any]:
    return {"on_call": on_call, "agent_presence": agent.presence,
            "presence_label": PRESENCE_LABELS.get(agent.presence, agent.presence),
            "wrapping_up": not on_call and agents.in_wrap_up(agent)}


def _audit_first_showing(subject: str, leg: Contact, detail: str | None,
                         marker: str = "") -> None:
    """One ``screen_pop`` audit row per agent leg (and ``marker``: the live pop, the wrap-up
    card), however often the region refreshes."""
    current = settings()
    prefix = current.queue_prefix + marker
    redis: Any = queues.redis_connection(current)
    try:
        first = screen_pop.first_showing(redis, prefix, leg)
    except Exception:
        # Redis down: the audit trail itself says whether this leg was shown (one more query).
        log.warning("screen pop: Redis unavailable, checking the audit trail instead")
        redis = None
        first = db().scalars(select(AuditEntry.id).where(
            AuditEntry.subject == subject, AuditEntry.action == "screen_pop",
            AuditEntry.detail == detail).limit(1)).first() is None
    if not first:
        return
    try:
        record("screen_pop", subject, detail)
        db().commit()
    except Exception:
        db().rollback()
        if redis is not None:
            screen_pop.forget_showing(redis, prefix, leg)
        raise


def _local_time(value: datetime | None) -> str:
    """A time in the centre's zone (stored in UTC)."""
    return display.local_time(value, settings().timezone, "%d %b %H:%M", empty="-")


def _ticket_url(number: str) -> str:
    if "console.ticket_page" in current_app.view_functions:
        return url_for("console.ticket_page", number=number)
    return f"/console/tickets/{number}"


@bp.get("/voice-token")
@login_required("agent")
def voice_access_token() -> tuple[Response, int] | Response:
    """A Twilio Voice access token for the agent's Client identity (one hour)."""
    try:
        identity, token = voice_token(settings(), _agent_of(current_user()))
    except VoiceTokenError as exc:
        return jsonify({"error": "no voice token", "message": str(exc)}), exc.status
    response = jsonify({"identity": identity, "token": token, "ttl": TOKEN_TTL_S})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def presence_context() -> dict[str, Any]:
    """``presence_widget()`` and ``screen_pop_region()`` for console/base.html."""

    def presence_widget() -> Markup:
        user = g.get("user")
        agent = _agent_of(user)
        if agent is None:
            return Markup("")
        return Markup(render_template("console/presence/widget.html", agent=agent,
                                      labels=PRESENCE_LABELS, here=request.full_path.rstrip("?"),
                                      **_call_state(agent, bool(agent.current_call_sid))))

    def screen_pop_region() -> Markup:
        user = g.get("user")
        if user is None or user.agent_id is None:
            return Markup("")
        return Markup(render_template("console/presence/region.html"))

    return {"presence_widget": presence_widget, "screen_pop_region": screen_pop_region}
