"""``callcenter import-customers``: the lender's CSV upserted by ``order_id`` (CONTRACT).

A bad row is reported with its line number and reason and skipped; good rows are kept.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import Customer
from callcenter.phones import InvalidPhone, to_e164

REQUIRED = ("order_id", "name", "phone", "email", "product", "application_status",
            "amount_due", "due_date", "va_bank", "va_number")
OPTIONAL = ("timezone",)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
BATCH = 500


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class BadFile(ValueError):
    """The file as a whole cannot be read (no header, wrong columns, not UTF-8)."""


def parse_row(row: dict[str, str | None]) -> dict[str, Any]:
    """Validate one CSV row into Customer fields; raises ValueError with the reason."""
    values = {k: (v or "").strip() for k, v in row.items() if k}
    if None in row:
        raise ValueError("more fields than the header has")
    if not values.get("order_id"):
        raise ValueError("order_id is empty")
    if not values.get("name"):
        raise ValueError("name is empty")
    try:
        phone = to_e164(values.get("phone", ""))
    except InvalidPhone as exc:
        raise ValueError(f"phone {_masked(values.get('phone', ''))} is not valid ({exc})") from exc
    email = values.get("email") or None
    if email and not _EMAIL.match(email):
        raise ValueError("email is not an address")
    amount_text = values.get("amount_due", "").replace(".", "").replace(",", "")
    amount = None
    if amount_text:
        if not amount_text.isdigit():
            raise ValueError("amount_due must be whole Rupiah")
        amount = int(amount_text)
    due = None
    if values.get("due_date"):
        try:
            due = date.fromisoformat(values["due_date"])
        except ValueError as exc:
            raise ValueError("due_date must be YYYY-MM-DD") from exc
    tz = values.get("timezone") or None
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone {tz!r} is not an IANA zone") from exc
    va_number = values.get("va_number") or None
    if va_number and not va_number.isdigit():
        raise ValueError("va_number must be digits")
    return {
        "order_id": values["order_id"],
        "name": values["name"],
        "phone": phone,
        "email": email,
        "product": values.get("product") or None,
        "application_status": values.get("application_status") or None,
        "amount_due": amount,
        "due_date": due,
        "va_bank": values.get("va_bank") or None,
        "va_number": va_number,
        "timezone": tz,
    }


def import_customers(session: Session, stream: TextIO) -> ImportReport:
    """Upsert every good row; commit in batches so a large file does not hold one lock."""
    reader = csv.DictReader(stream)
    try:
        header = reader.fieldnames
    except UnicodeDecodeError as exc:
        raise BadFile("the file is not UTF-8") from exc
    if not header:
        raise BadFile("the file is empty: a header row is required")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BadFile(f"missing columns: {', '.join(missing)}")
    report = ImportReport()
    pending = 0
    for line, row in _rows(reader):
        try:
            fields = parse_row(row)
        except ValueError as exc:
            report.errors.append(RowError(line, str(exc)))
            continue
        existing = session.scalars(
            select(Customer).where(Customer.order_id == fields["order_id"])).first()
        if existing is None:
            session.add(Customer(**fields))
            report.inserted += 1
        else:
            for name, value in fields.items():
                setattr(existing, name, value)
            report.updated += 1
        pending += 1
        if pending >= BATCH:
            session.commit()
            pending = 0
    session.commit()
    return report


def _rows(reader: csv.DictReader[str]) -> Iterable[tuple[int, dict[str, str | None]]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise BadFile(f"line {reader.line_num + 1}: the file is not UTF-8") from exc
        yield reader.line_num, row


def _masked(phone: str) -> str:
    return phone[:3] + "…" if len(phone) > 3 else "…"
