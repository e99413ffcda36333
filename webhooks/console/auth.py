"""Signing in to the console: sessions, roles, lock-out, and the audit of who did what.

Each sign-in is a session kept on the server (:mod:`webhooks.console.sessions`, in Redis): the
signed Flask cookie carries its id, the user id and a fingerprint of the password hash. A
request is signed in only while the server still holds that session for that user, the user
is active and the password unchanged; sign-out, a new password, a deactivation and the end of
the shift (``CONSOLE_SESSION_HOURS``) end it, so a copied cookie opens nothing afterwards.
Without Redis the console lets nobody in and says so (503), never a 500. CSRF tokens come
from Flask-WTF (forms carry ``csrf_token``, htmx sends ``X-CSRFToken``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext

from callcenter import audit
from callcenter.i18n import N_
from callcenter.models import User
from callcenter.people import users
from webhooks.console.blueprint import bp
from webhooks.console.sessions import ConsoleSessions, SessionStoreDown
from webhooks.context import db, settings
from workers.queues import redis_connection

log = logging.getLogger(__name__)
UNAVAILABLE = lazy_gettext("The console cannot check sign-ins right now, so it lets nobody in. "
                           "Try again in a minute; if it lasts, tell the engineer on call.")

NEXT_MAX = 2000  # a console path with its filters; longer is not one of ours

# Where each role starts its shift (endpoint names owned by the page modules).
HOME_BY_ROLE = {
    "agent": "console.ticket_queue",
    "supervisor": "console.floor",
    "qa": "console.template_list",
    "admin": "console.floor",
}


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def open_sessions() -> ConsoleSessions:
    """The store of open sign-ins (the admin's actions end a user's sessions through it)."""
    current = settings()
    return ConsoleSessions(redis_connection(current), current.queue_prefix,
                           timedelta(hours=current.console_session_hours))


def _session_user() -> User | None:
    """The cookie's user while the server holds its session for them, they are active and
    their password is the one they signed in with; raises SessionStoreDown without Redis."""
    uid, sid = session.get("uid"), session.get("sid")
    if not isinstance(uid, int) or not isinstance(sid, str):
        return None
    if open_sessions().user_id(sid) != uid:
        return None  # signed out, ended by an admin's change, or past its shift
    user = db().get(User, uid)
    if user is None or not user.active or session.get("pw") != _fingerprint(user):
        return None
    return user


def signed_in_user() -> User | None:
    """The session's user while it is still valid, else ``None`` (and the cookie is
    cleared). SessionStoreDown when Redis cannot say: the console fails closed."""
    if "user" in g:
        return g.user
    user = _session_user()
    if user is None and session.get("uid") is not None:
        session.clear()
    g.user = user
    if user is not None:
        g.actor = users.actor_of(user)
    return user


def login_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Send strangers to the sign-in page; 403 for a signed-in user without one of ``roles``.

    No roles: any signed-in user. Admins may open every page (``users.has_role``).
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = signed_in_user()
            if user is None:
                if request.headers.get("HX-Request"):
                    # htmx would swap the sign-in page into a fragment: make it reload instead.
                    return Response(status=401, headers={"HX-Redirect": url_for("console.login")})
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if roles and not users.has_role(user, *roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def current_user() -> User:
    user = signed_in_user()
    if user is None:
        abort(401)
    return user


def actor() -> str:
    """Who the audit trail names for this request: the signed-in user (``user:<name>``)."""
    return g.get("actor", "anonymous")


def record(action: str, subject: str, detail: str | None = None) -> None:
    """Add an audit row for the signed-in user (committed with the request's work); changes
    are audited by the domain's action functions, given :func:`actor`."""
    audit.record(db(), actor(), action, subject, detail)


def safe_next(target: str | None) -> str | None:
    """Only paths inside the console: never an open redirect to another site, and nothing a
    header cannot carry (CR/LF, other control characters, spaces: the sign-in is already
    recorded when the redirect is built, so it must not fail then)."""
    if not target or len(target) > NEXT_MAX or not target.isascii() or any(
            ch.isspace() or not ch.isprintable() for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return None
    return target


def home_for(user: User) -> str:
    from flask import current_app

    endpoint = HOME_BY_ROLE.get(user.role, "console.ticket_queue")
    if endpoint not in current_app.view_functions:
        return url_for("console.home")
    return url_for(endpoint)


@bp.get("/")
@login_required()
def home() -> Response | str:
    """Each role starts on its own page; the menu is the fallback."""
    target = home_for(current_user())
    if target != url_for("console.home"):
        return redirect(target)
    return render_template("console/home.html")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """One message for every failure: it never says whether the name exists or is locked."""
    error = None
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:80]
        password = request.form.get("password") or ""
        session_db = db()
        user = users.authenticate(session_db, username, password)
        if user is None:
            audit.record(session_db, f"login:{username or '-'}", "sign_in_failed", "console")
            session_db.commit()  # failure counts and lock-outs persist
            error = ("Wrong user name or password, or too many attempts: "
                     "wait 15 minutes and try again.")
        else:
            try:
                sid = open_sessions().start(user.id)
            except SessionStoreDown as exc:
                session_db.rollback()  # not signed in: nothing to record as a sign-in
                log.warning("console sign-in refused: session store unavailable (%s)", exc)
                return render_template("console/login.html", error=UNAVAILABLE,
                                       unavailable=True), 503
            session.clear()  # a new session for the new identity (fixation)
            session.permanent = True
            session["uid"] = user.id
            session["sid"] = sid
            session["pw"] = _fingerprint(user)
            audit.record(session_db, users.actor_of(user), "sign_in", "console")
            session_db.commit()
            return redirect(safe_next(request.args.get("next")) or home_for(user))
    status = 401 if error else 200
    return render_template("console/login.html", error=error), status


@bp.post("/logout")
def logout() -> Response | tuple[str, int]:
    """End the session on the server (a copy of the cookie is worth nothing after), then in
    this browser. Without Redis the browser forgets it, and the page says the server could
    not end it."""
    sid = session.get("sid")
    try:
        user = signed_in_user()
        if isinstance(sid, str):
            open_sessions().end(sid)
    except SessionStoreDown as exc:
        session.clear()
        log.warning("console sign-out not confirmed: session store unavailable (%s)", exc)
        return render_template("console/login.html", unavailable=True, error=gettext(
            "Signed out in this browser, but the server could not end the session right now: "
            "sign in and out again later, or ask an admin to reset your password if someone "
            "else may have used this computer.")), 503
    if user is not None:
        record("sign_out", "console")
        db().commit()
    session.clear()
    return redirect(url_for("console.login"))


@bp.errorhandler(SessionStoreDown)
def session_store_down(exc: SessionStoreDown) -> tuple[str, int]:
    """Fail closed: no page opens while sign-ins cannot be checked (a polite 503)."""
    log.warning("console request refused: session store unavailable (%s)", exc)
    return render_template("error.html", code=503, title=gettext("Sign-in unavailable"),
                           message=UNAVAILABLE), 503


# Menu entries: (endpoint, label, roles allowed). Pages that are not registered are skipped.
# Labels are msgids (N_): the menu shows them in the reader's language.
NAV = (
    ("console.ticket_queue", N_("Tickets"), ("agent", "supervisor", "qa")),
    ("console.inbox", N_("Inbox"), ("agent", "supervisor")),
    ("console.desk", N_("Walk-in desk"), ("agent", "supervisor")),
    ("console.template_list", N_("Templates"), ("agent", "supervisor", "qa")),
    ("console.floor", N_("Floor"), ("supervisor",)),
    ("console.audit_trail", N_("Audit trail"), ("supervisor",)),
    ("console.user_list", N_("People"), ("admin",)),
)


@bp.app_context_processor
def console_context() -> dict[str, Any]:
    """What every console page needs: the user and the menu their role may open."""
    from flask import current_app

    def nav() -> list[tuple[str, str, bool]]:
        user = g.get("user")
        if user is None:
            return []
        entries = []
        for endpoint, label, roles in NAV:
            if endpoint in current_app.view_functions and users.has_role(user, *roles):
                url = url_for(endpoint)  # a ticket's page is "in" Tickets, a user's in People
                entries.append((url, label, request.path.rstrip("/") == url.rstrip("/")
                                or request.path.startswith(url.rstrip("/") + "/")))
        return entries

    return {"console_user": g.get("user"), "console_nav": nav}
