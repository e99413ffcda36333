"""Every /twilio/* request is signed, retried requests have one effect, bad input is a 4xx."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from callcenter.models import Contact, WebhookEvent
from tests.factories import BUDI_PHONE, make_customer
from tests.support.twilio_client import incoming_params, new_call_sid, sign, signed_post
from webhooks.app import create_app


@pytest.fixture
def client(settings, session):
    return create_app(settings).test_client()


def _contacts(session) -> int:
    return session.scalar(select(func.count()).select_from(Contact))


@pytest.mark.parametrize("path", ["/twilio/voice/incoming", "/twilio/voice/step?s=1",
                                  "/twilio/voice/status", "/twilio/voice/queue/wait",
                                  "/twilio/voice/agent/answer", "/twilio/voice/agent/accept",
                                  "/twilio/voice/agent/bridge", "/twilio/voice/agent/done",
                                  "/twilio/voice/queue/connecting"])
def test_unsigned_requests_are_refused_and_change_nothing(client, session, path):
    response = client.post(path, data=incoming_params(new_call_sid()))
    assert response.status_code == 403
    assert _contacts(session) == 0


def test_forged_signature_is_refused(client, session):
    params = incoming_params(new_call_sid())
    forged = sign("http://localhost/twilio/voice/incoming", params, token="not-our-token")
    response = client.post("/twilio/voice/incoming", data=params,
                           headers={"X-Twilio-Signature": forged})
    assert response.status_code == 403
    assert _contacts(session) == 0


def test_tampered_parameters_break_the_signature(client, session):
    params = incoming_params(new_call_sid())
    signature = sign("http://localhost/twilio/voice/incoming", params)
    params["From"] = "+6289999999999"
    response = client.post("/twilio/voice/incoming", data=params,
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_signed_request_greets_the_caller(client, session):
    response = signed_post(client, "/twilio/voice/incoming", incoming_params(new_call_sid()))
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    body = response.get_data(as_text=True)
    assert "Selamat datang" in body and "<Gather" in body
    assert 'voice="Google.id-ID-Standard-A"' in body


def test_behind_a_proxy_the_public_url_is_what_is_signed(settings, session):
    app = create_app(replace(settings, public_base_url="https://hotline.example.co.id"))
    client = app.test_client()
    params = incoming_params(new_call_sid())
    ok = signed_post(client, "/twilio/voice/incoming", params,
                     base="https://hotline.example.co.id")
    assert ok.status_code == 200
    local = signed_post(client, "/twilio/voice/incoming", incoming_params(new_call_sid()))
    assert local.status_code == 403


@pytest.mark.parametrize("signed_as", ["https://hotline.example.co.id:443",
                                       "https://hotline.example.co.id"])
@pytest.mark.parametrize("configured", ["https://hotline.example.co.id",
                                        "https://hotline.example.co.id:443"])
def test_a_signature_over_the_url_with_or_without_its_port_is_let_in(settings, session,
                                                                      signed_as, configured):
    """Twilio signs the URL sometimes with the default port and sometimes without it: the
    URL as configured is checked first, its other form still passes."""
    client = create_app(replace(settings, public_base_url=configured)).test_client()
    params = incoming_params(new_call_sid())
    signature = sign(f"{signed_as}/twilio/voice/incoming", params)
    response = client.post("/twilio/voice/incoming", data=params,
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and "<Gather" in response.get_data(as_text=True)


def test_a_signature_header_that_is_not_ascii_is_refused_not_a_crash(client, session):
    params = incoming_params(new_call_sid())
    response = client.post("/twilio/voice/incoming", data=params,
                           headers={"X-Twilio-Signature": "sïgnatüre=="})
    assert response.status_code == 403


def test_twilio_retry_of_incoming_call_has_one_effect(client, session):
    sid = new_call_sid()
    first = signed_post(client, "/twilio/voice/incoming", incoming_params(sid))
    second = signed_post(client, "/twilio/voice/incoming", incoming_params(sid))
    assert first.get_data() == second.get_data()
    answer = {**incoming_params(sid), "CallStatus": "in-progress", "Digits": "1"}
    for _ in range(2):
        signed_post(client, "/twilio/voice/step?s=1", answer)
    assert _contacts(session) == 1


def test_caller_hanging_up_during_the_greeting_is_still_logged(client, session):
    """P1.5/X2: the greeting writes nothing, the status callback logs the call."""
    sid = new_call_sid()
    signed_post(client, "/twilio/voice/incoming", incoming_params(sid))
    status = {**incoming_params(sid), "CallStatus": "completed", "CallDuration": "3",
              "SequenceNumber": "0"}
    assert signed_post(client, "/twilio/voice/status", status).status_code == 204
    contact = session.scalars(select(Contact)).one()
    assert contact.external_id == sid and contact.ticket_id is not None
    assert contact.duration_s == 3


def test_retried_gather_answer_replays_instead_of_advancing(client, session):
    make_customer(session)
    sid = new_call_sid()
    signed_post(client, "/twilio/voice/incoming", incoming_params(sid))
    answer = {**incoming_params(sid), "CallStatus": "in-progress", "Digits": "1"}
    first = signed_post(client, "/twilio/voice/step?s=1", answer)
    retry = signed_post(client, "/twilio/voice/step?s=1", answer)
    assert first.status_code == retry.status_code == 200
    assert first.get_data() == retry.get_data()
    contact = session.scalars(select(Contact)).one()
    session.refresh(contact)
    assert contact.ivr_state["node"] == "ask_order"
    assert contact.menu_path == ["language:1"]


def test_duplicate_status_callbacks_count_once(client, session):
    make_customer(session)
    sid = new_call_sid()
    signed_post(client, "/twilio/voice/incoming", incoming_params(sid, BUDI_PHONE))
    status = {**incoming_params(sid, BUDI_PHONE), "CallStatus": "completed",
              "CallDuration": "42", "SequenceNumber": "3"}
    for _ in range(3):
        assert signed_post(client, "/twilio/voice/status", status).status_code == 204
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1
    contact = session.scalars(select(Contact)).one()
    session.refresh(contact)
    assert contact.status == "completed" and contact.duration_s == 42
    assert contact.ticket_id is not None  # every call is logged to a ticket (P1.5)


@pytest.mark.parametrize("call_sid", ["", "XX123", "CA' OR 1=1 --", "CA" + "x" * 100])
def test_malformed_call_sid_is_a_clear_400(client, session, call_sid):
    params = incoming_params("CA0")
    params["CallSid"] = call_sid
    response = signed_post(client, "/twilio/voice/incoming", params)
    assert response.status_code == 400
    assert response.is_json and "CallSid" in response.get_json()["message"]
    assert _contacts(session) == 0


def test_internal_error_apologises_and_queues_for_an_agent(settings, session, tmp_path):
    broken = replace(settings, database_url=f"sqlite:///{tmp_path / 'no-tables.sqlite3'}")
    client = create_app(broken).test_client()
    sid = new_call_sid()
    params = {**incoming_params(sid), "Digits": "1"}
    response = signed_post(client, "/twilio/voice/step?s=1", params)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Mohon maaf" in body
    assert "<Enqueue" in body and f"support-{sid}</Enqueue>" in body  # the caller's own queue


def test_unknown_call_at_a_later_step_gets_a_polite_answer(client, session):
    params = {**incoming_params(new_call_sid()), "Digits": "1"}
    response = signed_post(client, "/twilio/voice/step?s=4", params)
    assert response.status_code == 200
    assert "Mohon maaf" in response.get_data(as_text=True)


def _json_webhook(client, body: str, signed_body: str):
    """A JSON-bodied webhook as Twilio sends it: the URL carries the SHA-256 of the body it
    signed, and the signature covers that URL alone."""
    path = f"/twilio/messaging/status?bodySHA256={hashlib.sha256(signed_body.encode()).hexdigest()}"
    signature = sign("http://localhost" + path, {})
    return client.post(path, data=body, content_type="application/json",
                       headers={"X-Twilio-Signature": signature})


def test_a_json_webhook_whose_body_matches_its_signed_hash_is_let_in(client, session):
    body = json.dumps({"MessageSid": "SM" + "e" * 32, "MessageStatus": "delivered"})
    answer = _json_webhook(client, body, body)
    assert answer.status_code == 400  # past the signature: the view says what it lacks
    assert answer.is_json and answer.get_json()["error"] == "Bad Request"


def test_a_json_webhook_with_a_tampered_body_is_refused(client, session):
    """bodySHA256: the URL's signature alone does not vouch for a body it was not made for."""
    signed = json.dumps({"MessageSid": "SM" + "e" * 32, "MessageStatus": "delivered"})
    tampered = json.dumps({"MessageSid": "SM" + "e" * 32, "MessageStatus": "failed"})
    assert _json_webhook(client, tampered, signed).status_code == 403
    assert _json_webhook(client, signed + " ", signed).status_code == 403
