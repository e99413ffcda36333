"""A real ``twilio.rest.Client`` whose requests go to the simulator (or any base URL).

twilio-python builds every API URL as ``domain.base_url + "/2010-04-01/..."`` at request
time (``twilio.base.domain.Domain.absolute_url``), so replacing ``client.api.base_url``
is enough for Calls and Messages. ``edge``/``region`` (also read from ``TWILIO_EDGE`` /
``TWILIO_REGION``) would rewrite the hostname afterwards, so they are cleared.
"""

from __future__ import annotations

from twilio.rest import Client


def rest_client(account_sid: str, auth_token: str, api_url: str | None = None) -> Client:
    """A twilio Client for ``api_url`` (e.g. ``http://127.0.0.1:8081``); Twilio itself when
    ``api_url`` is empty."""
    client = Client(account_sid, auth_token)
    if api_url:
        client.edge = None
        client.region = None
        client.api.base_url = api_url.rstrip("/")
    return client
