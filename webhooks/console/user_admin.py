"""The admin's "People" page: who may sign in to the console, with which role.

Admins only (everyone else gets 403). Each change is one function of
:mod:`callcenter.people.admin` (no Flask; ``callcenter users add`` calls it too), which applies
the rules of :mod:`callcenter.people.users` and writes the audit row: create a user, change the
role, deactivate / reactivate, lift a lock-out, set a new password and link the user to an
agent (or create that agent).

- ``GET /console/users``: every user with role, active, locked, linked agent (phone masked),
  created; the form to add one. One ``view_users`` audit row per view.
- ``GET /console/users/<id>``: one user and the forms that change them (``view_user``).
- ``POST`` routes below: each change is audited by the domain (``create_user``, ``change_role``,
  ``deactivate_user``, ``reactivate_user``, ``unlock_user``, ``reset_password``,
  ``link_agent``, ``create_agent``; subject ``user:<username>``; never a password), then
  POST-redirect-GET with a flash message. A refusal (:class:`callcenter.people.users.UserError`,
  :class:`callcenter.voice.agents.AgentError`) is shown on the page again with what was typed (never
  the password) and a 4xx status.

Sessions follow the database at each request (webhooks/console/auth.py): a new role applies at
once; a deactivation or a new password ends the user's sessions on the server
(:func:`callcenter.people.admin.set_active`, ``reset_password``), copied cookies included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select

from callcenter import display
from callcenter.models import Agent, User
from callcenter.people import admin, users
from callcenter.phones import InvalidPhone
from callcenter.voice import agents
from webhooks.console.auth import actor, current_user, login_required, open_sessions, record
from webhooks.console.blueprint import bp
from webhooks.context import db, settings
from webhooks.i18n import code_label, gettext, translate
from webhooks.params import row_id

LIST_LIMIT = 1000
ROLE_LABELS = {"agent": "Agent", "supervisor": "Supervisor", "qa": "QA", "admin": "Admin"}


def _role(role: str) -> str:
    """A role as a word in the reader's language."""
    return code_label(role, "role")


def _local(value: datetime | None) -> str:
    return display.local_time(value, settings().timezone, "%Y-%m-%d %H:%M")


def _user(user_id: int) -> User:
    found = db().get(User, user_id)
    if found is None:
        abort(404, gettext("No such user."))
    return found


def _subject(user: User) -> str:
    return f"user:{user.username}"


def _common() -> dict[str, Any]:
    return {"roles": ROLE_LABELS, "local": _local, "address": agents.masked_address,
            "is_locked": users.is_locked, "min_password": users.MIN_PASSWORD}


def _list_page(form: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    rows = db().execute(
        select(User, Agent).outerjoin(Agent, Agent.id == User.agent_id)
        .order_by(User.username).limit(LIST_LIMIT)).all()
    html = render_template("console/users/list.html", rows=rows, form=form or {},
                           me=current_user(), truncated=len(rows) >= LIST_LIMIT, **_common())
    return html, status


def _user_page(user: User, agent_form: dict[str, str] | None = None,
               status: int = 200) -> tuple[str, int]:
    session_db = db()
    agent_list = list(session_db.scalars(select(Agent).order_by(Agent.name)))
    linked_to = {agent_id: username for agent_id, username in session_db.execute(
        select(User.agent_id, User.username).where(User.agent_id.is_not(None)))}
    agent = session_db.get(Agent, user.agent_id) if user.agent_id is not None else None
    html = render_template("console/users/user.html", user=user, agent=agent,
                           agents=agent_list, linked_to=linked_to, me=current_user(),
                           agent_form=agent_form or {}, **_common())
    return html, status


def _done(user: User, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("console.user_page", user_id=user.id))


def _refused(user: User, prefix: str, exc: Exception) -> Response:
    """``prefix`` is already in the reader's language; the refusal is translated if marked."""
    db().rollback()
    flash(gettext("%(what)s: %(reason)s.", what=prefix, reason=translate(exc)), "error")
    return redirect(url_for("console.user_page", user_id=user.id))


@bp.get("/users")
@login_required("admin")
def user_list() -> tuple[str, int]:
    """Everyone who may (or no longer may) sign in, and the form to add someone."""
    record("view_users", "users")
    db().commit()
    return _list_page()


@bp.post("/users")
@login_required("admin")
def user_create() -> Response | tuple[str, int]:
    form = {"username": (request.form.get("username") or "").strip(),
            "role": request.form.get("role") or ""}
    session_db = db()
    try:
        user = admin.add_user(session_db, form["username"], request.form.get("password") or "",
                              form["role"], actor=actor())
    except users.UserError as exc:
        session_db.rollback()
        flash(gettext("User not added: %(reason)s.", reason=translate(exc)), "error")
        return _list_page(form, 400)
    session_db.commit()
    flash(gettext("%(user)s added as %(role)s; they can sign in now.", user=user.username,
                  role=_role(user.role)), "success")
    return redirect(url_for("console.user_list"))


@bp.get("/users/<int:user_id>")
@login_required("admin")
def user_page(user_id: int) -> tuple[str, int]:
    user = _user(user_id)
    record("view_user", _subject(user))
    db().commit()
    return _user_page(user)


@bp.post("/users/<int:user_id>/role")
@login_required("admin")
def user_role(user_id: int) -> Response:
    user = _user(user_id)
    me = current_user()
    try:
        old = admin.change_role(db(), user, request.form.get("role") or "", actor=actor())
    except users.UserError as exc:
        return _refused(user, gettext("Role not changed"), exc)
    if old == user.role:
        flash(gettext("%(user)s is %(role)s already.", user=user.username, role=_role(old)),
              "info")
        return redirect(url_for("console.user_page", user_id=user.id))
    db().commit()
    flash(gettext("%(user)s is now %(role)s (from their next page).", user=user.username,
                  role=_role(user.role)), "success")
    if user.id == me.id:  # an admin who stepped down can no longer open this page
        return redirect(url_for("console.home"))
    return redirect(url_for("console.user_page", user_id=user.id))


def _set_active(user_id: int, active: bool) -> Response:
    user = _user(user_id)
    try:
        changed = admin.set_active(db(), user, active, by=current_user(), actor=actor(),
                                   sessions=open_sessions())
    except users.UserError as exc:
        return _refused(user, gettext("Not deactivated") if not active
                        else gettext("Not reactivated"), exc)
    if not changed:
        flash(gettext("%(user)s is active already.", user=user.username) if active
              else gettext("%(user)s is deactivated already.", user=user.username), "info")
        return redirect(url_for("console.user_page", user_id=user.id))
    db().commit()
    if active:
        return _done(user, gettext("%(user)s is active again and can sign in.",
                                   user=user.username))
    return _done(user, gettext("%(user)s is deactivated: signed out everywhere and cannot "
                               "sign in.", user=user.username))


@bp.post("/users/<int:user_id>/deactivate")
@login_required("admin")
def user_deactivate(user_id: int) -> Response:
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/reactivate")
@login_required("admin")
def user_reactivate(user_id: int) -> Response:
    return _set_active(user_id, True)


@bp.post("/users/<int:user_id>/unlock")
@login_required("admin")
def user_unlock(user_id: int) -> Response:
    user = _user(user_id)
    was_locked = admin.unlock(db(), user, actor=actor())
    db().commit()
    if not was_locked:
        return _done(user, gettext("%(user)s was not locked; failed attempts reset.",
                                   user=user.username))
    return _done(user, gettext("%(user)s is unlocked and can sign in now.", user=user.username))


@bp.post("/users/<int:user_id>/password")
@login_required("admin")
def user_password(user_id: int) -> Response:
    """A new password; the user's open sessions end (the admin's own too: sign in again)."""
    user = _user(user_id)
    try:
        admin.reset_password(db(), user, request.form.get("password") or "", actor=actor(),
                             sessions=open_sessions())
    except users.UserError as exc:
        return _refused(user, gettext("Password not changed"), exc)
    db().commit()
    if user.id == current_user().id:
        session.clear()
        flash(gettext("Your password is changed: sign in with the new one."), "success")
        return redirect(url_for("console.login"))
    return _done(user, gettext("New password set for %(user)s; their open sessions have ended.",
                               user=user.username))


def _agent_id(raw: str | None) -> int | None:
    """The agent chosen in the list, or None for "no agent"; 400 for anything else."""
    if not raw:
        return None
    agent_id = row_id(raw)
    if agent_id is None:
        abort(400, gettext("Choose an agent from the list."))
    return agent_id


@bp.post("/users/<int:user_id>/agent")
@login_required("admin")
def user_link_agent(user_id: int) -> Response:
    user = _user(user_id)
    try:
        agent = admin.link_agent(db(), user, _agent_id(request.form.get("agent_id")),
                                 actor=actor())
    except users.UserError as exc:
        return _refused(user, gettext("Agent not linked"), exc)
    db().commit()
    if agent is None:
        return _done(user, gettext("%(user)s is no longer linked to an agent.",
                                   user=user.username))
    return _done(user, gettext("%(user)s is linked to agent %(agent)s.", user=user.username,
                               agent=agent.name))


@bp.post("/users/<int:user_id>/agent/new")
@login_required("admin")
def user_new_agent(user_id: int) -> Response | tuple[str, int]:
    """Register an agent (phone number or Twilio Client identity) and link it to the user."""
    user = _user(user_id)
    form = {name: (request.form.get(name) or "").strip()
            for name in ("name", "phone", "client_identity")}
    session_db = db()
    try:
        agent = admin.add_agent_for(session_db, user, name=form["name"],
                                    phone=form["phone"] or None,
                                    client_identity=form["client_identity"] or None,
                                    actor=actor())
    except (agents.AgentError, InvalidPhone, users.UserError) as exc:
        session_db.rollback()
        message = (gettext("phone number: %(reason)s", reason=translate(exc))
                   if isinstance(exc, InvalidPhone) else translate(exc))
        flash(gettext("Agent not added: %(reason)s.", reason=message), "error")
        return _user_page(user, form, 400)
    session_db.commit()
    return _done(user, gettext("Agent %(agent)s (%(address)s) added and linked to %(user)s.",
                               agent=agent.name, address=agents.masked_address(agent),
                               user=user.username))
