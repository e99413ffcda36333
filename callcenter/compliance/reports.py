"""The quarterly complaint report to OJK.

POJK 18/POJK.07/2018 (and SEOJK 17/SEOJK.07/2018) require a complaint-service report every
quarter, due the 10th of the month after the quarter; POJK 22/2023 keeps periodic reporting.
No public template of OJK's form was found, so the table carries what those texts ask for:
complaints received, settled and still in progress, by product and by category, settled within
and after the deadline, and the average time to settle.

Definitions (quarter bounds are local midnight in ``CALLCENTER_TZ``, not UTC):

* *received*: ``opened_at`` inside the quarter;
* *settled*: settled (status not open/pending) with ``resolved_at`` inside the quarter;
* *in progress*: received before the quarter's end and not settled by it (still open, or
  settled after the end);
* *within / after deadline*: of the settled, ``resolved_at`` ≤ / > the stored ``due_at`` (which
  carries an extension; :func:`regulation.compute_due` when none is stored);
* *average days to settle*: of the settled, ``resolved_at − opened_at`` in calendar days, and
  in working days (:class:`regulation.WorkCalendar`), 1 decimal, half up.

Questions and information requests (``inquiry``, ``unverified``) are counted apart (FACTS
"Complaint categories"): ``Report.inquiries_received``.

Products, category codes and the lender's name come from data others typed; a spreadsheet
would run one that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a
formula. Both files keep such text inert (OWASP "CSV Injection"): the CSV cell gets a leading
``'``, the XLSX cell is stored as text with Excel's quote prefix (what Excel itself stores
when someone types ``'=…``), so it shows the name as written and never evaluates it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.i18n import Msg
from callcenter.models import Ticket

UNKNOWN_PRODUCT = "Tidak diketahui"
CATEGORY_LABELS = {
    "payment_detail": "Detail pembayaran",
    "app_failure": "Kegagalan aplikasi/sistem",
    "agent_request": "Permintaan bicara dengan petugas",
    "callback_request": "Permintaan telepon balik",
    # FACTS "Complaint categories" (OJK statistics for fintech lending)
    "collector_behaviour": "Perilaku penagih",
    "restructuring": "Permintaan restrukturisasi",
    "external_fraud": "Penipuan eksternal",
    "data_misuse": "Penyalahgunaan data pribadi",
    "failed_transaction": "Transaksi gagal/terlambat",
    "interest_penalty": "Bunga dan denda",
    "other": "Lainnya",
    "inquiry": "Pertanyaan/permintaan informasi",
    "unverified": "Belum terverifikasi",
}
HEADERS = (
    "Produk",
    "Kategori",
    "Diterima",
    "Selesai",
    "Dalam proses",
    "Selesai tepat waktu",
    "Selesai terlambat",
    "Rata-rata hari penyelesaian",
    "Rata-rata hari kerja penyelesaian",
)
TOTAL_LABEL = "Total"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


class ReportError(ValueError):
    """A report that cannot be made (bad quarter); the message is for the operator."""


def category_label(code: str) -> str:
    return CATEGORY_LABELS.get(code, code)


def quarter_bounds(year: int, quarter: int, tz: str) -> tuple[datetime, datetime]:
    """Local midnight at the quarter's first day and at the next quarter's first day."""
    if quarter not in (1, 2, 3, 4):
        raise ReportError(Msg("quarter must be 1, 2, 3 or 4, got %(quarter)s", quarter=quarter))
    if not 2000 <= year <= 2100:
        raise ReportError(Msg("year must be between 2000 and 2100, got %(year)s", year=year))
    zone = ZoneInfo(tz)
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=zone)
    end = (datetime(year + 1, 1, 1, tzinfo=zone) if quarter == 4
           else datetime(year, 3 * quarter + 1, 1, tzinfo=zone))
    return start, end


def last_full_quarter(today: date) -> tuple[int, int]:
    """(year, quarter) of the last quarter that has ended by ``today``: the one a report is
    usually written for (run on 2026-11-30 → 2026 Q3; on 2027-01-04 → 2026 Q4)."""
    current = (today.month - 1) // 3 + 1
    return (today.year - 1, 4) if current == 1 else (today.year, current - 1)


def report_due_date(year: int, quarter: int) -> date:
    """The 10th of the month after the quarter (POJK 18/2018; SEOJK 17/2018)."""
    return date(year + 1, 1, 10) if quarter == 4 else date(year, 3 * quarter + 1, 10)


def _average(values: list[float]) -> Decimal | None:
    if not values:
        return None
    mean = Decimal(str(sum(values))) / Decimal(len(values))
    return mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class Row:
    product: str
    category: str  # code; :func:`category_label` for display
    received: int = 0
    settled: int = 0
    in_progress: int = 0
    settled_in_time: int = 0
    settled_late: int = 0
    days_to_settle: list[float] = field(default_factory=list, repr=False)
    working_days_to_settle: list[int] = field(default_factory=list, repr=False)

    @property
    def average_days(self) -> Decimal | None:
        return _average(self.days_to_settle)

    @property
    def average_working_days(self) -> Decimal | None:
        return _average([float(d) for d in self.working_days_to_settle])

    def add(self, other: Row) -> None:
        self.received += other.received
        self.settled += other.settled
        self.in_progress += other.in_progress
        self.settled_in_time += other.settled_in_time
        self.settled_late += other.settled_late
        self.days_to_settle.extend(other.days_to_settle)
        self.working_days_to_settle.extend(other.working_days_to_settle)

    def cells(self) -> list[object]:
        average = self.average_days
        working = self.average_working_days
        label = self.category if self.product == TOTAL_LABEL else category_label(self.category)
        return [self.product, label, self.received, self.settled, self.in_progress,
                self.settled_in_time, self.settled_late,
                None if average is None else float(average),
                None if working is None else float(working)]


@dataclass
class Report:
    lender: str
    year: int
    quarter: int
    start: datetime  # local midnight, inclusive
    end: datetime  # local midnight, exclusive
    due_date: date
    rules: str
    rows: list[Row]
    total: Row
    inquiries_received: int = 0

    @property
    def period_label(self) -> str:
        """``Q4 2026 (1 Oktober – 31 Desember 2026)``: Indonesian month names (babel)."""
        last = (self.end.date().toordinal() - 1)
        last_day = date.fromordinal(last)
        first = format_date(self.start.date(), "d MMMM", locale="id")
        final = format_date(last_day, "d MMMM yyyy", locale="id")
        return f"Q{self.quarter} {self.year} ({first} – {final})"

    @property
    def due_label(self) -> str:
        return format_date(self.due_date, "d MMMM yyyy", locale="id")

    @property
    def basename(self) -> str:
        return f"pengaduan-{self.year}-Q{self.quarter}"


def quarterly_report(session: Session, settings: Settings, year: int, quarter: int,
                     include_inquiries: bool = False) -> Report:
    """The complaint report for ``quarter`` of ``year``; rows by product × category."""
    start, end = quarter_bounds(year, quarter, settings.timezone)
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    calendar = regulation.WorkCalendar.from_settings(settings)
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.opened_at < end_utc,
               or_(Ticket.resolved_at.is_(None), Ticket.resolved_at >= start_utc))
        .options(selectinload(Ticket.customer), selectinload(Ticket.required_documents))
        .order_by(Ticket.opened_at, Ticket.id)
    ).all()
    rows: dict[tuple[str, str], Row] = {}
    inquiries = 0
    for ticket in tickets:
        received = start_utc <= ticket.opened_at < end_utc
        if not include_inquiries and not regulation.is_complaint(ticket):
            inquiries += received
            continue
        product = (ticket.customer.product if ticket.customer else None) or UNKNOWN_PRODUCT
        key = (product, ticket.category)
        row = rows.get(key) or rows.setdefault(key, Row(product, ticket.category))
        settled = regulation.is_settled(ticket) and ticket.resolved_at is not None
        row.received += received
        if settled and ticket.resolved_at is not None and ticket.resolved_at < end_utc:
            if ticket.resolved_at >= start_utc:
                row.settled += 1
                due = ticket.due_at or regulation.compute_due(ticket, session, settings)
                if due is None or ticket.resolved_at <= due:
                    row.settled_in_time += 1
                else:
                    row.settled_late += 1
                row.days_to_settle.append(
                    (ticket.resolved_at - ticket.opened_at).total_seconds() / 86400)
                row.working_days_to_settle.append(regulation.working_days_between(
                    ticket.opened_at, ticket.resolved_at, calendar))
        else:
            row.in_progress += 1
    ordered = [rows[k] for k in sorted(rows)]
    ordered = [r for r in ordered if r.received or r.settled or r.in_progress]
    total = Row(TOTAL_LABEL, "")
    for row in ordered:
        total.add(row)
    return Report(settings.lender_name, year, quarter, start, end,
                  report_due_date(year, quarter), regulation.rules_for(settings).citation,
                  ordered, total, inquiries)


def _table(report: Report) -> list[list[object]]:
    return [list(HEADERS), *(r.cells() for r in report.rows), report.total.cells()]


def looks_like_formula(value: object) -> bool:
    """Text a spreadsheet would evaluate (OWASP "CSV Injection")."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def csv_cell(value: object) -> object:
    """A cell as written to the CSV: formula-looking text behind a ``'``, None empty."""
    if value is None:
        return ""
    return f"'{value}" if looks_like_formula(value) else value


def write_csv(report: Report, path: Path) -> Path:
    """The table only (header, one line per product × category, the total), UTF-8 with BOM so
    Excel opens it with the right characters; decimals with a dot, empty when nothing settled;
    formula-looking text escaped."""
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream)
        for line in _table(report):
            writer.writerow([csv_cell(cell) for cell in line])
    return path


def title_block(report: Report) -> list[tuple[str, str]]:
    return [
        ("Laporan Pengaduan Konsumen", ""),
        ("Pelaku Usaha Jasa Keuangan", report.lender),
        ("Periode", report.period_label),
        ("Batas waktu penyampaian", report.due_label),
        ("Ketentuan", report.rules),
        ("Pertanyaan/permintaan informasi (di luar pengaduan)", str(report.inquiries_received)),
    ]


def write_xlsx(report: Report, path: Path) -> Path:
    """One sheet: the title block, a blank row, then the table (bold header and total)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"Q{report.quarter} {report.year}"
    for label, value in title_block(report):
        sheet.append([label, value] if value else [label])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    header_row = sheet.max_row + 1
    for line in _table(report):
        sheet.append(line)
    for row in sheet.iter_rows():
        for cell in row:
            if looks_like_formula(cell.value):
                # openpyxl stores text starting with "=" as a formula: make it text again.
                cell.data_type = "s"
                cell.quotePrefix = True
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDEFGHI", (24, 34, 10, 10, 13, 19, 17, 27, 31), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    book.save(path)
    return path


def table_start_row(report: Report) -> int:
    """1-based row of the XLSX header (after the title block and one blank row)."""
    return len(title_block(report)) + 2
