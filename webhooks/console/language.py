"""The console's "Bahasa / Language" switch: each person reads the console in Indonesian (the
default) or English, stored on their user so it follows them to every device and sign-in
(CONTRACT "Console language"). Audited like every change (``set_language``)."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from werkzeug.wrappers import Response

from callcenter.people import users
from webhooks.console.auth import current_user, login_required, record, safe_next
from webhooks.console.blueprint import bp
from webhooks.context import db
from webhooks.i18n import LANGUAGE_NAMES, gettext, refresh


@bp.post("/language")
@login_required()
def set_language() -> Response:
    """Switch to ``language`` (id or en) and go back to the page the switch was on."""
    user = current_user()
    back = safe_next(request.form.get("next")) or url_for("console.home")
    choice = request.form.get("language", "")
    before = user.language
    try:
        changed = users.set_language(user, choice)
    except users.UserError:
        flash(gettext("Choose Bahasa Indonesia or English."), "error")
        return redirect(back, code=303)
    if changed:
        record("set_language", f"user:{user.username}", f"{before} -> {choice}")
        db().commit()
    refresh()  # the message below is in the new language
    flash(gettext("The console is now in %(language)s.", language=LANGUAGE_NAMES[choice]),
          "success")
    return redirect(back, code=303)
