"""Which ticket an email belongs to (P3.1, X1), the way osTicket does it (FACTS).

Our outgoing ``Message-ID``s carry a token signed with ``SECRET_KEY``:
``<t{ticket_id}.{signature}.{random}@{email_domain}>``. A reply's ``In-Reply-To`` /
``References`` naming such an id lands on that ticket: the signature is checked, so a made-up
id naming another ticket lands nowhere. The ticket number in the subject comes last, and only
when written as a ticket number ("Tiket 1000015", "Ticket #1000015", "[1000015]"): a bare
number could be an order id that happens to pass the check digit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from callcenter.tickets.numbers import is_well_formed

_OUR_ID = re.compile(r"^<?t(\d{1,12})\.([0-9a-f]{16})\.([A-Za-z0-9_-]{8,40})@([^<>\s]+)>?$")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_SUBJECT_NUMBER = re.compile(
    r"(?:\b(?:tiket|ticket|tkt)\b\s*(?:no\.?|nomor|number|nr\.?)?\s*[:#]?\s*|#|\[)(\d{2,10})\b",
    re.IGNORECASE,
)


def _signature(secret: str, ticket_id: int, nonce: str) -> str:
    mac = hmac.new(secret.encode(), f"email-thread:t{ticket_id}.{nonce}".encode(), hashlib.sha256)
    return mac.hexdigest()[:16]


def make_message_id(secret: str, ticket_id: int, domain: str) -> str:
    """A fresh Message-ID of ours for ``ticket_id``, with its signed token."""
    nonce = secrets.token_urlsafe(12)
    return f"<t{ticket_id}.{_signature(secret, ticket_id, nonce)}.{nonce}@{domain}>"


def make_unthreaded_message_id(domain: str) -> str:
    """A Message-ID of ours that names no ticket: a reply to it threads nowhere. For mail to
    someone who is not the ticket's customer, who must not gain a key to the ticket."""
    return f"<n.{secrets.token_urlsafe(18)}@{domain}>"


def ticket_id_from_message_id(secret: str, message_id: str) -> int | None:
    """The ticket id our signed ``message_id`` names, or None (not ours, or tampered)."""
    match = _OUR_ID.match(message_id.strip())
    if match is None:
        return None
    ticket_id, given, nonce = int(match[1]), match[2], match[3]
    if not hmac.compare_digest(given, _signature(secret, ticket_id, nonce)):
        return None
    return ticket_id


def referenced_ids(in_reply_to: str | None, references: str | None) -> list[str]:
    """The message ids a reply points at, most relevant first (In-Reply-To, then the
    References chain from its newest end)."""
    ids = _MSG_ID.findall(in_reply_to or "") + list(reversed(_MSG_ID.findall(references or "")))
    seen: set[str] = set()
    return [i for i in ids if not (i in seen or seen.add(i))]


def subject_ticket_number(subject: str | None) -> str | None:
    """The first well-formed (check digit right) ticket number quoted in ``subject``."""
    for match in _SUBJECT_NUMBER.finditer(subject or ""):
        if is_well_formed(match[1]):
            return match[1]
    return None


def tag_subject(subject: str | None, number: str, *, reply: bool = False) -> str:
    """``Re: <subject> [Tiket N]``: the number stays in the subject of every email we send."""
    text = " ".join((subject or "").split())
    if reply:
        text = re.sub(r"^((re|aw|fw|fwd|balas)\s*:\s*)+", "", text, flags=re.IGNORECASE)
        text = f"Re: {text}" if text else ""
    tag = f"[Tiket {number}]"
    if number not in text:
        text = f"{text} {tag}".strip()
    return text[:300]
