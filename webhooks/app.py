"""The Flask application factory: thin blueprints over the domain."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, Response, abort, jsonify, render_template, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from callcenter.config import Settings
from callcenter.i18n import N_
from callcenter.logs import configure_logging
from webhooks import api, console, email, i18n, messaging, metrics, params, public, voice
from webhooks.context import close_db

# Machine-to-machine endpoints authenticate by signature, basic auth or bearer token, never by
# a browser cookie: CSRF tokens are for the console and the public pages only.
MACHINE_BLUEPRINTS = (voice.bp, messaging.bp, email.bp, metrics.bp, *api.BLUEPRINTS)
MACHINE_PREFIXES = ("/twilio/", "/api/", "/email/")

# Pages people open in a browser: no framing, no inline script, no referrer leaks.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def wants_html() -> bool:
    """Errors are pages for people and JSON for machines."""
    return not request.path.startswith(MACHINE_PREFIXES)


# What a person reads on an error page, in the page's language (werkzeug's own descriptions
# are English); a view's own message (``abort(403, ...)``) is shown when it gave one.
ERROR_TITLES = {
    400: N_("The request could not be understood"),
    401: N_("Please sign in"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Not possible here"),
    409: N_("Not possible now"),
    413: N_("Too large"),
    429: N_("Too many attempts"),
}
ERROR_MESSAGES = {
    400: N_("Something in the form or link was missing or wrong. Go back and try again."),
    401: N_("Sign in to see this page."),
    403: N_("Your role may not open this page or do this."),
    404: N_("There is no page at this address. Check the link."),
    405: N_("This page cannot be used this way."),
    409: N_("This cannot be done in the current state. Reload the page and try again."),
    413: N_("The upload is larger than allowed."),
    429: N_("Please wait a little and try again."),
}


def error_words(exc: HTTPException) -> tuple[str, str]:
    """The title and message of an error page for ``exc``, translated."""
    code = exc.code or 500
    title = i18n.gettext(ERROR_TITLES[code]) if code in ERROR_TITLES else exc.name
    default = type(exc).description
    if exc.description and exc.description != default:
        return title, str(i18n.translate(exc.description))
    message = ERROR_MESSAGES.get(code)
    return title, i18n.gettext(message) if message else (exc.description or "")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; no database work at import or boot (migrations do the tables)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.debug, settings.log_format)
    app = Flask(__name__)
    if settings.trusted_proxy_hops:
        # The client's address for rate limits comes from the proxies we trust, and only them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)  # type: ignore[method-assign]
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = bool(
        settings.public_base_url and settings.public_base_url.startswith("https://"))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.console_session_hours)
    app.config["WTF_CSRF_TIME_LIMIT"] = settings.console_session_hours * 3600
    app.url_map.converters["int"] = params.RowIdConverter  # before any rule is added
    i18n.init_app(app)  # before the blueprints: their templates translate
    metrics.init_app(app, settings)  # webhook latency
    csrf = CSRFProtect(app)
    for blueprint in MACHINE_BLUEPRINTS:
        csrf.exempt(blueprint)
    for blueprint in (console.bp, public.bp, *MACHINE_BLUEPRINTS):
        app.register_blueprint(blueprint)
    app.teardown_appcontext(close_db)
    # Browsers and crawlers ask for /favicon.ico whatever the page says: not a 404.
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: app.send_static_file("favicon.ico"))

    @app.before_request
    def refuse_unstorable_text() -> None:
        """NUL or an unpaired surrogate in any field: 400 before a view runs (PostgreSQL
        would refuse it mid-transaction). Twilio's and the mail provider's posts are their
        own modules' to read."""
        if request.path.startswith(("/twilio/", "/email/")):
            return
        name = params.unstorable_field(request)
        if name is not None:
            abort(400, f"{name} holds a character that cannot be stored (NUL or an unpaired "
                       "surrogate).")

    @app.after_request
    def page_headers(response: Response) -> Response:
        if response.mimetype == "text/html":
            for name, value in PAGE_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        """Clear errors in JSON for machines, a plain page for people; never a stack trace."""
        if wants_html():
            title, message = error_words(exc)
            return render_template("error.html", code=exc.code, title=title,
                                   message=message), exc.code or 500
        response = jsonify({"error": exc.name, "message": exc.description})
        for name, value in exc.get_headers():  # WWW-Authenticate, Allow, Retry-After
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, exc.code or 500

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> tuple[Response | str, int]:
        logging.getLogger(__name__).exception("unhandled error")
        if wants_html():
            return render_template("error.html", code=500, title=i18n.gettext(
                "Something went wrong"), message=i18n.gettext(
                "The error was logged; nothing was changed.")), 500
        return jsonify({"error": "Internal Server Error",
                        "message": "The error was logged; nothing was changed."}), 500

    return app
