"""Signing in to the console: sessions, roles, lock-out, and the audit of who did what.

A signed Flask session cookie holds the user id and a fingerprint of the password hash, so a
password change or a deactivation ends every open session at its next request. CSRF tokens come
from Flask-WTF (forms carry ``csrf_token``, htmx sends ``X-CSRFToken``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
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

from callcenter import audit
from callcenter.i18n import N_
from callcenter.models import User
from callcenter.people import users
from webhooks.console.blueprint import bp
from webhooks.context import db

# Where each role starts its shift (endpoint names owned by the page modules).
HOME_BY_ROLE = {
    "agent": "console.ticket_queue",
    "supervisor": "console.floor",
    "qa": "console.template_list",
    "admin": "console.floor",
}


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def signed_in_user() -> User | None:
    """The session's user while it is still valid (active, same password), else ``None``."""
    if "user" in g:
        return g.user
    uid = session.get("uid")
    user = db().get(User, uid) if isinstance(uid, int) else None
    if user is not None and (not user.active or session.get("pw") != _fingerprint(user)):
        session.clear()
        user = None
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
    """Only paths inside the console: never an open redirect to another site."""
    if not target:
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
            session.clear()  # a new session id for the new identity (fixation)
            session.permanent = True
            session["uid"] = user.id
            session["pw"] = _fingerprint(user)
            audit.record(session_db, users.actor_of(user), "sign_in", "console")
            session_db.commit()
            return redirect(safe_next(request.args.get("next")) or home_for(user))
    status = 401 if error else 200
    return render_template("console/login.html", error=error), status


@bp.post("/logout")
def logout() -> Response:
    user = signed_in_user()
    if user is not None:
        record("sign_out", "console")
        db().commit()
    session.clear()
    return redirect(url_for("console.login"))


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
