"""Finding a customer from what an agent types (CONTRACT "Customer search").

One search for the console's search box and ``GET /api/customers?q=``. The query is read in
every way it can mean something, each answered from an index:

- a phone number in any common form (``0812-3456-7890``, ``+62 812…``, ``62812…``) → the
  customer's E.164 ``phone`` (indexed);
- an Order ID → ``order_id`` (unique);
- a ticket number, check digit verified first (:mod:`callcenter.tickets.numbers`) → the
  ticket's customer;
- an email address → ``lower(email)`` (indexed);
- part of a name, case-insensitive → ``lower(name)`` containing it.

Exact matches (phone, Order ID, ticket number, email) come first; then names starting with
the words typed, then a later name starting with them, then containing them; ties by name.
At most :data:`LIMIT` customers, each with their tickets, newest first.

No audit here: the caller records who searched (console or API), with the kinds and the
customers found, never the query itself (it is personal data).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from callcenter.i18n import Msg
from callcenter.models import Customer, Ticket
from callcenter.phones import try_e164
from callcenter.tickets import numbers

LIMIT = 50
MIN_LENGTH = 3
MAX_LENGTH = 100

_PHONE_LIKE = re.compile(r"\+?[\d\s().-]+")
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+")
_SPACES = re.compile(r"\s+")
_LAST_CHARACTER = "\U0010ffff"  # sorts after every other in byte order


class MatchKind(StrEnum):
    """How a customer matched, best first (the order is the ranking)."""

    TICKET = "ticket"
    ORDER_ID = "order_id"
    PHONE = "phone"
    EMAIL = "email"
    NAME_START = "name_start"  # the name begins with what was typed
    NAME_WORD = "name_word"  # a later word of the name does
    NAME_PART = "name_part"  # somewhere inside the name


EXACT = (MatchKind.TICKET, MatchKind.ORDER_ID, MatchKind.PHONE, MatchKind.EMAIL)
_RANK = {kind: rank for rank, kind in enumerate(MatchKind)}


class BadQuery(ValueError):
    """Nothing to search with; the message (a :class:`Msg`) says what to type instead."""


@dataclass(frozen=True)
class Match:
    customer: Customer
    kind: MatchKind
    tickets: list[Ticket]


@dataclass(frozen=True)
class SearchResult:
    matches: list[Match]
    read_as: tuple[str, ...]  # the kinds of query tried: phone, order_id, ticket, email, name
    ticket_number: str | None  # q is an existing ticket's number (with or without customer)

    @property
    def customer_ids(self) -> list[int]:
        return [m.customer.id for m in self.matches]

    def audit_detail(self) -> str:
        """What the audit trail keeps of a search (console and API alike): how the query was
        read and whom it showed, never the query itself."""
        ids = ",".join(str(i) for i in self.customer_ids)
        return f"read_as={'+'.join(self.read_as)} results={len(self.matches)} customers={ids}"


def mask_order_id(order_id: str | None) -> str:
    """``20261001`` → ``••••1001``: enough to tell two customers apart on a list, as
    :func:`callcenter.phones.mask_phone` does for numbers; at least two characters stay
    hidden however short the ID."""
    if not order_id:
        return "-"
    keep = min(4, max(len(order_id) - 2, 1))
    return "•" * (len(order_id) - keep) + order_id[-keep:]


def clean(raw: str | None) -> str:
    """The query as searched: trimmed, inner runs of spaces made one; :class:`BadQuery` when
    empty, shorter than :data:`MIN_LENGTH` or longer than :data:`MAX_LENGTH` characters."""
    text = _SPACES.sub(" ", raw or "").strip()
    if not text:
        raise BadQuery(Msg("Type a phone number, Order ID, ticket number, email address or "
                           "part of a name."))
    if len(text) < MIN_LENGTH:
        raise BadQuery(Msg("Type at least %(count)s characters.", count=MIN_LENGTH))
    if len(text) > MAX_LENGTH:
        raise BadQuery(Msg("Type at most %(count)s characters.", count=MAX_LENGTH))
    if not text.isprintable():
        raise BadQuery(Msg("The search may only contain letters, digits and punctuation."))
    return text


def search(session: Session, raw: str | None, limit: int = LIMIT) -> SearchResult:
    """Customers matching ``raw``, best first, at most ``limit`` (≤ :data:`LIMIT`)."""
    text = clean(raw)
    limit = max(1, min(limit, LIMIT))
    found: dict[int, tuple[MatchKind, Customer]] = {}
    read_as: list[str] = []

    def keep(kind: MatchKind, customers: Sequence[Customer]) -> None:
        for customer in customers:
            known = found.get(customer.id)
            if known is None or _RANK[kind] < _RANK[known[0]]:
                found[customer.id] = (kind, customer)

    ticket_number = None
    compact = text.replace(" ", "").replace("-", "")
    if compact.isdigit() and numbers.is_well_formed(compact):
        read_as.append("ticket")
        row = session.execute(select(Ticket.number, Ticket.customer_id)
                              .where(Ticket.number == compact)).first()
        if row is not None:
            ticket_number = row.number
            if row.customer_id is not None:
                keep(MatchKind.TICKET, session.scalars(
                    select(Customer).where(Customer.id == row.customer_id)).all())
    read_as.append("order_id")
    keep(MatchKind.ORDER_ID, session.scalars(
        select(Customer).where(Customer.order_id.in_({text, compact}))).all())
    if _PHONE_LIKE.fullmatch(text) and (e164 := try_e164(text)) is not None:
        read_as.append("phone")
        keep(MatchKind.PHONE, session.scalars(
            select(Customer).where(Customer.phone == e164).limit(limit)).all())
    if _EMAIL_LIKE.fullmatch(text):
        read_as.append("email")
        keep(MatchKind.EMAIL, session.scalars(
            select(Customer).where(func.lower(Customer.email) == text.lower())
            .limit(limit)).all())
    elif any(ch.isalpha() for ch in text):
        read_as.append("name")
        for kind, customer in _by_name(session, text.lower(), limit):
            keep(kind, [customer])

    ranked = sorted(found.values(),
                    key=lambda pair: (_RANK[pair[0]], pair[1].name.lower(), pair[1].id))[:limit]
    tickets = _tickets_of(session, [customer.id for _kind, customer in ranked])
    matches = [Match(customer, kind, tickets.get(customer.id, [])) for kind, customer in ranked]
    return SearchResult(matches, tuple(read_as), ticket_number)


def _by_name(session: Session, term: str, limit: int) -> list[tuple[MatchKind, Customer]]:
    """Names containing ``term`` (lower case), best first, at most ``limit``.

    Names that start with it come from a range over the ``lower(name)`` index (migration
    0009), in name order, stopping at ``limit``; only when fewer are found is every name read
    for a later word starting with it, then for it inside a word. That scan uses the
    database's own case-insensitive match (SQLite's ``LIKE`` folds ASCII letters;
    PostgreSQL's ``ILIKE``) rather than ``lower()`` on every row, four times cheaper."""
    postgres = session.get_bind().dialect.name == "postgresql"
    lowered = func.lower(Customer.name)
    key = lowered.collate("C") if postgres else lowered
    found: list[tuple[MatchKind, Customer]] = [
        (MatchKind.NAME_START, customer) for customer in session.scalars(
            select(Customer).where(key >= term, key < term + _LAST_CHARACTER)
            .order_by(key, Customer.id).limit(limit))]
    if len(found) >= limit:
        return found
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    def matches(pattern: str) -> ColumnElement[bool]:
        if postgres:
            return Customer.name.ilike(pattern, escape="\\")
        return Customer.name.like(pattern, escape="\\")

    later_word = matches("% " + escaped + "%")
    rank = case((later_word, 1), else_=2)
    rows = session.execute(
        select(rank.label("rank"), Customer)
        .where(matches("%" + escaped + "%"), ~(and_(key >= term, key < term + _LAST_CHARACTER)))
        .order_by(rank, lowered, Customer.id).limit(limit - len(found))).all()
    kinds = {1: MatchKind.NAME_WORD, 2: MatchKind.NAME_PART}
    return found + [(kinds[row.rank], row.Customer) for row in rows]


def _tickets_of(session: Session, customer_ids: list[int]) -> dict[int, list[Ticket]]:
    """Each customer's tickets, newest first, in one query."""
    if not customer_ids:
        return {}
    result: dict[int, list[Ticket]] = {}
    for ticket in session.scalars(select(Ticket).where(Ticket.customer_id.in_(customer_ids))
                                  .order_by(Ticket.opened_at.desc(), Ticket.id.desc())):
        result.setdefault(ticket.customer_id or 0, []).append(ticket)
    return result
