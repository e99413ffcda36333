"""The Twilio REST client, pointed at ``TWILIO_API_URL`` (real Twilio or the local simulator)."""

from __future__ import annotations

from twilio.rest import Client

from callcenter.config import Settings


def rest_client(settings: Settings) -> Client:
    """A real ``twilio.rest.Client`` whose API host is the configured one.

    ``environment={}`` keeps the client from reading TWILIO_EDGE/REGION behind our back
    (configuration is read once, in :mod:`callcenter.config`).
    """
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token, environment={})
    client.api.base_url = settings.twilio_api_url
    return client
