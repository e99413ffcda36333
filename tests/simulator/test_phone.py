"""The terminal phone, driven with StringIO instead of a keyboard."""

from __future__ import annotations

import io

from twilio.twiml.voice_response import Gather, VoiceResponse

from simulator import Simulator
from simulator.phone import run_phone

from .conftest import Service


def test_phone_session(service: Service, sim: Simulator) -> None:
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        g = Gather(action="/menu", num_digits=1)
        g.say("Selamat datang. Tekan 1.")
        r.append(g)
        r.say("Tidak ada pilihan.")
        r.redirect("/voice")
        return r

    @service.route("/menu")
    def menu(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.say(f"Anda menekan {form['Digits']}.")
        r.enqueue("support", wait_url="/wait")
        return r

    @service.route("/wait")
    def wait(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.gather(num_digits=1, timeout=10).say("Mohon tunggu.")
        return r

    out = io.StringIO()
    status = run_phone(sim.control_url, "0812-3456-7890", io.StringIO("\n1\nq\n"), out)
    assert status == "completed"
    text = out.getvalue()
    assert "IVR: Selamat datang. Tekan 1." in text
    assert "IVR: Tidak ada pilihan." in text
    assert "IVR: Anda menekan 1." in text
    assert "[in queue, position 1]" in text
    assert text.rstrip().endswith("[call ended: completed]")
    assert "> " in text
    assert sim.calls[0].from_ == "+6281234567890"
