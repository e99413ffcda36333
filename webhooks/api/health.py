"""``GET /api/health`` (CONTRACT): the database and Redis answer, and a worker and a scheduler
beat within ``HEARTBEAT_LIMIT`` (:mod:`workers.heartbeats`); no token needed.

``{"db": "ok", "redis": "ok", "worker": "ok", "scheduler": "ok", "worker_last_seen_s": 3,
"scheduler_last_seen_s": 7}``; 503 with the failing part (``error``, or ``silent`` for a role
whose freshest beat is older than the limit or missing). With ``HEARTBEAT_LIMIT=0`` the beats
are reported and never fail the check.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from webhooks.context import db, settings
from workers import heartbeats
from workers.queues import redis_connection

bp = Blueprint("api_health", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


@bp.get("/health")
def health() -> tuple[Response, int]:
    result: dict[str, Any] = {"db": "ok", "redis": "ok"}
    code = 200
    try:
        db().execute(text("SELECT 1"))
    except Exception:
        log.exception("health: database")
        result["db"], code = "error", 503
    current = settings()
    try:
        conn = redis_connection(current)
        conn.ping()
        pulses = [heartbeats.pulse(current, role, conn) for role in heartbeats.Role]
    except Exception:
        log.exception("health: redis")
        result["redis"], code = "error", 503
        result.update({str(role): "unknown" for role in heartbeats.Role})
        return jsonify(result), code
    for pulse in pulses:
        silent = pulse.silent(current.heartbeat_limit_s)
        result[str(pulse.role)] = "silent" if silent else "ok"
        result[f"{pulse.role}_last_seen_s"] = (None if pulse.last_seen_s is None
                                              else round(pulse.last_seen_s, 1))
        if silent:
            code = 503
    return jsonify(result), code
