"""The REST API through the real ``twilio.rest.Client``: objects, errors, callbacks."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import Gather, VoiceResponse

from simulator import Simulator, WebhookError, rest_client

from .conftest import ACCOUNT_SID, HOTLINE, TOKEN, Service, eventually
from .test_voice import say

CUSTOMER = "+6281234567890"


def test_messages_create_fetch_and_status_callbacks(service: Service, sim: Simulator) -> None:
    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    msg = client.messages.create(
        to=CUSTOMER,
        from_=HOTLINE,
        body="Tiket PGD-1 diterima",
        status_callback=f"{service.url}/msg-status",
    )
    assert msg.sid.startswith("SM") and msg.status == "queued"
    assert msg.to == CUSTOMER and msg.body == "Tiket PGD-1 diterima"
    assert msg.date_created is not None and msg.direction == "outbound-api"
    assert sim.messages[0]["body"] == "Tiket PGD-1 diterima"
    wa = client.messages.create(
        to="whatsapp:" + CUSTOMER,
        from_="whatsapp:" + HOTLINE,
        body="hi",
        status_callback=f"{service.url}/msg-status",
    )
    assert wa.to == "whatsapp:" + CUSTOMER
    sim.wait_for_message(to=CUSTOMER)
    eventually(lambda: len(service.hits("/msg-status")) == 5)
    statuses = [h["form"]["MessageStatus"] for h in service.hits("/msg-status")]
    assert statuses.count("sent") == 2 and statuses.count("delivered") == 2
    assert statuses.count("read") == 1 and "queued" not in statuses  # no initial callback
    assert all(h["valid"] for h in service.hits("/msg-status"))
    assert client.messages(msg.sid).fetch().status == "delivered"


def test_bad_credentials_give_twilio_401(sim: Simulator) -> None:
    client = rest_client(ACCOUNT_SID, "wrong", sim.api_url)
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=CUSTOMER, from_=HOTLINE, body="x")
    assert exc.value.status == 401 and exc.value.code == 20003


def test_validation_errors(sim: Simulator) -> None:
    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to="0812345", from_=HOTLINE, body="x")
    assert exc.value.status == 400 and exc.value.code == 21211
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=CUSTOMER, from_=HOTLINE, body="")
    assert exc.value.code == 21602
    with pytest.raises(TwilioRestException) as exc:
        client.calls.create(to="not-a-number", from_=HOTLINE, url="http://127.0.0.1:1/x")
    assert exc.value.code == 21211
    with pytest.raises(TwilioRestException) as exc:
        client.calls("CA" + "f" * 32).fetch()
    assert exc.value.status == 404 and exc.value.code == 20404
    assert sim.calls == []  # nothing was dialled


def test_fail_next_then_success(sim: Simulator) -> None:
    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    sim.fail_next(1, status=500)
    sim.fail_next(1, status=429)
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=CUSTOMER, from_=HOTLINE, body="x")
    assert exc.value.status == 500 and exc.value.code == 20500
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=CUSTOMER, from_=HOTLINE, body="x")
    assert exc.value.status == 429 and exc.value.code == 20429
    assert client.messages.create(to=CUSTOMER, from_=HOTLINE, body="x").status == "queued"


def test_fail_after_create_places_the_call_and_answers_500(service: Service,
                                                          sim: Simulator) -> None:
    """docs/api/errors/20500: a 500 may come after the call was placed ("a timeout in the
    API"); the call exists and rings although the client was told it failed."""
    service.route("/outbound")(lambda f, a: say("halo", hangup=True))
    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    sim.fail_after_create(1, status=500)
    with pytest.raises(TwilioRestException) as exc:
        client.calls.create(to=CUSTOMER, from_=HOTLINE, url=f"{service.url}/outbound")
    assert exc.value.status == 500 and exc.value.code == 20500
    [placed] = client.calls.list(to=CUSTOMER)
    sim.get_call(placed.sid).wait_ended(5)
    assert sim.get_call(placed.sid).said == ["halo"]
    second = client.calls.create(to=CUSTOMER, from_=HOTLINE, url=f"{service.url}/outbound")
    assert second.status == "queued"  # one fault, then normal service


def test_outbound_call_status_callbacks_and_update(service: Service, sim: Simulator) -> None:
    @service.route("/outbound")
    def outbound(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        g = Gather(num_digits=1, action="/outbound-choice")
        g.say("Halo, ini pengingat pembayaran.")
        r.append(g)
        return r

    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    created = client.calls.create(
        to=CUSTOMER,
        from_=HOTLINE,
        url=f"{service.url}/outbound",
        status_callback=f"{service.url}/call-status?job=7",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        machine_detection="Enable",
    )
    assert created.sid.startswith("CA") and created.status == "queued"
    call = sim.wait_for_call(to=CUSTOMER)
    assert call.wait_for_prompt(5) == "Halo, ini pengingat pembayaran."
    assert client.calls(created.sid).fetch().status == "in-progress"
    url_form = service.hits("/outbound")[0]["form"]
    assert url_form["AnsweredBy"] == "human" and url_form["Direction"] == "outbound-api"
    assert url_form["CallStatus"] == "in-progress"
    updated = client.calls(created.sid).update(status="completed")
    assert updated.status == "completed"
    hits = service.hits("/call-status")
    assert all(h["valid"] and h["args"] == {"job": "7"} for h in hits)
    assert [h["form"]["CallStatus"] for h in hits] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [h["form"]["SequenceNumber"] for h in hits] == ["0", "1", "2", "3"]
    assert "CallDuration" in hits[-1]["form"] and "Duration" in hits[-1]["form"]
    assert hits[-1]["form"]["Timestamp"].endswith("+0000")


def test_redirect_live_call_via_rest(service: Service, sim: Simulator) -> None:
    @service.route("/outbound")
    def outbound(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.gather(num_digits=1).say("tunggu")
        return r

    service.route("/elsewhere")(lambda f, a: say("dialihkan"))
    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    sid = client.calls.create(to=CUSTOMER, from_=HOTLINE, url=f"{service.url}/outbound").sid
    call = sim.wait_for_call(to=CUSTOMER)
    call.wait_for_prompt(5)
    client.calls(sid).update(url=f"{service.url}/elsewhere", method="POST")
    assert call.wait_ended(5) == "completed"
    assert call.said == ["tunggu", "dialihkan"]


@pytest.mark.parametrize(
    ("outcome", "status"), [("busy", "busy"), ("no-answer", "no-answer"), ("failed", "failed")]
)
def test_unanswered_outcomes(service: Service, sim: Simulator, outcome: str, status: str) -> None:
    sim.set_outcome(CUSTOMER, outcome)
    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    client.calls.create(
        to=CUSTOMER,
        from_=HOTLINE,
        url=f"{service.url}/outbound",
        status_callback=f"{service.url}/call-status",
    )
    call = sim.wait_for_call(to=CUSTOMER)
    assert call.wait_ended(5) == status
    assert service.hits("/outbound") == []
    hits = service.hits("/call-status")
    assert [h["form"]["CallStatus"] for h in hits] == [status]
    assert hits[0]["form"]["SequenceNumber"] == "0"


def test_machine_outcome_hears_message(service: Service, sim: Simulator) -> None:
    @service.route("/outbound")
    def outbound(form: dict, args: dict) -> VoiceResponse:
        r = VoiceResponse()
        r.gather(num_digits=1).say("Tekan 1")
        r.say(f"pesan untuk {form['AnsweredBy']}")
        return r

    sim.set_outcome(CUSTOMER, "machine")
    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    client.calls.create(
        to=CUSTOMER,
        from_=HOTLINE,
        url=f"{service.url}/outbound",
        machine_detection="DetectMessageEnd",
    )
    call = sim.wait_for_call(to=CUSTOMER)
    assert call.wait_ended(5) == "completed"
    assert call.said == ["Tekan 1", "pesan untuk machine_end_beep"]
    assert client.calls(call.sid).fetch().answered_by == "machine_end_beep"


def test_inbound_sms(service: Service, sim: Simulator) -> None:
    @service.route("/sms")
    def sms(form: dict, args: dict) -> str:
        from twilio.twiml.messaging_response import MessagingResponse

        r = MessagingResponse()
        r.message(f"Terima kasih: {form['Body']} dari {form['From']}")
        return str(r)

    assert sim.send_sms(from_=CUSTOMER, body="halo") == [f"Terima kasih: halo dari {CUSTOMER}"]
    wa = sim.send_sms(from_="whatsapp:" + CUSTOMER, body="hai")
    assert wa == [f"Terima kasih: hai dari whatsapp:{CUSTOMER}"]
    assert service.hits("/sms")[1]["form"]["To"] == "whatsapp:" + HOTLINE
    service.token = "other"
    with pytest.raises(WebhookError) as exc:
        sim.send_sms(from_=CUSTOMER, body="x")
    assert exc.value.status == 403


def test_call_list_filters_by_number_and_start_time(service: Service, sim: Simulator) -> None:
    from datetime import UTC, datetime, timedelta

    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    sim.set_outcome("+6281200000001", "busy")
    sim.set_outcome("+6281200000002", "busy")
    before = datetime.now(UTC) - timedelta(seconds=1)
    first = client.calls.create(to="+6281200000001", from_=HOTLINE, url=f"{service.url}/x")
    client.calls.create(to="+6281200000002", from_=HOTLINE, url=f"{service.url}/x")
    found = client.calls.list(to="+6281200000001", start_time_after=before)
    assert [c.sid for c in found] == [first.sid]
    later = datetime.now(UTC) + timedelta(hours=1)
    assert client.calls.list(to="+6281200000001", start_time_after=later) == []


def test_held_response_places_the_call_before_the_client_hears_back(
    service: Service, sim: Simulator
) -> None:
    import threading

    client = rest_client(ACCOUNT_SID, TOKEN, sim.api_url)
    sim.set_outcome(CUSTOMER, "busy")
    sim.hold_call_responses()
    answers: list[str] = []
    worker = threading.Thread(target=lambda: answers.append(client.calls.create(
        to=CUSTOMER, from_=HOTLINE, url=f"{service.url}/x").sid))
    worker.start()
    placed = sim.wait_for_call(to=CUSTOMER)
    assert answers == []  # Twilio placed it; the client has not heard yet
    sim.release_call_responses()
    worker.join(5)
    assert answers == [placed.sid]
