"""A round-robin HTTP load balancer in front of several web hosts, as production has: Twilio
and the mail provider know one URL (``PUBLIC_BASE_URL``), each request goes to the next host."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from typing import Any

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length", "host"}


class Balancer:
    """``host``: the ``Host`` header every forwarded request carries (by default the backend's),
    as a proxy that passes on whatever a client claimed would."""

    def __init__(self, backends: list[str], host: str | None = None) -> None:
        self.backends = backends
        self.host = host
        self.served: Counter[str] = Counter()
        self._next = itertools.cycle(backends)
        self._lock = threading.Lock()
        self._http = threading.local()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _session(self) -> requests.Session:
        if not hasattr(self._http, "session"):
            self._http.session = requests.Session()
        return self._http.session

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            backend = next(self._next)
            self.served[backend] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        if self.host:
            headers["Host"] = self.host
        try:
            upstream = self._session().request(
                request.method, backend + request.full_path.rstrip("?"), headers=headers,
                data=request.get_data(), allow_redirects=False, timeout=30)
        except requests.RequestException:
            return Response("bad gateway", 502)(environ, start_response)
        reply = Response(upstream.content, upstream.status_code)
        for name, value in upstream.headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                reply.headers[name] = value
        return reply(environ, start_response)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
