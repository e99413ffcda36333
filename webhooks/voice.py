"""Twilio voice webhooks: the IVR, the agent queue, agent legs and call status.

Order in each view (STYLE.md): signature (403) → input (400) → write and commit → enqueue →
TwiML. A failure on our side never reaches the caller as a 5xx: they hear an apology and are
queued for a person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from callcenter.callbacks import policy
from callcenter.models import Callback, Contact, Customer, Ticket
from callcenter.statuses import CallbackStatus
from callcenter.voice import agents, calls
from callcenter.voice.ivr import Ivr, Turn, greeting
from webhooks.context import content, db, settings
from webhooks.twilio_auth import twilio_signed
from webhooks.twiml import FlowUrls, render, render_hold
from workers import queues

bp = Blueprint("voice", __name__, url_prefix="/twilio/voice")
log = logging.getLogger(__name__)


def _twiml(response: VoiceResponse | str) -> Response:
    return Response(str(response), mimetype="application/xml")


def _urls(step: int) -> FlowUrls:
    return FlowUrls(
        step=url_for("voice.step", s=step),
        queue_wait=url_for("voice.queue_wait"),
        queue_result=url_for("voice.queue_result"),
        queue_choice=url_for("voice.queue_choice"),
        queue_name=settings().agent_queue_name,
    )


def _call_sid() -> str:
    sid = request.form.get("CallSid", "")
    if not (sid.startswith("CA") and 10 <= len(sid) <= 64 and sid.isalnum()):
        abort(400, "CallSid missing or malformed")
    return sid


def _respond(contact: Contact, turn: Turn) -> Response:
    """Render, remember the answer for Twilio's retries, commit, then hand work to workers."""
    step = int(contact.ivr_state.get("step", 0)) + 1
    contact.ivr_state = {**contact.ivr_state, "step": step}
    xml = str(render(turn, content(), _urls(step)))
    contact.last_response = xml
    session = db()
    session.commit()
    _after_commit(turn)
    return _twiml(xml)


def _after_commit(turn: Turn) -> None:
    current = settings()
    for message_id in turn.message_ids:
        queues.send_soon(current, "sms", message_id)
    _schedule_callbacks(turn.callback_ids)
    if turn.end == "enqueue":
        queues.enqueue_dispatch_agents(current, current.base_url)


def _schedule_callbacks(callback_ids: list[int]) -> None:
    """Jobs for committed callback rows; a failure here is repaired by the reconciler."""
    for callback_id in callback_ids:
        callback = db().get(Callback, callback_id)
        if callback is not None and callback.status == CallbackStatus.SCHEDULED:
            queues.schedule_soon(settings(), callback)


def _safely(view: Callable[..., Response]) -> Callable[..., Response]:
    """On any internal error: apologise, queue the caller for an agent, never a 5xx."""

    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except Exception as exc:
            if getattr(exc, "code", None) in (400, 403, 404):
                raise
            log.exception("voice webhook failed for CallSid %s", request.form.get("CallSid"))
            db().rollback()
            turn = Ivr(db(), settings(), content()).error_turn()
            xml = render(turn, content(), _urls(0))
            try:
                queues.enqueue_dispatch_agents(settings(), settings().base_url)
            except Exception:
                log.exception("could not dispatch agents after an error")
            return _twiml(xml)

    wrapper.__name__ = view.__name__
    return wrapper


@bp.post("/incoming")
@twilio_signed
@_safely
def incoming() -> Response:
    """A call comes in on the hotline: greet and offer the language.

    The greeting is the same for every caller, so this hot path (call arrival spikes) reads
    and writes nothing: the contact is opened by the caller's first answer, or by the status
    callback if they hang up during the greeting. A Twilio retry gets the same answer.
    """
    _call_sid()
    xml = current_app.config.get("GREETING_TWIML")
    if xml is None:
        xml = str(render(greeting(content()), content(), _urls(1)))
        current_app.config["GREETING_TWIML"] = xml
    return _twiml(xml)


@bp.post("/step")
@twilio_signed
@_safely
def step() -> Response:
    """The caller answered a Gather (or stayed silent)."""
    session = db()
    call_sid = _call_sid()
    if request.args.get("s", type=int) == 1:  # the first answer opens the call's contact
        contact, created = calls.begin_inbound(
            session, call_sid, request.form.get("From"), request.form.get("To"))
        if created:
            contact.ivr_state = Ivr.initial_state()
    else:
        contact = calls.find_call(session, call_sid)
        if contact is None:
            raise LookupError("step for an unknown call")
    expected = int(contact.ivr_state.get("step", 0))
    if request.args.get("s", type=int) != expected and contact.last_response:
        return _twiml(contact.last_response)  # a retry or a stale action: same answer again
    digits = request.form.get("Digits", "")
    turn = Ivr(session, settings(), content()).handle(contact, _clean_digits(digits))
    return _respond(contact, turn)


@bp.post("/queue/wait")
@twilio_signed
@_safely
def queue_wait() -> Response:
    """The agent queue's wait music: position, and a callback offer when the wait is long."""
    session = db()
    contact = calls.find_call(session, _call_sid())
    position = request.form.get("QueuePosition", type=int) or 1
    waited = request.form.get("QueueTime", type=int) or 0
    ivr = Ivr(session, settings(), content())
    turn = ivr.hold(contact, position, waited, agents.help_is_coming(session, position))
    session.rollback()
    return _twiml(render_hold(turn, content(), url_for("voice.queue_choice")))


@bp.post("/queue/choice")
@twilio_signed
@_safely
def queue_choice() -> Response:
    session = db()
    contact = calls.find_call(session, _call_sid())
    if contact is None:
        return _twiml(VoiceResponse())
    turn = Ivr(session, settings(), content()).hold_choice(
        contact, _clean_digits(request.form.get("Digits", "")) or "")
    session.commit()
    return _twiml(render_hold(turn, content(), url_for("voice.queue_choice")))


@bp.post("/queue/result")
@twilio_signed
@_safely
def queue_result() -> Response:
    """The caller left the queue (Enqueue action): bridged, callback wanted, or gone."""
    session = db()
    contact = calls.find_call(session, _call_sid())
    if contact is None:
        return _twiml(VoiceResponse())
    result = request.form.get("QueueResult", "error")
    key = f"queue-result:{contact.external_id}:{contact.ivr_state.get('step', 0)}"
    if not calls.first_time(session, key) and contact.last_response:
        return _twiml(contact.last_response)
    turn = Ivr(session, settings(), content()).queue_result(contact, result)
    return _respond(contact, turn)


@bp.post("/agent/answer")
@twilio_signed
@_safely
def agent_answer() -> Response:
    """An agent picked up: take the caller at the front of the queue, whisper first."""
    response = VoiceResponse()
    if request.form.get("AnsweredBy", "human").startswith("machine"):
        response.hangup()  # an agent's voicemail must not swallow a caller
        return _twiml(response)
    dial = response.dial(action=url_for("voice.agent_done"), method="POST")
    dial.queue(settings().agent_queue_name, url=url_for("voice.agent_whisper"), method="POST")
    return _twiml(response)


@bp.post("/agent/whisper")
@twilio_signed
@_safely
def agent_whisper() -> Response:
    """Heard by the agent only: ticket number, verified name, reason."""
    session = db()
    text = agents.connect(session, _call_sid(), request.form.get("DequeingCallSid", ""))
    session.commit()
    response = VoiceResponse()
    voice = content().voice("id")
    response.say(text, voice=voice["voice"], language=voice["language"])
    return _twiml(response)


@bp.post("/agent/done")
@twilio_signed
@_safely
def agent_done() -> Response:
    """The agent's Dial ended; with nobody dequeued, our waiting count was stale."""
    if request.form.get("DialCallStatus", "completed") != "completed":
        session = db()
        agents.queue_found_empty(session, _call_sid())
        session.commit()
    response = VoiceResponse()
    response.hangup()
    return _twiml(response)


@bp.post("/status")
@twilio_signed
def status() -> Response:
    """Call status callback (every call): close the contact, once per event."""
    _call_sid()
    session = db()
    try:
        effects = calls.record_status(session, settings(), request.form.to_dict(),
                                      callback_id=request.args.get("cb", type=int))
        session.commit()
    except Exception:
        session.rollback()
        log.exception("status callback failed for CallSid %s", request.form.get("CallSid"))
        return Response(status=204)  # 2xx: Twilio would only retry into the same failure
    _schedule_callbacks(effects.callback_ids)
    if effects.dispatch_agents:
        queues.enqueue_dispatch_agents(settings(), settings().base_url)
    return Response(status=204)


@bp.post("/callback/answer")
@twilio_signed
@_safely
def callback_answer() -> Response:
    """A callback call was answered: a person is verified, a machine gets a voicemail."""
    session = db()
    callback = session.get(Callback, request.args.get("cb", type=int) or 0)
    if callback is None:
        abort(400, "unknown callback")
    contact = policy.outbound_contact(session, callback, _call_sid())
    if contact.last_response:
        return _twiml(contact.last_response)
    ticket = session.get(Ticket, callback.ticket_id)
    customer = session.get(Customer, ticket.customer_id) if ticket and ticket.customer_id else None
    if ticket is None or customer is None:
        abort(400, "callback without a customer")
    answered_by = request.form.get("AnsweredBy", "human")
    contact.answered_by = answered_by[:30]
    ivr = Ivr(session, settings(), content())
    if answered_by.startswith("machine") or answered_by == "fax":
        turn = ivr.voicemail(contact, ticket)
    else:
        turn = ivr.start_callback(contact, ticket, customer)
    return _respond(contact, turn)


def _clean_digits(digits: str) -> str | None:
    kept = "".join(ch for ch in digits if ch.isdigit() or ch in "*")
    return kept[:32] or None
