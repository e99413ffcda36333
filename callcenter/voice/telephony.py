"""The Twilio REST client, pointed at ``TWILIO_API_URL`` (real Twilio or the local simulator)."""

from __future__ import annotations

import os
import threading

from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from callcenter.config import Settings, ca_bundle_from_environment, proxies_configured
from callcenter.voice.twilio_http import PooledHttpClient

_lock = threading.Lock()
_clients: dict[tuple[int, int, str, str, str, float | None], Client] = {}


def rest_client(settings: Settings, timeout: float | None = None) -> Client:
    """A real ``twilio.rest.Client`` whose API host is the configured one.

    One per process and thread, so its HTTP session keeps the connection to Twilio alive
    between jobs (a new TLS handshake per callback costs more than the rest of the job).
    ``environment={}`` keeps the client from reading TWILIO_EDGE/REGION behind our back
    (configuration is read once, in :mod:`callcenter.config`). ``timeout`` (seconds) bounds
    each request: a webhook that asks Twilio something while a caller waits must not hang.
    """
    key = (os.getpid(), threading.get_ident(), settings.twilio_account_sid,
           settings.twilio_auth_token, settings.twilio_api_url, timeout)
    with _lock:
        client = _clients.get(key)
        if client is None:
            if proxies_configured():  # requests honours HTTPS_PROXY/NO_PROXY on each request
                http: HttpClient = TwilioHttpClient(timeout=timeout)
            else:
                http = PooledHttpClient(timeout=timeout)
            client = Client(settings.twilio_account_sid, settings.twilio_auth_token,
                            environment={}, http_client=http)
            client.api.base_url = settings.twilio_api_url
            _skip_environment_lookups(client)
            _clients[key] = client
        return client


def _skip_environment_lookups(client: Client) -> None:
    """requests scans every environment variable for proxy settings on *each* request (a
    third of a callback job's CPU in the bench). Without proxy variables there is nothing
    to find, so the session stops looking; a CA bundle named by ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` (what requests would read each time, in that order) is set on the
    session once instead. With proxy variables requests keeps honouring them (NO_PROXY
    included)."""
    http = client.http_client
    session = getattr(http, "session", None)
    if session is None or proxies_configured():
        return
    bundle = ca_bundle_from_environment()
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False
