"""The supervisor's floor page and the quarterly OJK report download
through the real console: sign-in form, CSRF, real database.

The day seeded is the one of tests/domain/test_floor_stats.py (Friday 27 November 2026, 15:00
Jakarta); the figures are compared with what that seed says, read off the charts' ``data-value``
attributes as a browser test (or a supervisor's screen reader table) would.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from html.parser import HTMLParser

import openpyxl
import pytest
import time_machine
from sqlalchemy import func, select

from callcenter.compliance.reports import HEADERS
from callcenter.models import AuditEntry, Contact
from tests.domain.compliance.test_quarterly_report import expected_report, seed_quarter
from tests.domain.test_floor_stats import NOW, WIB, expected, seed_day

CHART_NAMES = ("calls_per_hour", "queue", "abandonment", "callbacks", "tickets_by_category",
               "tickets_by_status", "due")


class Charts(HTMLParser):
    """Every ``<figure data-chart>``: its caption, its ``data-label``/``data-value`` pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, dict[str, str]] = {}
        self.captions: dict[str, str] = {}
        self.svgs: dict[str, dict[str, str | None]] = {}
        self._chart: str | None = None
        self._depth = 0
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "figure" and found.get("data-chart"):
            self._chart, self._depth = found["data-chart"], 0
            self.values[self._chart] = {}
            self.captions[self._chart] = ""
        if self._chart is None:
            return
        if tag == "figure":
            self._depth += 1
        if tag == "figcaption":
            self._in_caption = True
        if tag == "svg":
            self.svgs[self._chart] = found
        if "data-label" in found:
            label = found["data-label"] or ""
            assert label not in self.values[self._chart], f"{self._chart}: {label} twice"
            self.values[self._chart][label] = found.get("data-value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self._in_caption = False
        if tag == "figure" and self._chart is not None:
            self._depth -= 1
            if self._depth == 0:
                self._chart = None

    def handle_data(self, data: str) -> None:
        if self._in_caption and self._chart is not None:
            self.captions[self._chart] += data


def charts_of(html: str) -> Charts:
    parser = Charts()
    parser.feed(html)
    return parser


def ints(values: dict[str, str]) -> dict[str, int]:
    return {label: int(value) for label, value in values.items()}


def audit_actions(session, action: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == action)) or 0


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_the_floor_shows_todays_figures_as_charts(console, session, frozen):
    seeded = seed_day(session)
    want = expected()
    client = console.signed_in("lina", "supervisor")
    page = client.get("/console/floor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    charts = charts_of(html)

    assert set(charts.values) == set(CHART_NAMES)
    for name in CHART_NAMES:
        assert charts.captions[name].strip(), f"{name} has no caption"
    assert ints(charts.values["calls_per_hour"]) == want["calls_per_hour"]
    assert ints(charts.values["queue"]) == {
        "waiting": 2, "agents_available": 1, "agents_on_call": 2, "longest_wait_s": 300}
    assert charts.values["abandonment"] == {"queued": "7", "abandoned": "3", "rate": "42.9"}
    assert "42.9 %" in html and "3 of 7" in html
    assert ints(charts.values["callbacks"]) == {
        "scheduled": want["scheduled"], "placed": want["placed"], "answered": want["answered"]}
    assert ints(charts.values["tickets_by_category"]) == want["by_category"]
    assert ints(charts.values["tickets_by_status"]) == want["by_status"]
    assert ints(charts.values["due"]) == {"nearing": 2, "breached": 3}

    # Breached and nearing tickets are listed with links to their pages; settled ones are not.
    for key in ("late_a_week", "late_since_yesterday", "late_this_morning", "due_today",
                "due_monday"):
        number = seeded.tickets[key].number
        assert f'<a href="/console/tickets/{number}">{number}</a>' in html
    for key in ("settled_late", "settled_due_monday", "due_tuesday"):
        assert f"/console/tickets/{seeded.tickets[key].number}" not in html
    # How late, in working days, across the weekend: 5 for the ticket due a week ago Friday.
    late_row = re.search(rf"{seeded.tickets['late_a_week'].number}</a></td>(.*?)</tr>", html,
                         re.S)
    assert late_row and '<span class="badge breached">5</span>' in late_row.group(1)

    # Scales to a phone: every chart is an SVG with a viewBox drawn at the card's full width.
    for name in CHART_NAMES:
        svg = charts.svgs[name]
        assert svg.get("viewbox") and svg.get("width") == "100%", name
    # CSP: no inline style or script (SVG presentation attributes are fine).
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert 'hx-get="/console/floor/live"' in html and 'hx-trigger="every 5s"' in html


def test_the_live_fragment_changes_after_a_new_call_and_polls_are_not_audited(
        console, session, frozen):
    seed_day(session)
    client = console.signed_in("lina", "supervisor")
    assert client.get("/console/floor").status_code == 200
    assert audit_actions(session, "view_floor") == 1

    before = client.get("/console/floor/live", headers={"HX-Request": "true"})
    assert before.status_code == 200
    fragment = before.get_data(as_text=True)
    assert "<html" not in fragment and 'id="floor-live"' in fragment
    assert 'hx-trigger="every 5s"' in fragment  # the swapped-in fragment keeps polling
    hour = f"{NOW.hour:02d}"
    assert charts_of(fragment).values["calls_per_hour"][hour] == "0"

    session.add(Contact(channel="voice", direction="inbound", kind="customer",
                        external_id="CA-new-call", status="in-progress", started_at=NOW,
                        queue_state="waiting", queued_at=NOW))
    session.commit()
    after = charts_of(client.get("/console/floor/live").get_data(as_text=True))
    assert after.values["calls_per_hour"][hour] == "1"
    assert after.values["queue"]["waiting"] == "3"
    assert after.values["abandonment"] == {"queued": "8", "abandoned": "3", "rate": "37.5"}
    assert audit_actions(session, "view_floor") == 1  # polling left no audit rows


def test_the_floor_is_for_supervisors_and_admins(console, session):
    stranger = console.client()
    assert stranger.get("/console/floor").status_code == 302
    assert stranger.get("/console/floor/live", headers={"HX-Request": "true"}).status_code == 401
    agent = console.signed_in("sari", "agent")
    for url in ("/console/floor", "/console/floor/live",
                "/console/reports/quarterly?year=2026&quarter=4&format=csv"):
        assert agent.get(url).status_code == 403, url
    qa = console.signed_in("quinn", "qa")
    assert qa.get("/console/floor").status_code == 403
    admin = console.signed_in("ade", "admin")
    assert admin.get("/console/floor").status_code == 200
    assert audit_actions(session, "download_report") == 0


def test_an_empty_floor_still_draws_every_chart(console):
    client = console.signed_in("lina", "supervisor")
    html = client.get("/console/floor").get_data(as_text=True)
    charts = charts_of(html)
    assert set(charts.values) == set(CHART_NAMES)
    # No caller queued: no rate at all (not 0 %), and the counts say why.
    assert charts.values["abandonment"] == {"queued": "0", "abandoned": "0"}
    assert "no caller queued yet today" in html
    assert ints(charts.values["due"]) == {"nearing": 0, "breached": 0}


@time_machine.travel(datetime(2027, 1, 4, 9, tzinfo=WIB), tick=False)
def test_the_report_form_downloads_the_quarter_as_csv_and_xlsx(console, session):
    facts = seed_quarter(session)
    table, totals = expected_report(facts)
    client = console.signed_in("lina", "supervisor")
    page = client.get("/console/floor").get_data(as_text=True)
    # The form offers the quarter whose report is due next (Q4 2026 in January 2027).
    assert 'action="/console/reports/quarterly"' in page
    assert 'name="year" type="number"' in page and 'value="2026"' in page
    assert '<option value="4" selected>Q4</option>' in page

    reply = client.get("/console/reports/quarterly?year=2026&quarter=4&format=csv")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert reply.headers["Content-Disposition"] == 'attachment; filename="pengaduan-2026-Q4.csv"'
    lines = list(csv.reader(io.StringIO(reply.get_data().decode("utf-8-sig"))))

    def as_text(values: list) -> list[str]:
        return ["" if v is None else str(v) for v in values]

    assert lines[0] == list(HEADERS)
    assert {(a, b): rest for a, b, *rest in lines[1:-1]} == {
        k: as_text(v) for k, v in table.items()}
    assert lines[-1] == ["Total", "", *as_text(totals)]

    reply = client.get("/console/reports/quarterly?year=2026&quarter=4&format=xlsx")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert reply.headers["Content-Disposition"] == (
        'attachment; filename="pengaduan-2026-Q4.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(reply.get_data())).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    title = {row[0]: row[1] for row in values[:values.index([None] * len(values[0]))]}
    assert title["Periode"] == "Q4 2026 (1 Oktober – 31 Desember 2026)"
    assert title["Batas waktu penyampaian"] == "10 Januari 2027"
    header_index = values.index(list(HEADERS))
    assert header_index == len(title) + 1  # the title block, a blank row, the table
    assert values[header_index] == list(HEADERS)
    body = values[header_index + 1:]
    assert {(a, b): rest for a, b, *rest in body[:-1]} == table
    assert body[-1] == ["Total", None, *totals]

    session.expire_all()
    downloads = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "download_report").order_by(AuditEntry.id)).all()
    assert [(d.actor, d.subject, d.detail) for d in downloads] == [
        ("user:lina", "report:2026-Q4", "csv"), ("user:lina", "report:2026-Q4", "xlsx")]


@pytest.mark.parametrize("query, message", [
    ("year=2026&quarter=5&format=csv", "quarter must be 1, 2, 3 or 4"),
    ("year=1999&quarter=1&format=xlsx", "year must be between 2000 and 2100"),
    ("year=next&quarter=1&format=csv", "Give the report&#39;s year and quarter as numbers."),
    ("quarter=1", "Give the report&#39;s year and quarter as numbers."),
    ("year=2026&quarter=1&format=pdf", "The report comes as CSV or XLSX."),
])
def test_a_bad_report_request_says_why_and_downloads_nothing(console, session, query, message):
    client = console.signed_in("lina", "supervisor")
    reply = client.get(f"/console/reports/quarterly?{query}")
    assert reply.status_code == 303 and reply.headers["Location"] == "/console/floor"
    assert "Content-Disposition" not in reply.headers
    page = client.get("/console/floor").get_data(as_text=True)
    assert message in page and 'role="status"' in page
    assert audit_actions(session, "download_report") == 0
