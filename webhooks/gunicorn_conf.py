"""gunicorn settings for the Procfile's ``web:`` (``--config python:webhooks.gunicorn_conf``).

The access log must not carry personal data (privacy, UU PDP): searches put phone numbers and
Order IDs in query strings (``/api/tickets?phone=…&order_id=…``), and browsers send the page
they came from as ``Referer``. Each access line keeps the method, the path with any phone
number in it masked, the names of the query parameters (never their values), status, size,
time and user agent; the referrer loses its query; credentials and cookies are never logged,
whatever ``access_log_format`` an operator sets.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gunicorn.glogging import Logger

from callcenter.config import ConfigError, Settings
from callcenter.logs import mask_text

_NEVER_LOGGED_HEADERS = ("{authorization}i", "{cookie}i", "{proxy-authorization}i",
                         "{x-twilio-signature}i")


def query_names(query: str | None) -> str:
    """``phone=0812…&order_id=2026…`` → ``phone=*&order_id=*``: which filters, not what."""
    if not query:
        return ""
    names = [name for name, _value in parse_qsl(query, keep_blank_values=True)]
    return "&".join(f"{mask_text(name)}=*" for name in names) or "*"


def private_target(path: str | None, query: str | None) -> str:
    """The request target as logged: the path (phones masked) and the query's names only."""
    shown = mask_text(path or "/")
    names = query_names(query)
    return f"{shown}?{names}" if names else shown


def private_referrer(referrer: str | None) -> str:
    if not referrer or referrer == "-":
        return "-"
    parts = urlsplit(referrer)
    return f"{parts.scheme}://{parts.netloc}{private_target(parts.path, parts.query)}" if (
        parts.scheme) else private_target(parts.path, parts.query)


class PrivateAccessLogger(Logger):
    """gunicorn's logger with the access line's atoms stripped of personal data."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any],
              request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        target = private_target(environ.get("PATH_INFO"), environ.get("QUERY_STRING"))
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {target} {environ.get('SERVER_PROTOCOL')}"
        atoms["U"] = mask_text(environ.get("PATH_INFO") or "/")
        atoms["q"] = query_names(environ.get("QUERY_STRING"))
        atoms["f"] = private_referrer(environ.get("HTTP_REFERER"))
        atoms["{referer}i"] = atoms["f"]
        for name in _NEVER_LOGGED_HEADERS:
            atoms.pop(name, None)
        # The raw environ (RAW_URI, QUERY_STRING, HTTP_AUTHORIZATION…) is never logged.
        for name in [k for k in atoms if k.endswith("}e")]:
            del atoms[name]
        return atoms

    def access(self, resp: Any, req: Any, environ: dict[str, Any],
               request_time: Any) -> None:
        """``LOG_FORMAT=json``: the same private atoms as one JSON object per line."""
        if _LOG_FORMAT != "json" or not self.access_log_enabled:
            super().access(resp, req, environ, request_time)
            return
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(json.dumps({
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO", "logger": "gunicorn.access", "remote": atoms["h"],
            "request": atoms["r"], "status": atoms["s"], "bytes": atoms["b"],
            "duration_ms": atoms["M"], "referrer": atoms["f"], "user_agent": atoms["a"],
        }, ensure_ascii=False))


_LOG_FORMAT = Settings.from_env().log_format
logger_class = PrivateAccessLogger
# gunicorn's default line (Apache combined) plus the time taken; %(r)s and %(f)s are the
# private versions above.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'


def on_starting(_server: Any) -> None:
    """Before any port is bound or worker forked: outside debug, refuse dev secrets and a
    missing ``PUBLIC_BASE_URL`` (every offending setting named on stderr, exit status 1; a
    worker failing on them would only be restarted over and over).

    Then prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``): the folder where
    this host's gunicorn workers keep their webhook histograms starts empty, so a previous
    run's figures are not added to this one's."""
    settings = Settings.from_env()
    try:
        settings.check_for_production()
    except ConfigError as exc:
        print(f"gunicorn: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    folder = settings.prometheus_multiproc_dir
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)


def child_exit(_server: Any, worker: Any) -> None:
    """A gunicorn worker that exits leaves its counts to the others' sum, not its live
    gauges (prometheus_client's multiprocess documentation)."""
    if Settings.from_env().prometheus_multiproc_dir is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
