"""Twilio Voice access tokens for agents who take calls in the browser.

An agent registered with a Twilio Client identity (``Agent.client_identity``) is dialled as
``client:<identity>``; the Voice JS SDK in their browser needs a short-lived access token with
a VoiceGrant for that identity. The token is signed with an API key (never the auth token).
"""

from __future__ import annotations

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from callcenter.config import Settings
from callcenter.models import Agent

TOKEN_TTL_S = 3600


class VoiceTokenError(ValueError):
    """No token can be issued; ``status`` is the HTTP answer (409 the agent, 503 the setup)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def voice_token(settings: Settings, agent: Agent | None, ttl: int = TOKEN_TTL_S) -> tuple[str, str]:
    """``(identity, jwt)`` for ``agent``; VoiceTokenError when it cannot be issued."""
    if agent is None:
        raise VoiceTokenError("your user is not linked to an agent", 409)
    if not agent.client_identity:
        raise VoiceTokenError("this agent takes calls on a phone number, not in the browser "
                              "(no Twilio Client identity)", 409)
    missing = [name for name, value in (
        ("TWILIO_API_KEY_SID", settings.twilio_api_key_sid),
        ("TWILIO_API_KEY_SECRET", settings.twilio_api_key_secret),
        ("TWILIO_TWIML_APP_SID", settings.twilio_twiml_app_sid)) if not value]
    if missing:
        raise VoiceTokenError("browser calling is not configured: set " + ", ".join(missing),
                              503)
    token = AccessToken(settings.twilio_account_sid, settings.twilio_api_key_sid,
                        settings.twilio_api_key_secret, identity=agent.client_identity, ttl=ttl)
    token.add_grant(VoiceGrant(outgoing_application_sid=settings.twilio_twiml_app_sid,
                               incoming_allow=True))
    return agent.client_identity, token.to_jwt()
