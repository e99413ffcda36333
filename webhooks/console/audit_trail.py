"""The audit trail for supervisors: who saw or changed what.

``GET /console/audit`` lists audit rows newest first, 100 a page, filtered by actor, action,
subject (``ticket:1000017``) and a date range in the centre's zone. Pages are keyset-paginated
by id (``?before=<id>``), so the thousandth page costs what the first does. The page is
read-only: it has no route that edits or deletes, and the product has no other (audit rows are
only ever added, :mod:`callcenter.audit`). Reading the trail is itself audited (``view_audit``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import abort, render_template, request, url_for
from sqlalchemy import or_, select

from callcenter import display
from callcenter.i18n import Msg
from callcenter.models import AuditEntry
from webhooks.console.auth import login_required, record
from webhooks.console.blueprint import bp
from webhooks.context import db, settings
from webhooks.i18n import gettext
from webhooks.params import row_id

PAGE_SIZE = 100
FILTERS = ("actor", "action", "subject", "from", "to")


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@bp.get("/audit")
@login_required("supervisor")
def audit_trail() -> str:
    """Newest first; ``before`` is the last id of the previous page (keyset pagination)."""
    zone = ZoneInfo(settings().timezone)
    given = {name: (request.args.get(name) or "").strip()[:120] for name in FILTERS}
    errors: list[str] = []
    query = select(AuditEntry)
    if given["actor"]:
        actor = given["actor"]
        # "sari" finds the console user "user:sari"; a full actor ("api:token") matches itself.
        query = query.where(or_(AuditEntry.actor == actor, AuditEntry.actor == f"user:{actor}"))
    if given["action"]:
        query = query.where(AuditEntry.action == given["action"])
    if given["subject"]:
        query = query.where(AuditEntry.subject == given["subject"])
    for name, label in (("from", gettext("From")), ("to", gettext("To"))):
        if given[name] and _day(given[name]) is None:
            errors.append(gettext("%(field)s: give a date as YYYY-MM-DD.", field=label))
            given[name] = ""
    start, end = _day(given["from"]), _day(given["to"])
    if start is not None:
        query = query.where(AuditEntry.at >= datetime.combine(start, time(0), tzinfo=zone))
    if end is not None:
        query = query.where(
            AuditEntry.at < datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone))
    before = None
    if request.args.get("before"):
        before = row_id(request.args["before"])
        if before is None:  # a page link of ours always names a row id
            abort(400, Msg("That page of the trail does not exist; open the newest page instead."))
        query = query.where(AuditEntry.id < before)
    rows = list(db().scalars(query.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]

    active = {name: value for name, value in given.items() if value}
    older = None
    if more:
        older = url_for("console.audit_trail") + "?" + urlencode(
            {**active, "before": rows[-1].id})
    newest = url_for("console.audit_trail") + ("?" + urlencode(active) if active else "")

    detail = urlencode({**active, **({"before": before} if before is not None else {})})
    record("view_audit", "audit", detail or None)
    db().commit()

    def local(moment: datetime) -> str:
        return display.local_time(moment, settings().timezone, "%Y-%m-%d %H:%M:%S %Z")

    context: dict[str, Any] = {
        "rows": rows, "given": given, "errors": errors, "older": older,
        "newest": newest if before is not None else None, "local": local,
        "page_size": PAGE_SIZE, "tz": settings().timezone,
    }
    return render_template("console/audit/page.html", **context)
