"""Console: finishing the wrap-up card of the agent's last call (P1.7, P1.8).

``POST /console/wrap-up``: the card's form (:mod:`callcenter.voice.wrap_up`): note, category,
"anything else?" asked, the summary given and the next step, which is one of the ticket
actions the ticket page uses. All or nothing: a refused step writes nothing and the card
stays. Then the agent is offered calls again at once (the dispatcher is kicked).
"""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from callcenter.i18n import Msg
from callcenter.models import Agent
from callcenter.tickets import actions
from callcenter.voice import wrap_up
from webhooks.console.auth import current_user, login_required, safe_next
from webhooks.console.blueprint import bp
from webhooks.context import content, db, settings
from webhooks.i18n import gettext, translate
from webhooks.params import row_id
from workers import queues

log = logging.getLogger(__name__)


@bp.post("/wrap-up")
@login_required("agent", "supervisor")
def finish_wrap_up() -> Response:
    """Finish the card; back to the page the agent was on, with what happened."""
    user = current_user()
    session, current = db(), settings()
    agent = session.get(Agent, user.agent_id) if user.agent_id is not None else None
    if agent is None:
        abort(403, Msg("Your user is not linked to an agent."))
    back = safe_next(request.form.get("next")) or url_for("console.home")
    leg = row_id(request.form.get("leg", ""))
    if leg is not None and leg != agent.wrap_up_leg_id:
        flash(gettext("That call's wrap-up is already finished."), "info")
        return redirect(back, code=303)
    form = request.form
    try:
        answers = wrap_up.Answers(
            note=form.get("text", ""), category=form.get("category", ""),
            anything_else_asked=form.get("anything_else") == "1",
            summary=form.get("summary", ""),
            next_step=form.get("next_step", wrap_up.NextStep.WAIT),
            call_at=actions.parse_local(form.get("call_at"), current.timezone),
            documents=actions.document_names(form.get("documents", "")))
        done = wrap_up.finish(session, current, content(), user, agent, answers)
    except actions.ActionRefused as exc:
        session.rollback()
        flash(translate(exc), "error")
        return redirect(back, code=303)
    session.commit()
    if done.callback is not None and done.callback.created:
        queues.schedule_soon(current, done.callback.callback)
    if done.documents is not None:
        queues.send_soon(current, "sms", done.documents.sms_id)
    notice = done.resolved.notice if done.resolved is not None else None
    if notice is not None:
        queues.send_soon(current, notice.outbox, notice.id)
    if done.dispatch:
        try:
            queues.enqueue_dispatch_agents(current)
        except Exception:
            log.exception("could not dispatch agents after agent %s wrapped up", agent.id)
    flash(gettext("Wrap-up finished. You can take the next call."), "success")
    return redirect(back, code=303)
