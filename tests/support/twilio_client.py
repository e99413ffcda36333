"""Signed requests through Flask's test client, for webhook-level tests."""

from __future__ import annotations

import uuid
from typing import Any

from twilio.request_validator import RequestValidator

from tests.support.production import TEST_AUTH_TOKEN


def new_call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def sign(url: str, params: dict[str, str], token: str = TEST_AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def signed_post(client: Any, path: str, params: dict[str, str], *,
                base: str = "http://localhost", token: str = TEST_AUTH_TOKEN) -> Any:
    return client.post(path, data=params,
                       headers={"X-Twilio-Signature": sign(base + path, params, token)})


def incoming_params(call_sid: str, caller: str = "+6281234567890") -> dict[str, str]:
    return {
        "AccountSid": "AC" + "d" * 32, "ApiVersion": "2010-04-01", "CallSid": call_sid,
        "CallStatus": "ringing", "Direction": "inbound", "From": caller, "Caller": caller,
        "To": "+622150001234", "Called": "+622150001234", "FromCountry": "ID",
        "ToCountry": "ID",
    }
