"""The regulatory clock of a complaint (FACTS "Complaint-handling regulation").

Figures, selected by ``COMPLAINT_RULES``:

* ``pojk22_2023`` (default) — POJK 22/2023 on consumer protection in the financial services
  sector, as lenders' published procedures apply it: an oral complaint (phone, walk-in) is
  settled within **5 working days**; a written one (email, letter, social media) within
  **10 working days** from the day its documents are complete, extendable **once by 10** working
  days with written notice to the customer before the first period ends.
* ``pojk18_2018`` — POJK 18/POJK.07/2018 (with SEOJK 17/SEOJK.07/2018): oral 5; written 20,
  extendable once by 20.

Under both, an oral complaint not settled within its period is turned into a written one: the
customer is asked for the complaint in writing with its supporting documents, and the written
period runs from when they are complete (:func:`oral_overdue_becomes_written`).

Working days ("hari kerja") are Monday–Friday, not an Indonesian public holiday (``holidays``,
country ID, category ``public``), not a company-declared day off (``COMPANY_DAYS_OFF``), and —
only when ``COLLECTIVE_LEAVE_STOPS_CLOCK`` is on, since FACTS marks it unconfirmed — not a
collective-leave day (*cuti bersama*, category ``government``). Days are counted in the centre's
zone (``CALLCENTER_TZ``); the day a complaint arrives is not counted, and a deadline is the end
of its last working day. The clock does not pause for ``pending_customer``: the regulations know
only the documents-complete start of a written complaint.

A ticket's kind is the stored ``Ticket.kind`` (migration 0005), set from its channel when it
is opened (:func:`kind_of`) and turned to ``written`` when an overdue oral complaint is converted
(``converted_at`` says when; :mod:`callcenter.compliance.complaint_kind` applies it). Everything
here reads
the stored kind through :func:`ticket_kind`, so a converted ticket — whose channel is still
``voice`` or ``walk_in`` — is a written complaint: its clock runs from the end of the oral period
(or its documents, if later), and the one extension is allowed for it. Every other figure is
derived from ``Ticket`` (channel, opened_at, due_at, status, resolved_at, converted_at) and its
``RequiredDocument`` rows. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.i18n import Msg
from callcenter.models import ORAL_CHANNELS, Ticket
from callcenter.statuses import OPEN_TICKET_STATUSES

Kind = Literal["oral", "written"]

# FACTS "Complaint categories": questions and information requests are counted apart.
NON_COMPLAINT_CATEGORIES = frozenset({"inquiry", "unverified"})
END_OF_DAY = time(23, 59, 59)  # a deadline is the end of its last working day


@dataclass(frozen=True)
class Rules:
    """Deadlines in working days."""

    name: str
    citation: str
    oral_days: int
    written_days: int
    extension_days: int


RULES: dict[str, Rules] = {
    "pojk22_2023": Rules("pojk22_2023", "POJK 22/2023", 5, 10, 10),
    "pojk18_2018": Rules("pojk18_2018", "POJK 18/POJK.07/2018", 5, 20, 20),
}


def rules_for(settings: Settings) -> Rules:
    try:
        return RULES[settings.complaint_rules]
    except KeyError:
        raise ValueError(f"unknown COMPLAINT_RULES {settings.complaint_rules!r}") from None


# --- working days ---------------------------------------------------------------------------


@lru_cache(maxsize=128)
def holiday_set(year: int, collective_leave: bool = False) -> frozenset[date]:
    """One year's Indonesian holidays: the national ``public`` days, and with
    ``collective_leave`` the *cuti bersama* too. The one source of holidays in the service
    (working days here, calling days in :mod:`callcenter.callbacks.calling_hours`); cached, so
    many tickets cost one lookup per year."""
    categories = ("public", "government") if collective_leave else ("public",)
    return frozenset(holidays.country_holidays("ID", years=year, categories=categories).keys())


@dataclass(frozen=True)
class WorkCalendar:
    """Indonesian working days as configured: weekends, holidays, company days off."""

    tz: str = "Asia/Jakarta"
    collective_leave_stops_clock: bool = False
    company_days_off: frozenset[date] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkCalendar:
        return cls(settings.timezone, settings.collective_leave_stops_clock,
                   frozenset(settings.company_days_off))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def is_working_day(self, day: date) -> bool:
        return (day.weekday() < 5
                and day not in holiday_set(day.year, self.collective_leave_stops_clock)
                and day not in self.company_days_off)

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself not counted)."""
        current, remaining = start, days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start).

        The inverse of :meth:`add_working_days`: ``between(d, add(d, n)) == n``. Counted from
        per-year running totals, so the floor's lateness lists cost a lookup per ticket, not a
        walk over every day in between.
        """
        if end < start:
            return -self.working_days_between(end, start)
        if start.year == end.year:
            return _through(self, end) - _through(self, start)
        count = _year_totals(self, start.year)[-1] - _through(self, start)
        for year in range(start.year + 1, end.year):
            count += _year_totals(self, year)[-1]
        return count + _through(self, end)

    def end_of_day(self, day: date) -> datetime:
        return datetime.combine(day, END_OF_DAY, tzinfo=self.zone)

    def due_date(self, received: datetime, working_days: int) -> datetime:
        """End of the ``working_days``-th working day after ``received`` (local), aware."""
        return self.end_of_day(self.add_working_days(self.local_date(received), working_days))


@lru_cache(maxsize=64)
def _year_totals(calendar: WorkCalendar, year: int) -> tuple[int, ...]:
    """Working days from 1 January up to and including each day of ``year``."""
    totals: list[int] = []
    count, day = 0, date(year, 1, 1)
    while day.year == year:
        count += calendar.is_working_day(day)
        totals.append(count)
        day += timedelta(days=1)
    return tuple(totals)


def _through(calendar: WorkCalendar, day: date) -> int:
    return _year_totals(calendar, day.year)[day.timetuple().tm_yday - 1]


def working_days_between(a: datetime, b: datetime, calendar: WorkCalendar) -> int:
    """Working days from ``a``'s local date (not counted) to ``b``'s (counted)."""
    return calendar.working_days_between(calendar.local_date(a), calendar.local_date(b))


# --- the clock of one ticket ------------------------------------------------------------------


def kind_of(channel: str) -> Kind:
    """A new complaint's kind: oral for phone and walk-in (POJK 22/2023, 18/2018: *pengaduan
    lisan*), else written. For an existing ticket use :func:`ticket_kind`."""
    return "oral" if channel in ORAL_CHANNELS else "written"


def ticket_kind(ticket: Ticket) -> Kind:
    """The ticket's stored kind (``written`` once converted); from its channel only while the
    row is not yet flushed and the column default has not filled it in."""
    if ticket.kind in ("oral", "written"):
        return "oral" if ticket.kind == "oral" else "written"
    return kind_of(ticket.channel)


def is_converted(ticket: Ticket) -> bool:
    """An oral complaint turned written (POJK 18/2018 art. 34): written, yet opened orally."""
    return ticket_kind(ticket) == "written" and (
        ticket.converted_at is not None or kind_of(ticket.channel) == "oral")


def oral_due_at(ticket: Ticket, settings: Settings) -> datetime:
    """The end of the oral period of a complaint received orally at ``opened_at``."""
    return due_date(ticket.opened_at, "oral", settings)


def is_complaint(ticket: Ticket) -> bool:
    return ticket.category not in NON_COMPLAINT_CATEGORIES


def is_settled(ticket: Ticket) -> bool:
    return ticket.status not in OPEN_TICKET_STATUSES


def documents_complete_at(ticket: Ticket) -> datetime | None:
    """When the last required document arrived; ``None`` while any is outstanding.

    A ticket that never required documents has them complete from the start: ``opened_at``.
    """
    required = list(ticket.required_documents)
    if not required:
        return ticket.opened_at
    if any(r.received_at is None for r in required):
        return None
    return max(r.received_at for r in required if r.received_at is not None)


def clock_start(ticket: Ticket, session: Session | None = None,
                settings: Settings | None = None) -> datetime | None:
    """When the ticket's own period starts running; ``None`` while it has not started.

    Oral: when received (``opened_at``). Written: when its documents are complete (POJK
    22/2023; POJK 18/2018 art. 35) — the last ``RequiredDocument.received_at`` if any were
    required, else ``opened_at``; ``None`` while one is outstanding. A converted complaint's
    written period starts at the end of its oral period or when its documents are complete,
    whichever is later (as :func:`oral_overdue_becomes_written` decided); that needs
    ``settings`` (the oral period's figures). ``session`` is accepted for symmetry; the
    documents are read through the ticket's relationship.
    """
    del session
    if ticket_kind(ticket) == "oral":
        return ticket.opened_at
    complete = documents_complete_at(ticket)
    if complete is None or settings is None or not is_converted(ticket):
        return complete
    return max(oral_due_at(ticket, settings), complete)


def compute_due(ticket: Ticket, session: Session | None, settings: Settings,
                extended: bool = False) -> datetime | None:
    """The ticket's regulatory deadline (aware, in ``CALLCENTER_TZ``), or ``None``.

    ``None`` only for a written complaint whose documents are still outstanding (its clock has
    not started). ``extended`` adds the one extension (written only; POJK 22/2023: 10 working
    days, POJK 18/2018: 20). This is the first-period deadline of an oral ticket; once it has
    passed unsettled, see :func:`oral_overdue_becomes_written`.
    """
    rules = rules_for(settings)
    calendar = WorkCalendar.from_settings(settings)
    start = clock_start(ticket, session, settings)
    if start is None:
        return None
    if ticket_kind(ticket) == "oral":
        return calendar.due_date(start, rules.oral_days)
    days = rules.written_days + (rules.extension_days if extended else 0)
    return calendar.due_date(start, days)


def due_date(received: datetime, kind: Kind, settings: Settings,
             extended: bool = False) -> datetime:
    """The deadline of a complaint of ``kind`` whose clock starts at ``received``."""
    rules = rules_for(settings)
    days = rules.oral_days if kind == "oral" else (
        rules.written_days + (rules.extension_days if extended else 0))
    return WorkCalendar.from_settings(settings).due_date(received, days)


def is_extended(ticket: Ticket, settings: Settings) -> bool:
    """Derived from the stored ``due_at``: later than the first written period's end."""
    if ticket_kind(ticket) == "oral" or ticket.due_at is None:
        return False
    first = compute_due(ticket, None, settings)
    return first is not None and ticket.due_at > first


@dataclass(frozen=True)
class ExtensionDecision:
    """Whether the one extension may be granted now, and what to record when it is.

    When ``allowed``: store ``new_due_at`` on ``ticket.due_at`` and send the customer the
    written notice (before ``notice_by``, the end of the first period) saying so.
    """

    allowed: bool
    reason: str  # a Msg: English here, translated where the console shows it
    first_due_at: datetime | None = None
    new_due_at: datetime | None = None
    notice_by: datetime | None = None
    extension_days: int = 0


def extension_allowed(ticket: Ticket, now: datetime, settings: Settings) -> ExtensionDecision:
    """The extension rule (POJK 22/2023: once, 10 working days; POJK 18/2018: once, 20).

    Only a written complaint (a converted oral one included), only once, only while its clock
    runs, and only before the first period ends (the written notice must reach the customer
    before it does).
    """
    rules = rules_for(settings)
    if ticket_kind(ticket) == "oral":
        return ExtensionDecision(
            False, Msg("an oral complaint cannot be extended; it becomes written"))
    if is_settled(ticket):
        return ExtensionDecision(False, Msg("the complaint is settled"))
    first = compute_due(ticket, None, settings)
    if first is None:
        return ExtensionDecision(
            False, Msg("the documents are not complete: the clock has not started"))
    if ticket.due_at is not None and ticket.due_at > first:
        return ExtensionDecision(False, Msg("already extended once"), first_due_at=first)
    if now > first:
        return ExtensionDecision(False, Msg("the first period has ended"), first_due_at=first)
    return ExtensionDecision(
        True, Msg("one extension of %(days)s working days (%(citation)s)",
                  days=rules.extension_days, citation=rules.citation),
        first_due_at=first, new_due_at=compute_due(ticket, None, settings, extended=True),
        notice_by=first, extension_days=rules.extension_days)


@dataclass(frozen=True)
class Conversion:
    """An overdue oral complaint to be handled as a written one."""

    convert: bool
    reason: str
    oral_due_at: datetime | None = None
    written_clock_start: datetime | None = None  # None: documents still outstanding
    written_due_at: datetime | None = None


def oral_overdue_becomes_written(ticket: Ticket, now: datetime,
                                 settings: Settings) -> Conversion:
    """POJK 18/2018 art. 34 (kept by POJK 22/2023): an oral complaint unsettled after its
    period is turned into a written one, with its documents.

    Pure decision: when ``convert``, the caller
    (:func:`callcenter.compliance.complaint_kind.convert`)
    stores ``kind="written"``, ``converted_at`` and ``written_due_at`` on ``due_at`` (``None``
    while documents are outstanding) and tells the customer in writing. The written clock
    starts at the later of the oral deadline and the documents being complete.
    """
    if ticket_kind(ticket) != "oral":
        return Conversion(False, "already a written complaint")
    if is_settled(ticket):
        return Conversion(False, "the complaint is settled")
    oral_due = due_date(ticket.opened_at, "oral", settings)
    if now <= oral_due:
        return Conversion(False, "the oral period is still running", oral_due_at=oral_due)
    complete = documents_complete_at(ticket)
    start = None if complete is None else max(oral_due, complete)
    written_due = None if start is None else due_date(start, "written", settings)
    return Conversion(True, "oral period ended unsettled: handle as a written complaint",
                      oral_due_at=oral_due, written_clock_start=start,
                      written_due_at=written_due)


def refresh_due(ticket: Ticket, settings: Settings) -> None:
    """Recompute ``ticket.due_at`` after its documents or kind changed, keeping an extension.

    Call after ``documents.require_documents`` / ``receive_document``. An oral ticket keeps its
    oral deadline here: only :func:`callcenter.compliance.complaint_kind.convert` (the sweep) moves
    it to
    a written one, together with the kind, ``converted_at`` and the customer's notice, so the
    sweep always finds the overdue oral tickets it must convert.
    """
    if ticket_kind(ticket) == "oral":
        ticket.due_at = compute_due(ticket, None, settings)
        return
    ticket.due_at = compute_due(ticket, None, settings, extended=is_extended(ticket, settings))


# --- breach prevention ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockStatus:
    """A ticket against its deadline: days left (nearing) or how late (breached)."""

    ticket: Ticket
    due_at: datetime
    working_days_left: int = 0
    working_days_late: int = 0
    calendar_days_late: int = 0
    late_by: timedelta = timedelta(0)


def nearing(tickets: Iterable[Ticket], now: datetime, within_working_days: int,
            calendar: WorkCalendar) -> list[ClockStatus]:
    """Unsettled tickets due within ``within_working_days`` working days and not yet late.

    0 = due today; 1 = due today or on the next working day. Uses the stored ``due_at`` (it
    carries an extension); tickets whose clock has not started are skipped. Soonest first.
    """
    found: list[ClockStatus] = []
    for ticket in tickets:
        due = ticket.due_at
        if due is None or is_settled(ticket) or due < now:
            continue
        left = working_days_between(now, due, calendar)
        if left <= within_working_days:
            found.append(ClockStatus(ticket, due, working_days_left=left))
    return sorted(found, key=lambda s: (s.due_at, s.ticket.id))


def _late(ticket: Ticket, due: datetime, when: datetime, calendar: WorkCalendar) -> ClockStatus:
    due_day, day = calendar.local_date(due), calendar.local_date(when)
    return ClockStatus(ticket, due,
                       working_days_late=calendar.working_days_between(due_day, day),
                       calendar_days_late=(day - due_day).days, late_by=when - due)


def breached(tickets: Iterable[Ticket], now: datetime, calendar: WorkCalendar,
             include_settled: bool = False) -> list[ClockStatus]:
    """Tickets past their stored ``due_at``, with how late they are; most late first.

    ``working_days_late`` counts the working days after the due day up to today (so a Friday
    deadline breached on Saturday is 0 working days, 1 calendar day late). With
    ``include_settled``, tickets settled after their deadline are listed too (late at
    ``resolved_at``).
    """
    found: list[ClockStatus] = []
    for ticket in tickets:
        due = ticket.due_at
        if due is None:
            continue
        if is_settled(ticket):
            if include_settled and ticket.resolved_at is not None and ticket.resolved_at > due:
                found.append(_late(ticket, due, ticket.resolved_at, calendar))
        elif now > due:
            found.append(_late(ticket, due, now, calendar))
    return sorted(found, key=lambda s: (-s.late_by, s.ticket.id))
