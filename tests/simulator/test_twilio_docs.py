"""The simulator against Twilio's documentation, one behaviour per test.

Each test names the documented behaviour it holds (``simulator/README.md`` lists them with
their pages). They are written so that a wrong reading, such as playing the ``<Queue url>``
document to the agent instead of the caller, fails them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Enqueue, Gather, VoiceResponse

from simulator import SimCall, Simulator, rest_client

from .conftest import ACCOUNT_SID, HOTLINE, TOKEN, Service, eventually
from .test_voice import say

AGENT = "+6285555555555"
CUSTOMER = "+6281234567890"


@pytest.fixture
def fast_sim(service: Service) -> Iterator[Simulator]:
    """Waiting for another party runs 20 times faster (a 5 s Dial timeout takes 0.5 s)."""
    s = Simulator(account_sid=ACCOUNT_SID, auth_token=TOKEN, service_url=service.url,
                  voice_url="/voice", status_url="/status", hotline=HOTLINE, wait_scale=0.05)
    s.start()
    yield s
    s.stop()


def _client(sim: Simulator) -> Client:
    return rest_client(ACCOUNT_SID, TOKEN, sim.api_url)


def _caller_in_queue(service: Service, name: str = "support", wait: bool = True) -> None:
    """The hotline enqueues every caller in ``name``; the wait music is a long pause."""
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.enqueue(name, action="/queue-done", wait_url="/wait" if wait else None)
        return r

    @service.route("/wait")
    def wait_doc(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.pause(length=5)
        return r

    service.route("/queue-done")(lambda f, a: say(f"result {f['QueueResult']}", hangup=True))


def _agent_dials(service: Service, queue: str = "support", url: str | None = None,
                 timeout: int | None = None) -> None:
    @service.route("/agent")
    def agent(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        d = Dial(action="/agent-done", timeout=timeout)
        d.queue(queue, url=url)
        r.append(d)
        return r

    service.route("/agent-done")(lambda f, a: say(f"dial {f['DialCallStatus']}", hangup=True))


def _queue_url(service: Service, then: str, hang_up: bool = False) -> None:
    """A caller waits in "support"; the agent dials it with a url document that says
    "menyambungkan" (then a <Hangup>, if asked) and redirects to ``then``."""
    _caller_in_queue(service)
    _agent_dials(service, url="/connecting")

    @service.route("/connecting")
    def connecting(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.say("menyambungkan")
        if hang_up:
            r.hangup()
        r.redirect(then)
        return r


def _ring_agent(sim: Simulator, service: Service) -> None:
    _client(sim).calls.create(to=AGENT, from_=HOTLINE, url=f"{service.url}/agent")


# --- <Say> ------------------------------------------------------------------------------

def test_say_keeps_voice_and_language_per_utterance(service: Service, sim: Simulator) -> None:
    """docs/voice/twiml/say: ``voice`` and ``language`` belong to each <Say>."""
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.say("Selamat datang", voice="Google.id-ID-Standard-A", language="id-ID")
        r.say("Welcome", voice="Google.en-US-Standard-C", language="en-US")
        return r

    call = sim.incoming_call()
    call.wait_ended(5)
    assert [(e["text"], e["voice"], e["language"]) for e in call.heard("say")] == [
        ("Selamat datang", "Google.id-ID-Standard-A", "id-ID"),
        ("Welcome", "Google.en-US-Standard-C", "en-US")]


# --- <Gather>, <Pause>, <Hangup> ----------------------------------------------------------

def test_gather_action_defaults_to_the_current_document(service: Service,
                                                         sim: Simulator) -> None:
    """docs/voice/twiml/gather: action defaults to the current document URL; Digits only
    (no undocumented parameters for the app to lean on)."""
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        if form.get("Digits"):
            r.say(f"got {form['Digits']}")
            return r
        r.append(Gather(num_digits=2))
        return r

    call = sim.incoming_call()
    call.wait_for_prompt(5)
    call.press("42")
    call.wait_ended(5)
    assert call.said == ["got 42"]
    posted = service.hits("/voice")[1]["form"]
    assert posted["Digits"] == "42" and "msg" not in posted


def test_pause_defaults_to_one_second_and_hangup_ends_the_call(service: Service,
                                                                sim: Simulator) -> None:
    """docs/voice/twiml/pause (length 1 by default) and docs/voice/twiml/hangup."""
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.pause()
        r.pause(length=3)
        r.hangup()
        r.say("never heard")
        return r

    call = sim.incoming_call()
    assert call.wait_ended(5) == "completed"
    assert [e["length"] for e in call.heard("pause")] == [1.0, 3.0] and call.said == []
    assert call.duration == 4


# --- status callbacks -------------------------------------------------------------------------

def test_an_inbound_call_reports_only_completed_with_call_duration(service: Service,
                                                                    sim: Simulator) -> None:
    """docs/voice/api/call-resource#statuscallback: the number's status callback hears the
    end; CallDuration (seconds) in every terminal event, Duration (minutes) when completed."""
    service.route("/voice")(lambda f, a: say("halo", hangup=True))
    sim.incoming_call().wait_ended(5)
    eventually(lambda: service.hits("/status"))
    [status] = service.hits("/status")
    assert status["form"]["CallStatus"] == "completed"
    assert status["form"]["CallDuration"] == "1" and status["form"]["Duration"] == "1"
    assert status["form"]["CallbackSource"] == "call-progress-events"


def test_an_unanswered_call_reports_call_duration_zero_and_no_minutes(service: Service,
                                                                      sim: Simulator) -> None:
    sim.set_outcome(CUSTOMER, "no-answer")
    _client(sim).calls.create(to=CUSTOMER, from_=HOTLINE, url=f"{service.url}/x",
                              status_callback=f"{service.url}/cs")
    sim.wait_for_call(to=CUSTOMER).wait_ended(5)
    eventually(lambda: service.hits("/cs"))
    [status] = service.hits("/cs")
    assert status["form"]["CallStatus"] == "no-answer"
    assert status["form"]["CallDuration"] == "0" and "Duration" not in status["form"]


# --- answering machines ---------------------------------------------------------------------

def test_without_machine_detection_a_voicemail_answers_like_a_person_and_presses_nothing(
        service: Service, sim: Simulator) -> None:
    """docs/voice/answering-machine-detection: AnsweredBy only when MachineDetection was asked
    for. Without it the app cannot tell; a voicemail never presses a key."""
    @service.route("/agent")
    def agent(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        g = Gather(num_digits=1, action="/accept", action_on_empty_result=True)
        g.say("Tekan 1")
        r.append(g)
        return r

    service.route("/accept")(lambda f, a: say(f"digits [{f['Digits']}]", hangup=True))
    sim.set_outcome(AGENT, "machine")
    _client(sim).calls.create(to=AGENT, from_=HOTLINE, url=f"{service.url}/agent")
    call = sim.wait_for_call(to=AGENT)
    call.wait_ended(5)
    assert "AnsweredBy" not in service.hits("/agent")[0]["form"]
    assert call.said[-1] == "digits []"


@pytest.mark.parametrize(("detection", "answered_by"), [("Enable", "machine_start"),
                                                        ("DetectMessageEnd", "machine_end_beep")])
def test_machine_detection_reports_the_documented_answered_by(service: Service, sim: Simulator,
                                                              detection: str,
                                                              answered_by: str) -> None:
    service.route("/cb")(lambda f, a: say("pesan", hangup=True))
    sim.set_outcome(CUSTOMER, "machine")
    _client(sim).calls.create(to=CUSTOMER, from_=HOTLINE, url=f"{service.url}/cb",
                              machine_detection=detection)
    sim.wait_for_call(to=CUSTOMER).wait_ended(5)
    assert service.hits("/cb")[0]["form"]["AnsweredBy"] == answered_by


# --- <Enqueue> and <Dial><Queue> ------------------------------------------------------------

def test_queue_url_document_allows_only_play_say_pause_redirect(service: Service,
                                                                sim: Simulator) -> None:
    """docs/voice/twiml/queue#attributes-url: "The allowed verbs in this TwiML document are
    Play, Say, Pause, and Redirect." A <Gather> or <Hangup> there is an error, skipped."""
    _queue_url(service, "/connecting-2", hang_up=True)
    service.route("/connecting-2")(lambda f, a: say("sebentar"))
    caller = sim.incoming_call()
    caller.wait_for(lambda c: sim.queue_size("support") == 1, 5)
    _ring_agent(sim, service)
    caller.wait_for(lambda c: c.bridged, 5)
    assert caller.said[-2:] == ["menyambungkan", "sebentar"]
    assert "Hangup" in caller.errors()[0]["message"] and not caller.ended
    caller.hang_up()


def test_wait_url_document_allows_only_the_documented_verbs(service: Service,
                                                           sim: Simulator) -> None:
    """docs/voice/twiml/enqueue#attributes-wait-url: a waitUrl document may hold Play, Say,
    Pause, Hangup, Redirect, Leave and Gather. An <Enqueue> there (an app answering its
    error turn to the wait music) is an error, skipped: the caller stays in the queue."""
    @service.route("/voice")
    def voice(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.enqueue("support", action="/queue-done", wait_url="/wait")
        return r

    @service.route("/wait")
    def wait_doc(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.say("maaf")
        r.enqueue("support")
        return r

    caller = sim.incoming_call()
    caller.wait_for(lambda c: any("Enqueue" in e["message"] for e in c.errors()), 5)
    assert "maaf" in caller.said and sim.queue_size("support") == 1 and not caller.ended
    caller.hang_up()


def test_dial_on_an_empty_queue_waits_for_the_next_caller(service: Service,
                                                          fast_sim: Simulator) -> None:
    """docs/voice/twiml/queue: "If the queue is empty, Dial will wait until the next person
    joins the queue"."""
    _caller_in_queue(service)
    _agent_dials(service, timeout=60)
    fast_sim.get_queue("support")  # the queue exists (queues persist), empty
    _ring_agent(fast_sim, service)
    agent = fast_sim.wait_for_call(to=AGENT)
    time.sleep(0.3)
    assert not agent.ended and not agent.bridged  # silence, not a quick "no-answer"
    caller = fast_sim.incoming_call()
    agent.wait_for(lambda c: c.bridged, 5)
    caller.hang_up()
    agent.wait_ended(5)
    assert agent.said == ["dial completed"]


def test_dial_on_an_empty_queue_times_out_after_timeout_plus_five_seconds(
        service: Service, fast_sim: Simulator) -> None:
    """docs/voice/twiml/dial#timeout: minimum 5 s, "Twilio always adds a five-second timeout
    buffer"; then DialCallStatus no-answer and no DialCallSid."""
    _agent_dials(service, timeout=1)  # raised to 5, plus 5: 10 s, i.e. 0.5 s at wait_scale
    fast_sim.get_queue("support")
    started = time.monotonic()
    _ring_agent(fast_sim, service)
    agent = fast_sim.wait_for_call(to=AGENT)
    agent.wait_ended(5)
    assert time.monotonic() - started >= 0.45
    assert agent.said == ["dial no-answer"]
    form = service.hits("/agent-done")[0]["form"]
    assert form["DialBridged"] == "false" and "DialCallSid" not in form


def test_dial_action_after_a_queue_names_the_caller_and_the_queue(service: Service,
                                                                  sim: Simulator) -> None:
    """docs/voice/twiml/dial#action: DialCallStatus, DialCallSid, DialCallDuration,
    DialBridged, and after a <Queue> its QueueSid and QueueTime."""
    _caller_in_queue(service)
    _agent_dials(service)
    caller = sim.incoming_call()
    caller.wait_for(lambda c: sim.queue_size("support") == 1, 5)
    _ring_agent(sim, service)
    caller.wait_for(lambda c: c.bridged, 5)
    caller.hang_up()
    eventually(lambda: service.hits("/agent-done"))
    form = service.hits("/agent-done")[0]["form"]
    assert form["DialCallStatus"] == "completed" and form["DialCallSid"] == caller.sid
    assert form["DialBridged"] == "true" and form["QueueSid"].startswith("QU")
    assert "QueueTime" in form and "DialCallDuration" in form


def _interrupted_queue_url(service: Service, sim: Simulator, hang_up: str) -> SimCall:
    """A caller in the queue, an agent dialling it; while the caller hears the url documents,
    ``hang_up`` ("caller" or "agent") puts the phone down. Returns the caller's leg."""
    _queue_url(service, "/connecting-hold")

    def hold(form: dict, args: dict) -> VoiceResponse:
        (caller if hang_up == "caller" else sim.find_calls(to=AGENT)[-1]).hang_up()
        time.sleep(0.2)  # the line is gone before the caller's next verb
        return say("sebentar")

    service.route("/connecting-hold")(hold)
    caller = sim.incoming_call()
    caller.wait_for(lambda c: sim.queue_size("support") == 1, 5)
    _ring_agent(sim, service)
    return caller


def test_a_caller_who_hangs_up_during_the_queue_url_never_reaches_the_agent(
        service: Service, sim: Simulator) -> None:
    """The dequeued caller hangs up while hearing the url document: their Enqueue action says
    "hangup" ("hung up before connecting to a dequeued call"); the agent's Dial is not
    bridged (docs silent on its status: the simulator says no-answer)."""
    caller = _interrupted_queue_url(service, sim, "caller")
    agent = sim.wait_for_call(to=AGENT)
    agent.wait_ended(5)
    caller.wait_ended(5)
    assert not agent.bridged and agent.said == ["dial no-answer"]
    assert service.hits("/queue-done")[0]["form"]["QueueResult"] == "hangup"


def test_an_agent_who_hangs_up_during_the_queue_url_leaves_the_caller_unbridged(
        service: Service, sim: Simulator) -> None:
    """Docs silent: the dequeued caller's Enqueue action gets "bridging-in-process" ("Twilio
    has been instructed to bridge the enqueued party"), never "bridged", and their TwiML goes
    on; the app must not count it as a conversation."""
    caller = _interrupted_queue_url(service, sim, "agent")
    caller.wait_ended(5)
    assert not caller.bridged
    assert service.hits("/queue-done")[0]["form"]["QueueResult"] == "bridging-in-process"
    assert caller.said[-1] == "result bridging-in-process"


def test_a_full_queue_refuses_the_caller_with_queue_full(service: Service,
                                                         sim: Simulator) -> None:
    """docs/voice/twiml/enqueue#attributes-action-parameters-queueresult: queue-full."""
    _caller_in_queue(service, "tiny")
    sim.get_queue("tiny").max_size = 1
    first = sim.incoming_call()
    first.wait_for(lambda c: sim.queue_size("tiny") == 1, 5)
    second = sim.incoming_call()
    second.wait_ended(5)
    assert second.said == ["result queue-full"]
    first.hang_up()


# --- Queues and Members REST -------------------------------------------------------------

def test_members_api_knows_who_waits_and_forgets_who_left(service: Service,
                                                          sim: Simulator) -> None:
    """docs/voice/api/member-resource: fetch by CallSid or ``Front``; a call no longer in the
    queue is a 404. docs/voice/api/queue-resource: queues persist; only an empty one can be
    deleted."""
    _caller_in_queue(service)
    caller = sim.incoming_call()
    caller.wait_for(lambda c: sim.queue_size("support") == 1, 5)
    client = _client(sim)
    [queue] = [q for q in client.queues.list() if q.friendly_name == "support"]
    assert queue.current_size == 1
    member = client.queues(queue.sid).members(caller.sid).fetch()
    assert member.call_sid == caller.sid and member.position == 1
    assert client.queues(queue.sid).members("Front").fetch().call_sid == caller.sid
    with pytest.raises(TwilioRestException) as busy:
        client.queues(queue.sid).delete()
    assert busy.value.status == 400
    caller.hang_up()
    caller.wait_ended(5)
    with pytest.raises(TwilioRestException) as gone:
        client.queues(queue.sid).members(caller.sid).fetch()
    assert gone.value.status == 404
    assert client.queues(queue.sid).fetch().current_size == 0
    assert client.queues(queue.sid).delete() is True
    with pytest.raises(TwilioRestException):
        client.queues(queue.sid).fetch()


# --- Calls REST ---------------------------------------------------------------------------------

def test_a_call_to_a_client_identity_is_accepted_and_an_ended_call_cannot_be_redirected(
        service: Service, sim: Simulator) -> None:
    """docs/voice/api/call-resource: To may be ``client:<identity>``; updating a call that is
    over is error 21220."""
    service.route("/agent")(lambda f, a: say("halo", hangup=True))
    client = _client(sim)
    created = client.calls.create(to="client:budi", from_=HOTLINE, url=f"{service.url}/agent")
    call = sim.wait_for_call(to="client:budi")
    call.wait_ended(5)
    with pytest.raises(TwilioRestException) as exc:
        client.calls(created.sid).update(url=f"{service.url}/agent")
    assert exc.value.code == 21220


# --- Messages -----------------------------------------------------------------------------------

def test_whatsapp_needs_whatsapp_on_both_ends(sim: Simulator) -> None:
    """docs/errors/21910: From and To must be on the same channel."""
    with pytest.raises(TwilioRestException) as exc:
        _client(sim).messages.create(to="whatsapp:" + CUSTOMER, from_=HOTLINE, body="hai")
    assert exc.value.status == 400 and exc.value.code == 21910
    assert sim.messages == []


def test_an_undelivered_message_reports_its_error_code(service: Service,
                                                       sim: Simulator) -> None:
    """docs/messaging/guides/outbound-message-status-in-status-callbacks: ``undelivered``
    with an ErrorCode (30003: unreachable handset)."""
    sim.set_message_outcome(CUSTOMER, "undelivered", 30003)
    msg = _client(sim).messages.create(to=CUSTOMER, from_=HOTLINE, body="x",
                                       status_callback=f"{service.url}/ms")
    eventually(lambda: len(service.hits("/ms")) == 2)
    assert [h["form"]["MessageStatus"] for h in service.hits("/ms")] == ["sent", "undelivered"]
    assert service.hits("/ms")[-1]["form"]["ErrorCode"] == "30003"
    assert _client(sim).messages(msg.sid).fetch().error_code == 30003


def test_an_inbound_whatsapp_message_names_its_sender_and_media(service: Service,
                                                                sim: Simulator) -> None:
    """docs/messaging/guides/webhook-request: From/To ``whatsapp:+…``, ProfileName, WaId,
    NumMedia, MediaUrl{n}, MediaContentType{n}; the media is fetched with the account's
    credentials (the stricter of Twilio's two media settings)."""
    @service.route("/sms")
    def sms(form: dict, args: dict) -> MessagingResponse:
        reply = MessagingResponse()
        reply.message("diterima")
        return reply

    bodies = sim.send_sms("whatsapp:" + CUSTOMER, "foto KTP",
                          media=[("image/jpeg", b"\xff\xd8jpeg")])
    assert bodies == ["diterima"]
    form = service.hits("/sms")[0]["form"]
    assert form["From"] == "whatsapp:" + CUSTOMER and form["To"] == "whatsapp:" + HOTLINE
    assert form["WaId"] == CUSTOMER.lstrip("+") and form["ProfileName"]
    assert form["NumMedia"] == "1" and form["MediaContentType0"] == "image/jpeg"
    assert requests.get(form["MediaUrl0"], timeout=5).status_code == 401
    media = requests.get(form["MediaUrl0"], auth=(ACCOUNT_SID, TOKEN), timeout=5)
    assert media.status_code == 200 and media.content == b"\xff\xd8jpeg"


def test_enqueue_helper_builds_what_the_simulator_reads() -> None:
    """The service builds TwiML only with twilio's helpers: the attribute names the simulator
    reads are the ones those helpers write (waitUrl, waitUrlMethod, action, method)."""
    xml = str(Enqueue("support", action="/a", method="POST", wait_url="/w",
                      wait_url_method="POST"))
    assert 'waitUrl="/w"' in xml and 'waitUrlMethod="POST"' in xml and 'action="/a"' in xml
