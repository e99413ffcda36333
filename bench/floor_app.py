"""The floor for the webhook benchmark: a bare Flask app that returns fixed TwiML.

No signature check, no database, no Redis: only Flask + gunicorn + one HTTP round trip, so
it is the fastest any Flask webhook can be on this machine. The TwiML is built once with
``twilio.twiml`` (a greeting and a one-key Gather, about the size of the real greeting) and
served as a string.

    gunicorn --chdir bench floor_app:app
"""

from __future__ import annotations

from flask import Flask, Response
from twilio.twiml.voice_response import VoiceResponse


def _greeting() -> str:
    response = VoiceResponse()
    response.say("Selamat datang di layanan pelanggan Cankul.", voice="Polly.Aditi",
                 language="id-ID")
    gather = response.gather(action="/twilio/voice/step?s=1", method="POST", input="dtmf",
                             timeout=5, finish_on_key="#", action_on_empty_result=True,
                             num_digits=1)
    gather.say("Tekan 1 untuk Bahasa Indonesia. Press 2 for English.", voice="Polly.Aditi",
               language="id-ID")
    return str(response)


TWIML = _greeting()
app = Flask(__name__)


@app.post("/twilio/voice/incoming")
def incoming() -> Response:
    return Response(TWIML, mimetype="application/xml")
