"""Voice access tokens: "Agents using a Twilio Client identity get a Voice access
token from the service (twilio.jwt.access_token with a VoiceGrant)"."""

from __future__ import annotations

import time

import jwt
import pytest

from callcenter.config import Settings
from callcenter.voice import agents
from tests.console.conftest import Console
from webhooks.app import create_app

KEY_SID = "SK" + "a" * 32
KEY_SECRET = "a-test-api-key-secret-of-some-length"
APP_SID = "AP" + "b" * 32


@pytest.fixture
def configured(monkeypatch, env, session) -> Console:
    monkeypatch.setenv("TWILIO_API_KEY_SID", KEY_SID)
    monkeypatch.setenv("TWILIO_API_KEY_SECRET", KEY_SECRET)
    monkeypatch.setenv("TWILIO_TWIML_APP_SID", APP_SID)
    return Console(create_app(Settings.from_env()), session)


def _browser_agent(session, identity: str = "sari-desk"):
    agent = agents.add_agent(session, "Sari", client_identity=identity)
    session.commit()
    return agent


def test_a_browser_agent_gets_a_one_hour_token_for_her_identity(configured, session, env):
    agent = _browser_agent(session)
    client = configured.signed_in("sari", "agent", agent_id=agent.id)
    before = int(time.time())
    reply = client.get("/console/voice-token")
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    body = reply.get_json()
    assert body["identity"] == "sari-desk"
    claims = jwt.decode(body["token"], KEY_SECRET, algorithms=["HS256"])
    assert claims["iss"] == KEY_SID and claims["sub"] == env["TWILIO_ACCOUNT_SID"]
    assert claims["grants"]["identity"] == "sari-desk"
    assert claims["grants"]["voice"] == {"incoming": {"allow": True},
                                         "outgoing": {"application_sid": APP_SID}}
    assert before + 3600 <= claims["exp"] <= int(time.time()) + 3600 + 1
    header = jwt.get_unverified_header(body["token"])
    assert header["cty"] == "twilio-fpa;v=1"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(body["token"], "x" * len(KEY_SECRET), algorithms=["HS256"])


def test_an_agent_on_a_phone_number_is_told_why_there_is_no_token(configured, session):
    agent = agents.add_agent(session, "Sari", phone="+628110000001")
    session.commit()
    reply = configured.signed_in("sari", "agent", agent_id=agent.id).get("/console/voice-token")
    assert reply.status_code == 409
    assert "Twilio Client identity" in reply.get_json()["message"]
    assert "token" not in reply.get_json()


def test_a_user_not_linked_to_an_agent_gets_no_token(configured):
    reply = configured.signed_in("ani", "agent").get("/console/voice-token")
    assert reply.status_code == 409 and "not linked to an agent" in reply.get_json()["message"]


def test_without_an_api_key_the_service_says_what_to_configure(console, session):
    agent = _browser_agent(session)
    reply = console.signed_in("sari", "agent", agent_id=agent.id).get("/console/voice-token")
    assert reply.status_code == 503
    message = reply.get_json()["message"]
    assert "TWILIO_API_KEY_SID" in message and "TWILIO_TWIML_APP_SID" in message


def test_only_agents_and_signed_in_people_get_tokens(configured, session):
    agent = _browser_agent(session)
    boss = configured.signed_in("boss", "supervisor", agent_id=agent.id)
    assert boss.get("/console/voice-token").status_code == 403
    stranger = configured.client().get("/console/voice-token")
    assert stranger.status_code == 302 and "/console/login" in stranger.headers["Location"]
