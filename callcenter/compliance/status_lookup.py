"""The public status look-up (X3; POJK 18/2018 and 22/2023: the customer may ask for the status
of their complaint at any time).

Anyone on the internet can use the form, so it answers with as little as the customer needs:
the ticket's status and its due date (and whether it was extended), and only when the ticket
number *and* the phone number match — the same rule as the SMS/WhatsApp ``STATUS`` keyword
(:func:`callcenter.channels.social.status_query`), whose owner-phone lookup it shares. A mistyped
check
digit, an unknown number and a phone that is not the ticket's all come back as ``None``: the
page gives one answer for the three, so it cannot be used to learn which ticket numbers exist.

Guessing is slowed by two fixed-window limits (:mod:`callcenter.rate_limit`): per client and
per ticket number, so spreading guesses over many addresses does not help against one ticket.
Every attempt leaves an audit row whose actor is a keyed hash of the client address
(``public:<hash>``): the same address gives the same hash, so a flood is visible in the audit
trail, but the address itself is not stored. Nothing else about the person asking is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.channels import social
from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.phones import try_e164
from callcenter.rate_limit import Hit, Limit, hit
from callcenter.tickets import lifecycle

# X3: enough for a customer who mistypes a few times, far too few to enumerate numbers.
PER_CLIENT = Limit("status-client", 10, 15 * 60)
PER_TICKET = Limit("status-ticket", 5, 60 * 60)
ACTION = "status_lookup"
_SEPARATORS = re.compile(r"[\s\-.#/]+")


@dataclass(frozen=True)
class StatusView:
    """All the page may show: the status key, the due date and whether it was extended."""

    number: str
    status: str
    due_at: datetime | None
    extended: bool


def normalise_number(raw: str | None) -> str:
    """``1000 0157``, ``#1000015-7`` → ``10000157``; anything but digits → ``""``."""
    text = _SEPARATORS.sub("", raw or "")
    return text if text.isdigit() else ""


def client_hash(settings: Settings, address: str | None) -> str:
    """A keyed, truncated hash of the client address: stable per address, not reversible
    without the secret key (no IP address in the audit log or in Redis keys)."""
    digest = hmac.new(settings.secret_key.encode(), (address or "-").encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def look_up(session: Session, settings: Settings, number: str, phone: str) -> StatusView | None:
    """The ticket's status for its own customer's phone, else ``None`` (whatever the reason).

    ``phone`` may be written in any common Indonesian form (``0812-3456-7890``,
    ``62812…``, ``+62 812 …``): it is compared as E.164.
    """
    cleaned = normalise_number(number)
    e164 = try_e164(phone)
    if not cleaned or e164 is None:
        return None
    ticket = lifecycle.find_by_number(session, cleaned)  # check digit first: no lookup if wrong
    if ticket is None:
        return None
    # The STATUS keyword's owner rule: one rule for the SMS keyword and this page.
    if social.ticket_phone(session, ticket) != e164:
        return None
    return StatusView(ticket.number or cleaned, ticket.status, ticket.due_at,
                      regulation.is_extended(ticket, settings))


def count_attempt(redis: Redis, settings: Settings, client: str, number: str) -> Hit | None:
    """Count one attempt against both limits; the refusing :class:`Hit`, or ``None`` if
    allowed. The per-ticket counter is touched only while the client is within its own limit
    (a client already refused cannot use up a customer's allowance), and only for a number
    that could be a ticket. Raises ``redis.exceptions.RedisError`` when Redis is down."""
    prefix = settings.queue_prefix
    by_client = hit(redis, PER_CLIENT, client, prefix=prefix)
    if not by_client.allowed:
        return by_client
    cleaned = normalise_number(number)
    if cleaned:
        by_ticket = hit(redis, PER_TICKET, cleaned, prefix=prefix)
        if not by_ticket.allowed:
            return by_ticket
    return None


def record(session: Session, client: str, result: str, view: StatusView | None = None) -> None:
    """The audit row of one attempt: the ticket is named only when it was shown."""
    subject = f"ticket:{view.number}" if view is not None else "-"
    audit.record(session, f"public:{client}", ACTION, subject, f"result={result}")
