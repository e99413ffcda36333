"""A throwaway TwiML app served over real HTTP, and a Simulator pointed at it.

The app validates ``X-Twilio-Signature`` like the real service must, records every
request, and answers with per-test handlers that build TwiML with twilio's helpers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import WSGIRequestHandler, make_server

from simulator import Simulator

ACCOUNT_SID = "AC" + "0" * 32
TOKEN = "dev-auth-token"
HOTLINE = "+622150001234"

Handler = Callable[[dict[str, str], dict[str, str]], Any]


def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until ``predicate()`` holds (for things that happen asynchronously)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.01)


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class Service:
    url: str
    token: str = TOKEN
    handlers: dict[str, Handler] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)

    def route(self, path: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.handlers[path] = fn
            return fn

        return deco

    def hits(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.log if r["path"] == path]


def _make_app(service: Service) -> Flask:
    app = Flask("fake_service")

    @app.route("/<path:path>", methods=["GET", "POST"])
    def any_route(path: str) -> Any:
        # Validate against the URL exactly as requested (query string undecoded).
        url = request.host_url.rstrip("/") + request.environ["REQUEST_URI"]
        signature = request.headers.get("X-Twilio-Signature", "")
        params = request.form if request.method == "POST" else {}
        valid = RequestValidator(service.token).validate(url, params, signature)
        entry = {
            "path": "/" + path,
            "args": request.args.to_dict(),
            "form": request.form.to_dict(),
            "valid": valid,
        }
        service.log.append(entry)
        if not valid:
            abort(403)
        handler = service.handlers.get("/" + path)
        if handler is None:
            return Response("", status=204)
        result = handler(entry["form"], entry["args"])
        if isinstance(result, Response):
            return result
        return Response(str(result), mimetype="text/xml")

    return app


@pytest.fixture
def service() -> Iterator[Service]:
    svc = Service(url="")
    server = make_server("127.0.0.1", 0, _make_app(svc), threaded=True, request_handler=_Quiet)
    svc.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield svc
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def sim(service: Service) -> Iterator[Simulator]:
    s = Simulator(
        account_sid=ACCOUNT_SID,
        auth_token=TOKEN,
        service_url=service.url,
        voice_url="/voice",
        status_url="/status",
        messaging_url="/sms",
        hotline=HOTLINE,
    )
    s.start()
    yield s
    s.stop()
