"""IVR turns and the agent's leg rendered as TwiML, only through ``twilio.twiml``."""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import Gather, VoiceResponse

from callcenter.content import Content, Speech
from callcenter.voice.ivr import Turn

HOLD_PAUSE_S = 15
AGENT_ACCEPT_TIMEOUT_S = 8  # the agent's keypad: "press 1 to accept"
# The backstop when the accepted caller vanished between our check and the bridge: Twilio's
# <Dial><Queue> waits this long (+5 s, Twilio's buffer) on an empty queue, not its default 30.
AGENT_DIAL_TIMEOUT_S = 5


@dataclass(frozen=True)
class FlowUrls:
    step: str
    queue_wait: str
    queue_result: str
    queue_choice: str
    queue_name: str


def _say(parent: VoiceResponse | Gather, speech: Speech, voice: dict[str, str],
         content: Content) -> None:
    """One ``<Say>`` in the call's voice, or in the voice of the language the speech names."""
    # Digits are spaced so any voice reads them one by one (ticket and VA numbers).
    text = " ".join(speech.text) if speech.digits else speech.text
    if speech.lang is not None:
        voice = content.voice(speech.lang)
    parent.say(text, voice=voice["voice"], language=voice["language"])


def render(turn: Turn, content: Content, urls: FlowUrls) -> VoiceResponse:
    voice = content.voice(turn.lang)
    response = VoiceResponse()
    for speech in turn.say:
        _say(response, speech, voice, content)
    if turn.end == "gather" and turn.gather is not None:
        spec = turn.gather
        options: dict[str, object] = {
            "action": urls.step,
            "method": "POST",
            "input": "dtmf",
            "timeout": spec.timeout,
            "finish_on_key": spec.finish_on_key,
            "action_on_empty_result": True,
        }
        if spec.num_digits:
            options["num_digits"] = spec.num_digits
        gather = response.gather(**options)
        for speech in spec.prompts:
            _say(gather, speech, voice, content)
    elif turn.end == "enqueue":
        response.enqueue(urls.queue_name, action=urls.queue_result, method="POST",
                         wait_url=urls.queue_wait, wait_url_method="POST")
    elif turn.end == "leave":
        response.leave()
    elif turn.end == "hold":
        response.pause(length=HOLD_PAUSE_S)
    else:
        response.hangup()
    return response


def render_hold(turn: Turn, content: Content, choice_url: str) -> VoiceResponse:
    """The queue's wait document: position, or the callback offer as a Gather."""
    voice = content.voice(turn.lang)
    response = VoiceResponse()
    for speech in turn.say:
        _say(response, speech, voice, content)
    if turn.gather is not None:
        gather = response.gather(action=choice_url, method="POST", input="dtmf",
                                 num_digits=1, timeout=turn.gather.timeout)
        for speech in turn.gather.prompts:
            _say(gather, speech, voice, content)
    elif turn.end == "leave":
        response.leave()
    else:
        response.pause(length=HOLD_PAUSE_S)
    return response


def render_speech(speech: list[Speech], content: Content, lang: str, *,
                  then: str | None = None, hang_up: bool = True) -> VoiceResponse:
    """Say ``speech`` in ``lang``; then redirect to ``then`` (POST), or hang up (or neither:
    a ``<Queue url>`` document allows only Play, Say, Pause and Redirect)."""
    voice = content.voice(lang)
    response = VoiceResponse()
    for part in speech:
        _say(response, part, voice, content)
    if then is not None:
        response.redirect(then, method="POST")
    elif hang_up:
        response.hangup()
    return response


def render_offer(speech: list[Speech], content: Content, lang: str,
                 accept_url: str) -> VoiceResponse:
    """The agent's phone was answered: "press 1 to accept". With no key the action still runs
    (``actionOnEmptyResult``), so a voicemail that picked up is told apart at once."""
    response = VoiceResponse()
    gather = response.gather(action=accept_url, method="POST", input="dtmf", num_digits=1,
                             timeout=AGENT_ACCEPT_TIMEOUT_S, action_on_empty_result=True)
    voice = content.voice(lang)
    for part in speech:
        _say(gather, part, voice, content)
    return response


def render_bridge(queue_name: str, done_url: str, connecting_url: str) -> VoiceResponse:
    """The agent dials the one caller's queue; ``url`` plays on the caller's side."""
    response = VoiceResponse()
    dial = response.dial(action=done_url, method="POST", timeout=AGENT_DIAL_TIMEOUT_S)
    dial.queue(queue_name, url=connecting_url, method="POST")
    return response
