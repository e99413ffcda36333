"""Inbound calls driven through TwiML: signatures, Gather, Redirect, queues, bridges."""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, Enqueue, Gather, VoiceResponse

from simulator import APP_ERROR_TEXT, Simulator, rest_client

from .conftest import ACCOUNT_SID, HOTLINE, TOKEN, Service


def say(*texts: str, hangup: bool = False) -> VoiceResponse:
    r = VoiceResponse()
    for t in texts:
        r.say(t)
    if hangup:
        r.hangup()
    return r


def test_signed_webhooks_with_twilio_params(service: Service, sim: Simulator) -> None:
    service.route("/voice")(lambda f, a: say("Selamat datang", hangup=True))
    call = sim.incoming_call(from_="+6281234567890")
    assert call.wait_ended(5) == "completed"
    assert call.said == ["Selamat datang"]
    assert call.errors() == []
    first = service.hits("/voice")[0]
    assert first["valid"]
    form = first["form"]
    assert form["CallStatus"] == "ringing"
    assert form["Direction"] == "inbound"
    assert form["From"] == form["Caller"] == "+6281234567890"
    assert form["To"] == form["Called"] == HOTLINE
    assert form["FromCountry"] == form["ToCountry"] == "ID"
    assert form["AccountSid"] == ACCOUNT_SID and form["ApiVersion"] == "2010-04-01"
    assert form["CallSid"] == call.sid and call.sid.startswith("CA") and len(call.sid) == 34
    status = service.hits("/status")
    assert len(status) == 1 and status[0]["valid"]
    assert status[0]["form"]["CallStatus"] == "completed"
    assert status[0]["form"]["SequenceNumber"] == "0"
    assert status[0]["form"]["CallbackSource"] == "call-progress-events"
    assert int(status[0]["form"]["CallDuration"]) >= 1


def test_wrong_token_is_an_application_error(service: Service, sim: Simulator) -> None:
    service.token = "some-other-token"
    service.route("/voice")(lambda f, a: say("never"))
    call = sim.incoming_call(from_=None)
    call.wait_ended(5)
    assert call.errors()[0]["status"] == 403
    assert call.said == [APP_ERROR_TEXT]
    assert service.hits("/voice")[0]["form"]["From"] == "anonymous"


def test_unparseable_twiml_is_an_application_error(service: Service, sim: Simulator) -> None:
    service.route("/voice")(lambda f, a: "<html>oops</html>")
    call = sim.incoming_call()
    call.wait_ended(5)
    assert call.errors() and call.said[-1] == APP_ERROR_TEXT


def test_gather_digits_finish_key_and_num_digits(service: Service, sim: Simulator) -> None:
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        g = Gather(action="/menu", num_digits=1)
        g.say("Tekan 1 untuk pengaduan.")
        r.append(g)
        return r

    @service.route("/menu")
    def menu(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        g = Gather(action="/loan", finish_on_key="#")
        g.say(f"Anda memilih {form['Digits']}. Masukkan nomor pinjaman.")
        r.append(g)
        return r

    service.route("/loan")(lambda f, a: say(f"Nomor {f['Digits']}", hangup=True))

    call = sim.incoming_call()
    assert call.wait_for_prompt(5) == "Tekan 1 untuk pengaduan."
    call.press("19")  # numDigits=1: only "1" is delivered
    assert call.wait_for_prompt(5) == "Anda memilih 1. Masukkan nomor pinjaman."
    call.press("12345#")
    assert call.wait_ended(5) == "completed"
    assert call.said[-1] == "Nomor 12345"
    menu_form = service.hits("/menu")[0]["form"]
    assert menu_form["Digits"] == "1" and "FinishedOnKey" not in menu_form
    assert menu_form["CallStatus"] == "in-progress"
    loan_form = service.hits("/loan")[0]["form"]
    assert loan_form["Digits"] == "12345" and loan_form["FinishedOnKey"] == "#"
    assert [e["type"] for e in call.events].count("gather") == 2


def test_gather_no_input_falls_through_or_posts_empty(service: Service, sim: Simulator) -> None:
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        g = Gather(action="/never", num_digits=1, timeout=3)
        g.say("Pilih menu.")
        r.append(g)
        g2 = Gather(action="/empty", action_on_empty_result=True, num_digits=1)
        g2.say("Sekali lagi.")
        r.append(g2)
        return r

    service.route("/empty")(lambda f, a: say(f"kosong [{f['Digits']}]"))
    call = sim.incoming_call()
    assert call.wait_for_prompt(5) == "Pilih menu."
    call.no_input()
    assert call.wait_for_prompt(5) == "Sekali lagi."
    call.no_input()
    call.wait_ended(5)
    assert service.hits("/never") == []
    assert service.hits("/empty")[0]["form"]["Digits"] == ""
    assert call.said[-1] == "kosong []"


def test_redirect_keeps_query_string_and_signature(service: Service, sim: Simulator) -> None:
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.redirect("step?lang=id&name=a%20b")
        return r

    service.route("/step")(lambda f, a: say(f"{a['lang']} {a['name']}", hangup=True))
    call = sim.incoming_call()
    call.wait_ended(5)
    hit = service.hits("/step")[0]
    assert hit["valid"] and hit["args"] == {"lang": "id", "name": "a b"}
    assert call.said == ["id a b"]
    assert call.errors() == []


def _queue_app(service: Service) -> None:
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.say("Mohon tunggu.")
        r.enqueue("support", wait_url="/wait", action="/queue-done")
        r.say("after enqueue")
        return r

    @service.route("/wait")
    def wait(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        g = Gather(action="/wait-choice", num_digits=1, timeout=5)
        g.say(f"Posisi {form['QueuePosition']}. Tekan 1 untuk ditelepon balik.")
        r.append(g)
        r.pause(length=5)
        return r

    @service.route("/wait-choice")
    def wait_choice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        if form["Digits"] == "1":
            r.leave()
        return r

    @service.route("/queue-done")
    def done(form: dict, args: dict) -> VoiceResponse:
        return say(f"Hasil {form['QueueResult']}", hangup=True)


def test_enqueue_wait_loop_and_leave(service: Service, sim: Simulator) -> None:
    _queue_app(service)
    call = sim.incoming_call()
    assert call.wait_for_prompt(5) == "Mohon tunggu. Posisi 1. Tekan 1 untuk ditelepon balik."
    assert sim.queue_size("support") == 1
    call.no_input()  # wait TwiML continues (Pause) and the wait URL is requested again
    assert call.wait_for_prompt(5).startswith("Posisi 1.")
    call.press("1")
    assert call.wait_ended(5) == "completed"
    assert call.said[-1] == "Hasil leave"
    waits = service.hits("/wait")
    assert len(waits) >= 2
    form = waits[0]["form"]
    for key in ("QueueSid", "QueuePosition", "QueueTime", "AvgQueueTime", "CurrentQueueSize"):
        assert key in form
    assert form["QueueSid"].startswith("QU") and form["CurrentQueueSize"] == "1"
    done = service.hits("/queue-done")[0]["form"]
    assert done["QueueResult"] == "leave" and done["QueueSid"] == form["QueueSid"]
    assert sim.queue_size("support") == 0


def test_hangup_in_queue_posts_queue_result_hangup(service: Service, sim: Simulator) -> None:
    _queue_app(service)
    call = sim.incoming_call()
    call.wait_for_prompt(5)
    call.hang_up()
    assert call.wait_ended(5) == "completed"
    assert service.hits("/queue-done")[0]["form"]["QueueResult"] == "hangup"
    assert service.hits("/status")[-1]["form"]["CallStatus"] == "completed"
    assert "Hasil hangup" not in call.said  # TwiML after a hang-up is ignored


def test_queue_url_document_plays_to_the_dequeued_caller_not_the_agent(
        service: Service, sim: Simulator) -> None:
    """twilio.com/docs/voice/twiml/queue#attributes-url: "executed on the queued caller's end
    before the two parties are connected"."""
    _queue_app(service)

    @service.route("/agent")
    def agent(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        d = Dial(action="/agent-done")
        d.queue("support", url="/whisper")
        r.append(d)
        return r

    @service.route("/whisper")
    def whisper(form: dict, args: dict) -> VoiceResponse:
        return say(f"Anda menunggu {form['QueueTime']} detik")

    service.route("/agent-done")(lambda f, a: say("selesai", hangup=True))

    caller = sim.incoming_call(from_="+6281111111111")
    caller.wait_for_prompt(5)  # the caller sits in the wait Gather
    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    created = client.calls.create(to="+6285555555555", from_=HOTLINE, url=f"{service.url}/agent")
    agent_call = sim.wait_for_call(to="+6285555555555")
    assert agent_call.sid == created.sid
    agent_call.wait_for(lambda c: any(e["type"] == "bridge" for e in c.events), 5)
    caller.wait_for(lambda c: any(e["type"] == "bridge" for e in c.events), 5)
    assert agent_call.said == []  # the agent hears nothing of the url document
    assert caller.said[-1].startswith("Anda menunggu")
    w = service.hits("/whisper")[0]["form"]
    assert w["CallSid"] == caller.sid and w["DequeingCallSid"] == agent_call.sid
    assert w["QueueSid"].startswith("QU") and "QueueTime" in w
    assert sim.queue_size("support") == 0

    agent_call.hang_up()
    assert agent_call.wait_ended(5) == "completed"
    assert caller.wait_ended(5) == "completed"
    done = service.hits("/queue-done")[0]["form"]
    assert done["QueueResult"] == "bridged" and done["CallSid"] == caller.sid
    assert caller.said[-1] == "Hasil bridged"  # caller's TwiML continued after the agent left
    dial = service.hits("/agent-done")[0]["form"]
    assert dial["DialCallStatus"] == "completed" and dial["DialCallSid"] == caller.sid
    assert "selesai" not in agent_call.said  # the agent hung up: Dial action TwiML ignored
    assert caller.errors() == [] and agent_call.errors() == []


def test_caller_hangup_ends_bridge_and_agent_dial_continues(
    service: Service, sim: Simulator
) -> None:
    _queue_app(service)

    @service.route("/agent")
    def agent(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        d = Dial(action="/agent-done")
        d.queue("support")
        r.append(d)
        return r

    service.route("/agent-done")(lambda f, a: say(f"status {f['DialCallStatus']}"))
    caller = sim.incoming_call()
    caller.wait_for_prompt(5)
    rest_client(ACCOUNT_SID, TOKEN, sim.api_url).calls.create(
        to="+6285555555555", from_=HOTLINE, url=f"{service.url}/agent"
    )
    caller.wait_for(lambda c: any(e["type"] == "bridge" for e in c.events), 5)
    caller.hang_up()
    agent_call = sim.wait_for_call(to="+6285555555555")
    assert agent_call.wait_ended(5) == "completed"
    assert agent_call.said == ["status completed"]
    caller.wait_ended(5)
    assert service.hits("/queue-done")[0]["form"]["QueueResult"] == "bridged"


def test_dial_on_a_queue_that_does_not_exist_posts_failed(service: Service,
                                                           sim: Simulator) -> None:
    """twilio.com/docs/voice/twiml/queue: "If the queue does not exist, Dial will post an
    error status to its action URL"."""
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        d = Dial(action="/dial-done")
        d.queue("nobody")
        r.append(d)
        return r

    service.route("/dial-done")(lambda f, a: say(f["DialCallStatus"]))
    call = sim.incoming_call()
    call.wait_ended(5)
    assert call.said == ["failed"]


def test_dial_number_child_leg(service: Service, sim: Simulator) -> None:
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        d = Dial(action="/dial-done", caller_id=HOTLINE)
        d.number("+6287777777777")
        r.append(d)
        return r

    service.route("/dial-done")(lambda f, a: say(f["DialCallStatus"]))
    call = sim.incoming_call()
    leg = sim.wait_for_call(to="+6287777777777", direction="outbound-dial")
    leg.wait_for(lambda c: c.status == "in-progress", 5)
    leg.hang_up()
    call.wait_ended(5)
    assert call.said == ["completed"]
    assert service.hits("/dial-done")[0]["form"]["DialCallSid"] == leg.sid

    sim.set_outcome("+6287777777777", "busy")
    call2 = sim.incoming_call()
    call2.wait_ended(5)
    assert call2.said == ["busy"]


def test_enqueue_without_wait_url_and_auto_agent_hangup(service: Service) -> None:
    sim = Simulator(
        account_sid=ACCOUNT_SID,
        auth_token=TOKEN,
        service_url=service.url,
        voice_url="/voice",
        status_url="/status",
        auto_agent_hangup_after=0.2,
    ).start()
    try:

        @service.route("/voice")
        def voice(form: dict, args: dict) -> VoiceResponse:
            r = VoiceResponse()
            r.append(Enqueue("support"))
            r.say("agent left")
            return r

        @service.route("/agent")
        def agent(form: dict, args: dict) -> VoiceResponse:
            r = VoiceResponse()
            d = Dial()
            d.queue("support")
            r.append(d)
            return r

        caller = sim.incoming_call()
        caller.wait_for(lambda c: sim.queue_size("support") == 1, 5)
        rest_client(ACCOUNT_SID, TOKEN, sim.api_url).calls.create(
            to="+6285555555555", from_=HOTLINE, url=f"{service.url}/agent"
        )
        assert caller.wait_ended(5) == "completed"
        assert caller.said == ["agent left"]  # no action: continues after <Enqueue>
    finally:
        sim.stop()
