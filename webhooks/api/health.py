"""``GET /api/health`` (CONTRACT): the database and Redis answer; no token needed."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from webhooks.context import db, settings
from workers.queues import redis_connection

bp = Blueprint("api_health", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


@bp.get("/health")
def health() -> tuple[Response, int]:
    result, code = {"db": "ok", "redis": "ok"}, 200
    try:
        db().execute(text("SELECT 1"))
    except Exception:
        log.exception("health: database")
        result["db"], code = "error", 503
    try:
        redis_connection(settings()).ping()
    except Exception:
        log.exception("health: redis")
        result["redis"], code = "error", 503
    return jsonify(result), code
