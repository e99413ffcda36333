"""The HTTP client under the Twilio REST client (callcenter.voice.twilio_http).

What a job relies on: the request Twilio receives is the one twilio-python builds (the form,
basic auth), an answer that never came raises the requests exceptions the callback job treats
as "maybe placed", and an operator's proxy is still honoured.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests

from callcenter.voice import telephony
from callcenter.voice.twilio_http import PooledHttpClient

CALL_JSON = (b'{"sid": "CA0123456789abcdef0123456789abcdef", "status": "queued", '
             b'"to": "+6281234567890", "from": "+622150001234"}')


@contextmanager
def _twilio_like(seen: list[dict[str, object]]) -> Iterator[str]:
    """A server answering ``Calls.json`` with 201, recording what arrived (as a proxy too:
    the request line then carries the absolute URL)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            seen.append({"target": self.path, "form": parse_qs(body),
                         "auth": self.headers.get("Authorization"),
                         "type": self.headers.get("Content-Type")})
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(CALL_JSON)))
            self.end_headers()
            self.wfile.write(CALL_JSON)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _client(settings, url: str, timeout: float | None = 5.0):  # type: ignore[no-untyped-def]
    return telephony.rest_client(replace(settings, twilio_api_url=url), timeout=timeout)


def _create(client):  # type: ignore[no-untyped-def]
    return client.calls.create(
        to="+6281234567890", from_="+622150001234", url="https://cc.example/answer?cb=7",
        status_callback_event=["initiated", "completed"], machine_detection="DetectMessageEnd",
        timeout=30)


def test_twilio_receives_the_form_and_credentials_the_library_builds(settings, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    seen: list[dict[str, object]] = []
    with _twilio_like(seen) as url:
        client = _client(settings, url)
        assert isinstance(client.http_client, PooledHttpClient)
        call = _create(client)
        _create(client)  # the kept-alive connection again
    assert call.sid == "CA0123456789abcdef0123456789abcdef" and call.status == "queued"
    first = seen[0]
    assert first["target"] == f"/2010-04-01/Accounts/{settings.twilio_account_sid}/Calls.json"
    assert first["form"] == {
        "To": ["+6281234567890"], "From": ["+622150001234"],
        "Url": ["https://cc.example/answer?cb=7"],
        "StatusCallbackEvent": ["initiated", "completed"],
        "MachineDetection": ["DetectMessageEnd"], "Timeout": ["30"]}
    assert first["type"] == "application/x-www-form-urlencoded"
    expected = requests.auth._basic_auth_str(settings.twilio_account_sid,  # type: ignore[attr-defined]
                                             settings.twilio_auth_token)
    assert first["auth"] == expected and len(seen) == 2


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """Accepts connections and never answers (Twilio's answer lost on the way)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", held
    listener.close()
    for conn in held:
        conn.close()


def test_no_answer_within_the_timeout_is_a_requests_timeout(settings, silent_server):
    """The callback job treats this as "the call may exist" (workers.callbacks)."""
    url, _held = silent_server
    client = _client(settings, url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        _create(client)
    assert time.monotonic() - started < 5


def test_a_refused_connection_is_a_requests_connection_error(settings):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(requests.ConnectionError):
        _create(_client(settings, f"http://127.0.0.1:{port}"))


def test_a_configured_proxy_carries_the_request(settings, monkeypatch):
    """With a proxy in the environment the requests-based client is used, and honours it:
    the request reaches the proxy with Twilio's absolute URL."""
    seen: list[dict[str, object]] = []
    with _twilio_like(seen) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        api = f"http://api-{proxy.rsplit(':', 1)[1]}.twilio.invalid"  # a client of its own
        client = _client(settings, api)
        assert not isinstance(client.http_client, PooledHttpClient)
        assert _create(client).status == "queued"
    assert seen[0]["target"] == (f"{api}/2010-04-01/Accounts/"
                                 f"{settings.twilio_account_sid}/Calls.json")
