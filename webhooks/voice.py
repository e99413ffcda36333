"""Twilio voice webhooks: the IVR, the agent queue, agent legs and call status.

Order in each view (STYLE.md): signature (403) → input (400) → write and commit → enqueue →
TwiML. A failure on our side never reaches the caller as a 5xx: they hear an apology and are
queued for a person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from callcenter.callbacks import policy
from callcenter.models import Callback, Contact, Customer, Ticket
from callcenter.statuses import CallbackStatus, CallStatus, QueueState
from callcenter.voice import agents, call_state, calls
from callcenter.voice.call_state import CallState
from callcenter.voice.ivr import Ivr, Turn, greeting
from webhooks import twiml
from webhooks.context import content, db, settings
from webhooks.twilio_auth import signed_url, twilio_signed
from webhooks.twiml import FlowUrls, render, render_hold
from workers import call_status, queues

bp = Blueprint("voice", __name__, url_prefix="/twilio/voice")
log = logging.getLogger(__name__)


def _twiml(response: VoiceResponse | str) -> Response:
    return Response(str(response), mimetype="application/xml")


def _urls(step: int) -> FlowUrls:
    """The action URLs a turn names. Each ``url_for`` costs ~30 µs and every IVR step needs
    four; they depend only on the step and the app's root, so each app keeps them."""
    cache: dict[tuple[str, int], tuple[str, str, str, str]] = current_app.extensions.setdefault(
        "voice_flow_urls", {})
    key = (request.script_root, step)
    urls = cache.get(key)
    if urls is None:
        urls = (url_for("voice.step", s=step), url_for("voice.queue_wait"),
                url_for("voice.queue_result"), url_for("voice.queue_choice"))
        if len(cache) < 1000:  # steps are small numbers; never unbounded
            cache[key] = urls
    return FlowUrls(
        step=urls[0], queue_wait=urls[1], queue_result=urls[2], queue_choice=urls[3],
        queue_name=agents.caller_queue(settings().agent_queue_name,
                                       request.form.get("CallSid", "")),
    )


def _call_sid() -> str:
    sid = request.form.get("CallSid", "")
    if not (sid.startswith("CA") and 10 <= len(sid) <= 64 and sid.isalnum()):
        abort(400, "CallSid missing or malformed")
    return sid


def _respond(contact: Contact | CallState, turn: Turn) -> Response:
    """Render, remember the answer for Twilio's retries, commit, then hand work to workers."""
    xml = _answered(contact, turn)
    session = db()
    if isinstance(contact, CallState):
        call_state.save(session, contact)  # one UPDATE; the ORM's changes flush at commit
    session.commit()
    _after_commit(turn)
    return _twiml(xml)


def _answered(contact: Contact | CallState, turn: Turn) -> str:
    """The turn's TwiML, kept on the call with the step it asks for next."""
    step = int(contact.ivr_state.get("step", 0)) + 1
    contact.ivr_state = {**contact.ivr_state, "step": step}
    xml = str(render(turn, content(), _urls(step)))
    contact.last_response = xml
    return xml


def _after_commit(turn: Turn) -> None:
    current = settings()
    for message_id in turn.message_ids:
        queues.send_soon(current, "sms", message_id)
    _schedule_callbacks(turn.callback_ids)
    if turn.end == "enqueue":
        queues.enqueue_dispatch_agents(current)


def _schedule_callbacks(callback_ids: list[int]) -> None:
    """Jobs for committed callback rows; a failure here is repaired by the reconciler."""
    for callback_id in callback_ids:
        callback = db().get(Callback, callback_id)
        if callback is not None and callback.status == CallbackStatus.SCHEDULED:
            queues.schedule_soon(settings(), callback)


def _on_error(fallback: Callable[[], Response]) -> Callable[[Callable[..., Response]],
                                                           Callable[..., Response]]:
    """Any internal error of the view: log, roll back, answer ``fallback()``, never a 5xx."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except Exception as exc:
                if getattr(exc, "code", None) in (400, 403, 404):
                    raise
                log.exception("voice webhook failed for CallSid %s", request.form.get("CallSid"))
                db().rollback()
                return fallback()

        wrapper.__name__ = view.__name__
        return wrapper

    return decorate


def _apologise_and_queue() -> Response:
    """The caller hears an apology and is queued for an agent."""
    turn = Ivr(db(), settings(), content()).error_turn()
    xml = render(turn, content(), _urls(0))
    try:
        queues.enqueue_dispatch_agents(settings())
    except Exception:
        log.exception("could not dispatch agents after an error")
    return _twiml(xml)


def _end_agent_leg() -> Response:
    """The agent's leg ends; a caller they had accepted goes back to waiting when it does.
    Never the caller's error turn: that would queue the agent like a customer."""
    response = VoiceResponse()
    response.hangup()
    return _twiml(response)


def _keep_holding() -> Response:
    """The wait music failed (the database is down): the caller stays in their queue and
    hears that an agent will take them, then a pause before the next request. The error
    turn's ``<Enqueue>`` is not allowed in a waitUrl document (Twilio's <Enqueue> docs)."""
    hold = Turn(lang="id", say=content().speech("id", "to_agent"), end="hold")
    return _twiml(render_hold(hold, content(), url_for("voice.queue_choice")))


def _connect_unannounced() -> Response:
    """The ``<Queue url>`` document: the caller is connected without the announcement."""
    return _twiml(VoiceResponse())


_safely = _on_error(_apologise_and_queue)


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
    # The call's state through Core (callcenter.voice.call_state): the columns a step uses,
    # one SELECT and one UPDATE, not the ORM's whole contact.
    digits = _clean_digits(request.form.get("Digits", ""))
    if request.args.get("s", type=int) == 1:
        # The first answer opens the call's contact. Its node (language) only reads, so it runs
        # first and one INSERT writes the contact with the step's state; when the contact
        # exists (a retry, or opened by the status callback or the queue), it goes as below.
        call = call_state.fresh(session, call_sid, request.form.get("From"),
                                request.form.get("To"))
        call.ivr_state = Ivr.initial_state()
        turn = Ivr(session, settings(), content()).handle(call, digits)
        xml = _answered(call, turn)
        if call_state.insert(session, call):
            session.commit()
            _after_commit(turn)
            return _twiml(xml)
    found = call_state.find(session, call_sid)
    if found is None:
        raise LookupError("step for an unknown call")
    contact = found
    expected = int(contact.ivr_state.get("step", 0))
    if request.args.get("s", type=int) != expected and contact.last_response:
        return _twiml(contact.last_response)  # a retry or a stale action: same answer again
    turn = Ivr(session, settings(), content()).handle(contact, digits)
    return _respond(contact, turn)


@bp.post("/queue/wait")
@twilio_signed
@_on_error(_keep_holding)
def queue_wait() -> Response:
    """The agent queue's wait music: position, and a callback offer when the wait is long.

    Each caller has a queue of their own, so the position is counted in our books. The
    request itself proves the caller is in Twilio's queue: its SID is kept for the agent's
    check, and a caller our books had given up on is waiting again.
    """
    session = db()
    call_sid = _call_sid()
    contact = calls.find_call(session, call_sid)
    if contact is None:  # queued by the error turn before anything was written down
        contact, _ = calls.begin_inbound(session, call_sid, request.form.get("From"),
                                         request.form.get("To"))
    back = agents.in_twilio_queue(contact, request.form.get("QueueSid"))
    calls.ticket_for_queued_caller(session, settings(), contact)
    position = agents.queue_position(session, contact)
    waited = request.form.get("QueueTime", type=int) or 0
    ivr = Ivr(session, settings(), content())
    turn = ivr.hold(contact, position, waited, agents.help_is_coming(session, position))
    xml = render_hold(turn, content(), url_for("voice.queue_choice"))
    session.commit()  # the queue SID (once), or a caller our books did not count as waiting
    if back:
        queues.enqueue_dispatch_agents(settings())
    return _twiml(xml)


@bp.post("/queue/choice")
@twilio_signed
@_on_error(_keep_holding)
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
    response = _respond(contact, turn)
    queue_sid = request.form.get("QueueSid", "")
    if queue_sid:  # the caller's own queue is empty for good: Twilio keeps queues until deleted
        current = settings()
        response.call_on_close(lambda: agents.delete_queue(current, queue_sid))
    return response


@bp.post("/queue/connecting")
@twilio_signed
@_on_error(_connect_unannounced)
def queue_connecting() -> Response:
    """The agent's ``<Queue url>``: Twilio runs it on the caller's side, just before the
    bridge (CallSid is the caller, DequeingCallSid the agent). The caller hears, in their own
    language, that they are being connected; both legs are linked on the ticket."""
    session = db()
    caller = agents.connect(session, _call_sid(), request.form.get("DequeingCallSid", ""))
    lang = (caller.ivr_state or {}).get("lang", "id") if caller is not None else "id"
    session.commit()
    speech = content().speech(lang, "agent_connecting")
    return _twiml(twiml.render_speech(speech, content(), lang, hang_up=False))


def _agent_leg() -> Contact:
    leg = agents.find_leg(db(), _call_sid())
    if leg is None:
        abort(400, "not an agent leg")
    return leg


def _to_agent(key: str, *, then: str | None = None) -> Response:
    """Words for the agent, in the agents' language; then a redirect, or hang up."""
    lang = content().agent_language
    return _twiml(twiml.render_speech(content().speech(lang, key), content(), lang, then=then))


@bp.post("/agent/answer")
@twilio_signed
@_on_error(_end_agent_leg)
def agent_answer() -> Response:
    """The agent's phone was answered: "press 1 to accept". Nobody is bridged before a key
    press, so an agent's voicemail never takes a caller (no answering-machine detection
    needed, and the agent waits for nothing)."""
    session = db()
    leg = _agent_leg()
    if agents.callers_waiting(session) == 0 and agents.offered_caller(session, leg) is None:
        agents.caller_gone(session, leg)
        session.commit()
        return _to_agent("agent_caller_gone")
    lang = content().agent_language
    offer = content().speech(lang, "agent_offer")
    return _twiml(twiml.render_offer(offer, content(), lang, url_for("voice.agent_accept")))


@bp.post("/agent/accept")
@twilio_signed
@_on_error(_end_agent_leg)
def agent_accept() -> Response:
    """The agent's key: 1 takes the longest-waiting caller still in Twilio's queue, whose
    whisper the agent hears now, on their own leg; anything else (or silence) sets them away.
    """
    session = db()
    leg = _agent_leg()
    if _clean_digits(request.form.get("Digits", "")) != "1":
        agents.not_accepted(session, leg)
        session.commit()
        return _to_agent("agent_not_accepted")
    caller = agents.offer_next_caller(session, settings(), leg)
    if caller is None:
        session.commit()
        return _to_agent("agent_caller_gone")
    speech = agents.whisper(session, content(), caller)
    session.commit()
    lang = content().agent_language
    return _twiml(twiml.render_speech(speech, content(), lang, then=url_for("voice.agent_bridge")))


@bp.post("/agent/bridge")
@twilio_signed
@_on_error(_end_agent_leg)
def agent_bridge() -> Response:
    """After the whisper: if the caller is still waiting, dial their queue; if they hung up
    meanwhile, the agent hears so at once and is free again."""
    session = db()
    leg = _agent_leg()
    caller = agents.offered_caller(session, leg)
    if caller is None or caller.queue_state != QueueState.OFFERED or not caller.external_id:
        agents.caller_gone(session, leg)
        session.commit()
        return _to_agent("agent_caller_gone")
    session.rollback()
    queue_name = agents.caller_queue(settings().agent_queue_name, caller.external_id)
    return _twiml(twiml.render_bridge(queue_name, url_for("voice.agent_done"),
                                      url_for("voice.queue_connecting")))


@bp.post("/agent/done")
@twilio_signed
@_on_error(_end_agent_leg)
def agent_done() -> Response:
    """The agent's Dial ended. Without a bridge the caller's queue was empty or gone (they
    hung up in the last moment): the agent is told, and the leg ends."""
    if request.form.get("DialCallStatus", "") == CallStatus.COMPLETED:
        response = VoiceResponse()
        response.hangup()
        return _twiml(response)
    session = db()
    agents.caller_gone(session, _agent_leg())
    session.commit()
    return _to_agent("agent_caller_gone")


@bp.post("/status")
@twilio_signed
def status() -> Response:
    """Call status callback (every call): close the contact, once per event.

    When it cannot be applied now (the database is down) the signed request is spooled in
    Redis and applied by the sweep when the database answers (``workers.call_status``):
    Twilio's own retries end within 15 s. Only if Redis fails too is the answer a 503 (the
    sweep then asks Twilio's Calls API about the silent call).
    """
    _call_sid()
    session = db()
    try:
        effects = calls.record_status(session, settings(), request.form.to_dict(),
                                      callback_id=request.args.get("cb", type=int))
        session.commit()
    except Exception:
        log.exception("status callback failed for CallSid %s; spooling it",
                      request.form.get("CallSid"))
        with suppress(Exception):
            session.rollback()
        kept = call_status.spool(settings(), signed_url(), request.form.to_dict(flat=False),
                                 request.headers.get("X-Twilio-Signature", ""))
        return Response(status=204 if kept else 503)
    _schedule_callbacks(effects.callback_ids)
    if effects.dispatch_agents:
        queues.enqueue_dispatch_agents(settings())
    if effects.dispatch_at is not None:
        queues.dispatch_agents_at(settings(), effects.dispatch_at)
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
