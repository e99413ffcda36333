"""The terminal phone, driven with StringIO instead of a keyboard."""

from __future__ import annotations

import io
import threading

from twilio.twiml.voice_response import Gather, VoiceResponse

from simulator import Simulator, rest_client
from simulator.phone import answer_phone, run_phone

from .conftest import ACCOUNT_SID, HOTLINE, TOKEN, Service, eventually
from .test_voice import say


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


def test_a_terminal_answering_a_number_takes_over_from_the_simulated_agent(
        service: Service) -> None:
    """``callcenter call --answer`` on an agent's number: the person at the terminal hears
    the offer and presses the key; the simulated agent on that number stands aside until the
    terminal hangs up, and takes the next call again."""
    agent = "+628110000001"
    sim = Simulator(account_sid=ACCOUNT_SID, auth_token=TOKEN, service_url=service.url,
                    voice_url="/voice", hotline=HOTLINE, auto_agents=[agent]).start()
    try:
        @service.route("/offer")
        def offer(form: dict, args: dict) -> VoiceResponse:
            r = VoiceResponse()
            g = Gather(action="/accepted", num_digits=1)
            g.say("Tekan 1 untuk menerima panggilan.")
            r.append(g)
            return r

        service.route("/accepted")(lambda f, a: say(f"Diterima dengan {f['Digits']}.",
                                                    hangup=True))
        out = io.StringIO()
        phone = threading.Thread(target=answer_phone, args=(sim.control_url, agent,
                                                            io.StringIO("1\n"), out),
                                 kwargs={"poll_interval": 0.05, "timeout": 10})
        phone.start()
        eventually(lambda: agent in sim.held_numbers)
        client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
        client.calls.create(to=agent, from_=HOTLINE, url=f"{service.url}/offer")
        phone.join(10)
        text = out.getvalue()
        assert "IVR: Tekan 1 untuk menerima panggilan." in text
        assert "IVR: Diterima dengan 1." in text
        assert not sim.find_calls(to=agent)[0].heard("input_auto")  # the person pressed it
        assert agent not in sim.held_numbers
        client.calls.create(to=agent, from_=HOTLINE, url=f"{service.url}/offer")
        second = sim.find_calls(to=agent)[-1]
        second.wait_ended(5)
        assert second.heard("input_auto") and second.said[-1] == "Diterima dengan 1."
    finally:
        sim.stop()
