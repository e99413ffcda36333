"""IVR turns rendered as TwiML, only through ``twilio.twiml``."""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import Gather, VoiceResponse

from callcenter.content import Content, Speech
from callcenter.voice.ivr import Turn

HOLD_PAUSE_S = 15


@dataclass(frozen=True)
class FlowUrls:
    step: str
    queue_wait: str
    queue_result: str
    queue_choice: str
    queue_name: str


def _say(parent: VoiceResponse | Gather, speech: Speech, voice: dict[str, str]) -> None:
    # Digits are spaced so any voice reads them one by one (ticket and VA numbers).
    text = " ".join(speech.text) if speech.digits else speech.text
    parent.say(text, voice=voice["voice"], language=voice["language"])


def render(turn: Turn, content: Content, urls: FlowUrls) -> VoiceResponse:
    voice = content.voice(turn.lang)
    response = VoiceResponse()
    for speech in turn.say:
        _say(response, speech, voice)
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
            _say(gather, speech, voice)
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
        _say(response, speech, voice)
    if turn.gather is not None:
        gather = response.gather(action=choice_url, method="POST", input="dtmf",
                                 num_digits=1, timeout=turn.gather.timeout)
        for speech in turn.gather.prompts:
            _say(gather, speech, voice)
    elif turn.end == "leave":
        response.leave()
    else:
        response.pause(length=HOLD_PAUSE_S)
    return response
