"""The HTTP client under the Twilio REST client: urllib3's connection pool, without requests.

twilio-python takes any :class:`twilio.http.HttpClient` (its documented extension point for a
custom client). Its default goes through requests, whose per-request preparation (merging
session settings, cookies, hooks; encoding the form) cost more CPU than the rest of a
callback job's own work. This client sends the same request (the form, basic auth, the
library's headers) over a kept-alive urllib3 pool, which requests itself uses underneath.

Failures keep the types callers already handle: an answer that never came (refused,
dropped, timed out) raises a :class:`requests.RequestException` subclass, as requests would,
and an HTTP error answer is returned for the library to raise ``TwilioRestException``.
"""

from __future__ import annotations

import logging
import os
from base64 import b64encode
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3
from twilio.http import HttpClient
from twilio.http.response import Response

from callcenter.config import ca_bundle_from_environment

log = logging.getLogger("twilio.http_client")


class PooledHttpClient(HttpClient):
    """One kept-alive connection pool per client (the REST client is kept per process and
    thread, :func:`callcenter.voice.telephony.rest_client`)."""

    def __init__(self, timeout: float | None = None):
        super().__init__(log, False, timeout)
        ca_certs = ca_bundle_from_environment()
        self.pool = urllib3.PoolManager(
            num_pools=4, maxsize=4, retries=False,
            ca_certs=ca_certs or _default_ca_bundle())
        self._auth: tuple[tuple[str, str], str] | None = None

    def request(self, method: str, uri: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        """Send one request; an answer with any status is returned (the library raises for
        4xx/5xx), no answer raises ``requests.ConnectionError`` / ``requests.Timeout``."""
        timeout = self.timeout if timeout is None else timeout
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        url = uri + ("?" + urlencode(_present(params), doseq=True) if params else "")
        sent = dict(headers or {})
        body = None
        if headers and headers.get("Content-Type") in ("application/json",
                                                        "application/scim+json"):
            import json

            body = json.dumps(data).encode()
        elif data:
            body = urlencode(_present(data), doseq=True).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if auth:
            sent["Authorization"] = self._basic(auth)
        self.log_request({"method": method.upper(), "url": uri, "params": params,
                          "headers": headers})
        try:
            answer = self.pool.request(
                method.upper(), url, body=body, headers=sent, redirect=allow_redirects,
                timeout=urllib3.Timeout(total=timeout) if timeout else None,
                preload_content=True)
        except urllib3.exceptions.NewConnectionError as exc:  # a TimeoutError subclass too
            raise requests.ConnectionError(str(exc)) from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise requests.Timeout(str(exc)) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise requests.ConnectionError(str(exc)) from exc
        response = Response(answer.status, answer.data.decode("utf-8"), answer.headers)
        self._test_only_last_response = response
        log.info("-- END Twilio API Request --")
        return response

    def _basic(self, auth: tuple[str, str]) -> str:
        """The basic auth header, encoded once per credentials."""
        if self._auth is None or self._auth[0] != auth:
            token = b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self._auth = (auth, f"Basic {token}")
        return self._auth[1]


def _present(values: dict[str, object] | None) -> dict[str, Any]:
    """The parameters with a value (requests drops the None ones too)."""
    return {key: value for key, value in (values or {}).items() if value is not None}


def _default_ca_bundle() -> str | None:
    """certifi's bundle, as requests verifies with (None: the system's)."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests depends on certifi
        return None
    return certifi.where() if os.path.exists(certifi.where()) else None
