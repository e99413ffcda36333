"""The console's ticket queue, without Flask: which tickets an agent sees, in what
order, a page at a time.

:func:`queue_page`: the agents' queue, filtered by status, channel, due time and owner, sorted
by due date (no due date last), then opened time, then id, read with a keyset cursor
(``after``) so page 2000 costs what page 1 costs and nothing ever counts the whole table. Each
status is read on its own through the ``(status, due_at)`` index, already in due order, and the
few rows per status are merged here: no sort over 100,000 rows.

One ticket's page is :mod:`callcenter.tickets.timeline`, the actions on it
:mod:`callcenter.tickets.actions`, and how both are written out :mod:`callcenter.display`.
Nothing here writes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.db import MAX_ROW_ID
from callcenter.models import Customer, Ticket, User, utcnow
from callcenter.statuses import OPEN_TICKET_STATUSES, TicketStatus

PAGE_SIZE = 50
RESOLVED = (TicketStatus.RESOLVED,)
# Every status the domain gives a ticket (tickets, documents, email/social, IVR).
ALL_STATUSES = (*OPEN_TICKET_STATUSES, *RESOLVED)
# The queue's status filter: its link values (the keys) are the statuses' values.
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "unsettled": OPEN_TICKET_STATUSES,
    TicketStatus.OPEN: (TicketStatus.OPEN,),
    TicketStatus.PENDING_CUSTOMER: (TicketStatus.PENDING_CUSTOMER,),
    TicketStatus.PENDING_DOCUMENTS: (TicketStatus.PENDING_DOCUMENTS,),
    TicketStatus.RESOLVED: RESOLVED,
    "all": ALL_STATUSES,
}
STATUS_LABELS = {
    "unsettled": "Open and pending",
    TicketStatus.OPEN: "Open",
    TicketStatus.PENDING_CUSTOMER: "Waiting for the customer",
    TicketStatus.PENDING_DOCUMENTS: "Waiting for documents",
    TicketStatus.RESOLVED: "Resolved",
    "all": "All",
}
CHANNELS = ("voice", "sms", "whatsapp", "email", "walk_in")
CHANNEL_LABELS = {"voice": "Phone", "sms": "SMS", "whatsapp": "WhatsApp", "email": "Email",
                  "walk_in": "Walk-in"}
DUE_FILTERS = {"any": "Any time", "overdue": "Overdue", "today": "Due today",
               "week": "Due in the next 7 days"}
OWNER_FILTERS = {"anyone": "Anyone", "me": "Me", "unassigned": "Unassigned"}
OWNER_ROLES = ("agent", "supervisor", "admin")  # who can own a ticket (QA reviews only)


def _user_id_text(value: str) -> bool:
    """A user's id as a link writes it: ASCII digits (``int`` refuses ``²``, which
    ``isdigit`` accepts), short enough for the id column."""
    return value.isascii() and value.isdigit() and len(value) < 10


@dataclass(frozen=True)
class QueueFilters:
    """What the agent asked to see; unknown values fall back to the defaults."""

    status: str = "unsettled"
    channel: str = "any"
    due: str = "any"
    owner: str = "anyone"  # anyone, me, unassigned, or a user id (digits)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        status = args.get("status") or "unsettled"
        channel = args.get("channel") or "any"
        due = args.get("due") or "any"
        owner = args.get("owner") or "anyone"
        return cls(
            status=status if status in STATUS_FILTERS else "unsettled",
            channel=channel if channel in CHANNELS else "any",
            due=due if due in DUE_FILTERS else "any",
            owner=owner if owner in OWNER_FILTERS or _user_id_text(owner) else "anyone",
        )

    def as_args(self) -> dict[str, str]:
        return {"status": self.status, "channel": self.channel, "due": self.due,
                "owner": self.owner}

    def describe(self) -> str:
        """For the audit row: what was looked at, never who."""
        return " ".join(f"{k}={v}" for k, v in self.as_args().items())


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's sort key (due date, opened time, id)."""

    due_at: datetime | None
    opened_at: datetime
    id: int

    def encode(self) -> str:
        due = self.due_at.astimezone(UTC).isoformat() if self.due_at else "-"
        raw = f"{due}|{self.opened_at.astimezone(UTC).isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        """A cursor from a link, or None when it is missing or was tampered with."""
        if not value or len(value) > 200:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            due, opened, ident = raw.split("|")
            due_at = None if due == "-" else datetime.fromisoformat(due)
            opened_at = datetime.fromisoformat(opened)
            if opened_at.tzinfo is None or (due_at is not None and due_at.tzinfo is None):
                return None
            if not (ident.isascii() and ident.isdigit() and int(ident) <= MAX_ROW_ID):
                return None  # no row has that id: tampered with
            # In UTC now: a time at the edge of the calendar overflows here, not in the query.
            return cls(due_at.astimezone(UTC) if due_at else None, opened_at.astimezone(UTC),
                       int(ident))
        except (ValueError, OverflowError, UnicodeDecodeError, binascii.Error):
            return None


@dataclass(frozen=True)
class QueueRow:
    ticket: Ticket
    customer: str  # masked: "Budi S."
    owner: str | None  # username
    badge: str | None  # overdue, nearing


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None  # None on the last page


def mask_name(name: str | None) -> str:
    """"Budi Santoso" → "Budi S.": enough to recognise a caller, little to leak on a list."""
    words = (name or "").split()
    if not words:
        return ""
    return " ".join([words[0], *(w[0].upper() + "." for w in words[1:])])


def _sort_key(ticket: Ticket) -> tuple[Any, ...]:
    due = ticket.due_at
    return (due is None, due or ticket.opened_at, ticket.opened_at, ticket.id)


def _later_same_due(cursor: Cursor) -> Any:
    return or_(Ticket.opened_at > cursor.opened_at,
               and_(Ticket.opened_at == cursor.opened_at, Ticket.id > cursor.id))


def _dated_after(cursor: Cursor) -> Any:
    """Dated rows after a dated ``cursor``; ``due_at >= …`` lets the index start there."""
    assert cursor.due_at is not None
    return and_(Ticket.due_at >= cursor.due_at,
                or_(Ticket.due_at > cursor.due_at,
                    and_(Ticket.due_at == cursor.due_at, _later_same_due(cursor))))


def due_window(due: str, now: datetime, tz: str) -> tuple[datetime | None, datetime | None]:
    """[from, until) for a due filter, in UTC; days are the centre's local days."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    start_today = datetime.combine(today, time(0), tzinfo=zone).astimezone(UTC)
    if due == "overdue":
        return None, now
    if due == "today":
        return start_today, datetime.combine(today + timedelta(days=1), time(0),
                                             tzinfo=zone).astimezone(UTC)
    if due == "week":
        return now, datetime.combine(today + timedelta(days=8), time(0),
                                     tzinfo=zone).astimezone(UTC)
    return None, None


def queue_page(session: Session, settings: Settings, filters: QueueFilters, *,
               user_id: int | None, after: Cursor | None = None,
               now: datetime | None = None, page_size: int = PAGE_SIZE) -> QueuePage:
    """One page of the queue and the cursor of the next (None when this is the last).

    Per status in the filter (at most four): one query walking the ``(status, due_at)`` index
    in order from the cursor, stopping after ``page_size + 1`` rows, and, only when that
    runs short, one for the tickets without a due date. Every condition is one the index can
    start from (no ``OR due_at IS NULL``), so a late page costs what the first does. The
    customer's name and the owner's user name come in the same query (outer joins), never
    one query per row.
    """
    now = now or utcnow()
    conditions: list[Any] = []
    if filters.channel != "any":
        conditions.append(Ticket.channel == filters.channel)
    if filters.owner == "me":
        conditions.append(Ticket.owner_id == (user_id if user_id is not None else -1))
    elif filters.owner == "unassigned":
        conditions.append(Ticket.owner_id.is_(None))
    elif _user_id_text(filters.owner):
        conditions.append(Ticket.owner_id == int(filters.owner))
    since, until = due_window(filters.due, now, settings.timezone)
    if since is not None:
        conditions.append(Ticket.due_at >= since)
    if until is not None:
        conditions.append(Ticket.due_at < until)
    limit = page_size + 1
    in_undated = after is not None and after.due_at is None
    found: list[tuple[Ticket, str | None, str | None]] = []
    for status in STATUS_FILTERS[filters.status]:
        rows: list[tuple[Ticket, str | None, str | None]] = []
        if not in_undated:
            dated = [Ticket.due_at.is_not(None)]
            if after is not None:
                dated.append(_dated_after(after))
            rows = _queue_rows(session, [Ticket.status == status, *conditions, *dated], limit)
        if len(rows) < limit and since is None and until is None:
            # No due date (a written complaint waiting for documents): after every dated one.
            undated = [Ticket.due_at.is_(None)]
            if in_undated:
                assert after is not None
                undated.append(_later_same_due(after))
            rows += _queue_rows(session, [Ticket.status == status, *conditions, *undated],
                                limit - len(rows))
        found.extend(rows)
    found.sort(key=lambda row: _sort_key(row[0]))
    page = found[:page_size]
    calendar = regulation.WorkCalendar.from_settings(settings)
    listed = [QueueRow(ticket, mask_name(name) if name else "", owner,
                       due_badge(ticket, now, calendar, settings.complaint_nearing_working_days))
              for ticket, name, owner in page]
    next_cursor = None
    if len(found) > page_size:
        last = page[-1][0]
        next_cursor = Cursor(last.due_at, last.opened_at, last.id).encode()
    return QueuePage(listed, next_cursor)


def _queue_rows(session: Session, where: list[Any], limit: int
                ) -> list[tuple[Ticket, str | None, str | None]]:
    query = (
        select(Ticket, Customer.name, User.username)
        .outerjoin(Customer, Ticket.customer_id == Customer.id)
        .outerjoin(User, Ticket.owner_id == User.id)
        .where(*where)
        .order_by(Ticket.due_at.asc().nulls_last(), Ticket.opened_at, Ticket.id)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


@dataclass(frozen=True)
class DueState:
    """A ticket against its due date, as the ticket page's badge says it (breach flags)."""

    badge: str  # overdue, nearing
    working_days: int  # late (overdue) or left (nearing; 0 = due today)
    calendar_days_late: int = 0

    def text(self) -> str:
        """"Overdue: 3 working days late", "Due soon: 1 working day left", "Due today"."""
        if self.badge == "overdue":
            if self.working_days > 0:
                return f"Overdue: {_days(self.working_days, 'working day')} late"
            if self.calendar_days_late > 0:
                return (f"Overdue: {_days(self.calendar_days_late, 'day')} late "
                        "(no working day yet)")
            return "Overdue: past its due time today"
        if self.working_days <= 0:
            return "Due today"
        return f"Due soon: {_days(self.working_days, 'working day')} left"


def _days(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def due_state(ticket: Ticket, now: datetime, calendar: regulation.WorkCalendar,
              within_working_days: int) -> DueState | None:
    """Overdue (with the working days late, counted as the floor's breach list counts them,
    :func:`regulation.breached`) or nearing (working days left, :func:`regulation.nearing`,
    within the configured figure the supervisors' digest uses); None otherwise, for settled
    tickets and while the clock has not started."""
    late = regulation.breached([ticket], now, calendar)
    if late:
        return DueState("overdue", late[0].working_days_late, late[0].calendar_days_late)
    near = regulation.nearing([ticket], now, within_working_days, calendar)
    if near:
        return DueState("nearing", near[0].working_days_left)
    return None


def due_badge(ticket: Ticket, now: datetime, calendar: regulation.WorkCalendar,
              within_working_days: int) -> str | None:
    """"overdue" past its due time, "nearing" within the configured working days, else None
    (:func:`due_state` without the figures)."""
    state = due_state(ticket, now, calendar, within_working_days)
    return state.badge if state else None


def owners_for_filter(session: Session) -> list[User]:
    """Supervisors filter by a specific person: the active users who can own tickets."""
    return list(session.scalars(select(User).where(User.active.is_(True),
                                                   User.role.in_(OWNER_ROLES))
                                .order_by(User.username)))
