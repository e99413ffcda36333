"""Signed webhook requests, exactly as Twilio sends them.

Twilio signs the absolute URL it requests (query string included, as written)
plus the sorted POST parameters with the account's auth token. For GET
requests the parameters go into the query string and only the URL is signed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urldefrag, urlencode

import requests
from twilio.request_validator import RequestValidator

USER_AGENT = "TwilioProxy/1.1"
WEBHOOK_TIMEOUT = 15.0  # Twilio gives up on a webhook after 15 s.


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` header value for a request to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, dict(params))


@dataclass
class WebhookResult:
    """What the service answered (``status`` 0 means no HTTP answer at all)."""

    url: str
    params: dict[str, str]
    status: int
    body: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def send_webhook(
    auth_token: str, url: str, params: Mapping[str, str], method: str = "POST"
) -> WebhookResult:
    """Request ``url`` like Twilio does; never raises for HTTP or network errors."""
    url, _fragment = urldefrag(url)  # Twilio keeps per-URL overrides after '#'.
    params = {k: str(v) for k, v in params.items()}
    method = (method or "POST").upper()
    headers = {
        "User-Agent": USER_AGENT,
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "Accept": "*/*",
    }
    if method == "GET":
        sep = "&" if "?" in url else "?"
        full = url + (sep + urlencode(params) if params else "")
        headers["X-Twilio-Signature"] = sign(auth_token, full, {})
        kwargs: dict = {}
        target = full
    else:
        headers["X-Twilio-Signature"] = sign(auth_token, url, params)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        kwargs = {"data": params}
        target = url
    try:
        with requests.Session() as session:
            session.trust_env = False  # never route loopback webhooks through a proxy
            resp = session.request(
                method, target, headers=headers, timeout=WEBHOOK_TIMEOUT, **kwargs
            )
            return WebhookResult(target, params, resp.status_code, resp.text)
    except requests.RequestException as exc:
        return WebhookResult(target, params, 0, "", error=f"{type(exc).__name__}: {exc}")
