"""The supervisor's floor and the quarterly OJK report download.

* ``GET /console/floor`` — today's figures as server-rendered SVG bar charts, each with a text
  table for screen readers; opening it is audited (``view_floor``).
* ``GET /console/floor/live`` — the same charts as a fragment; the page's htmx polls it every
  5 s and swaps it in place (not audited: a supervisor leaving the page open would write a row
  every 5 s).
* ``GET /console/reports/quarterly?year=&quarter=&format=csv|xlsx`` — the quarterly complaint
  report (POJK 18/POJK.07/2018; SEOJK 17/SEOJK.07/2018), the same file as
  ``callcenter report quarterly``; audited (``download_report``).

The figures and their definitions are in :mod:`callcenter.floor_stats`.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, flash, redirect, render_template, request, url_for

from callcenter import display
from callcenter.compliance import reports
from callcenter.floor_stats import FloorStats, floor_stats
from webhooks.console.auth import login_required, record
from webhooks.console.blueprint import bp
from webhooks.context import db, settings
from webhooks.i18n import gettext, translate

FORMATS = {
    "csv": ("text/csv; charset=utf-8", reports.write_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             reports.write_xlsx),
}
def last_quarter(now: datetime, tz: str) -> tuple[int, int]:
    """The quarter whose report is due next: the one before today's (local) quarter."""
    local = now.astimezone(ZoneInfo(tz))
    quarter = (local.month - 1) // 3 + 1
    return (local.year, quarter - 1) if quarter > 1 else (local.year - 1, 4)


def _view_model(stats: FloorStats) -> dict[str, Any]:
    return {
        "stats": stats,
        "updated": display.local_time(stats.now, stats.tz, "%H:%M:%S %Z"),
        # (code, words, count): the chart shows each code's label in the reader's language
        "category_bars": [(b.label, b.label, b.value) for b in stats.open_by_category],
        "status_bars": [(b.label, b.label, b.value) for b in stats.open_by_status],
        "local": lambda moment: display.local_time(moment, stats.tz, "%Y-%m-%d %H:%M"),
    }


@bp.get("/floor")
@login_required("supervisor")
def floor() -> str:
    stats = floor_stats(db(), settings())
    year, quarter = last_quarter(stats.now, stats.tz)
    record("view_floor", "floor", stats.day.isoformat())
    db().commit()
    return render_template("console/floor/page.html", report_year=year,
                           report_quarter=quarter, **_view_model(stats))


@bp.get("/floor/live")
@login_required("supervisor")
def floor_live() -> str:
    """The charts only, for the 5-second htmx poll (no audit row per poll)."""
    return render_template("console/floor/_live.html", **_view_model(floor_stats(db(),
                                                                                  settings())))


def _bad_report_request(message: str) -> Response:
    flash(message, "error")
    return redirect(url_for("console.floor"), code=303)  # type: ignore[return-value]


@bp.get("/reports/quarterly")
@login_required("supervisor")
def quarterly_report() -> Response:
    """The quarterly complaint report as a download (CSV or XLSX)."""
    year = request.args.get("year", type=int)
    quarter = request.args.get("quarter", type=int)
    kind = request.args.get("format", "csv")
    if year is None or quarter is None:
        return _bad_report_request(gettext("Give the report's year and quarter as numbers."))
    if kind not in FORMATS:
        return _bad_report_request(gettext("The report comes as CSV or XLSX."))
    try:
        report = reports.quarterly_report(db(), settings(), year, quarter)
    except reports.ReportError as exc:
        return _bad_report_request(gettext("No report: %(reason)s.", reason=translate(exc)))
    mimetype, write = FORMATS[kind]
    filename = f"{report.basename}.{kind}"
    with tempfile.TemporaryDirectory(prefix="cc-report-") as folder:
        data = write(report, Path(folder) / filename).read_bytes()
    record("download_report", f"report:{year}-Q{quarter}", kind)
    db().commit()
    response = Response(data, content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
