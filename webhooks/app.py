"""The Flask application factory: thin blueprints over the domain."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from callcenter.config import Settings
from callcenter.logs import configure_logging
from webhooks import api, desk, email, extensions, messaging, templates_api, voice
from webhooks.context import close_db


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; no database work at import or boot (migrations do the tables)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.debug)
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(messaging.bp)
    app.register_blueprint(email.bp)
    app.register_blueprint(templates_api.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(extensions.bp)
    app.teardown_appcontext(close_db)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        """Clear errors in JSON, never a stack trace."""
        return jsonify({"error": exc.name, "message": exc.description}), exc.code or 500

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> tuple[Response, int]:
        logging.getLogger(__name__).exception("unhandled error")
        return jsonify({"error": "Internal Server Error",
                        "message": "The error was logged; nothing was changed."}), 500

    return app
