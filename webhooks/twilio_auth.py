"""Every ``/twilio/*`` request must carry a valid ``X-Twilio-Signature`` (403 otherwise).

The signature covers the URL Twilio used: behind a proxy that is ``PUBLIC_BASE_URL`` plus the
path and the query string *as received* (``request.url`` re-decodes escapes and would break
signatures on action URLs with a query string, FACTS.md).

A webhook whose body is not a form (JSON) is signed over the URL alone, and the URL carries
the body's SHA-256 as ``bodySHA256``: the raw body must match that hash too
(twilio.com/docs/usage/webhooks/webhooks-security; ``RequestValidator.validate`` given the raw
body), or anyone holding one signed URL could post any body to it.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from typing import Any

from flask import abort, request
from twilio.request_validator import RequestValidator

from webhooks.context import settings

log = logging.getLogger(__name__)


def signed_url() -> str:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        query = request.query_string.decode("latin-1")
        raw = request.path + (f"?{query}" if query else "")
    base = settings().public_base_url or request.host_url.rstrip("/")
    return base + raw


def is_valid_signature() -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(settings().twilio_auth_token)
    if "bodySHA256" in request.args:
        # RequestValidator checks the body's hash when given the raw body as a string.
        return validator.validate(signed_url(), request.get_data(as_text=True), signature)
    url = signed_url()
    # Twilio signs the URL as configured; validate() also tries it with the port added or
    # removed (two signatures every time). The URL as configured first, validate() after.
    expected = validator.compute_signature(url, request.form)
    if hmac.compare_digest(expected.encode(), signature.encode()):
        return True
    return validator.validate(url, request.form, signature)


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse forged or unsigned requests before anything is read or written."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not is_valid_signature():
            log.warning("refused unsigned/forged Twilio request to %s", request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapper
