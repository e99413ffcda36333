"""Fetch a WhatsApp/MMS attachment from Twilio and keep it as a supporting document (P4.3).

Twilio's media URLs take the account's basic auth (``AccountSid:AuthToken``), so the
credentials go to the Twilio REST API's own origin and nowhere else: ``TWILIO_API_URL``'s
(https://api.twilio.com, or the local simulator in the dev run), and only for a Media
resource of our account (``/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}/Media/{Sid}``,
twilio.com/docs/messaging/api/media-resource). Twilio answers such a URL with a redirect to a
short-lived signed address on its media CDN (``*.twiliocdn.com``); that hop is followed
without credentials. Any other host is never contacted, and the refusal is written on the
contact so the agent sees that the attachment was not fetched.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin, urlsplit

import requests

from callcenter.config import Settings
from callcenter.i18n import Msg, as_record
from callcenter.models import Contact, Ticket, utcnow
from callcenter.tickets import documents
from workers.runtime import job_session, settings

log = logging.getLogger(__name__)
MAX_MEDIA_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 3
TWILIO_API = "https://api.twilio.com"
TWILIO_MEDIA_CDN = ".twiliocdn.com"  # media.twiliocdn.com, mms.twiliocdn.com
_DEFAULT_PORTS = {"http": 80, "https": 443}


class MediaRefused(Exception):
    """The URL is not one the account's credentials (or any request of ours) may go to."""


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


def takes_credentials(current: Settings, url: str) -> bool:
    """A Media resource of our account on the Twilio REST API's origin."""
    origin = _origin(url)
    if origin is None or origin not in {_origin(current.twilio_api_url), _origin(TWILIO_API)}:
        return False
    media_path = re.compile(
        rf"^/2010-04-01/Accounts/{re.escape(current.twilio_account_sid)}"
        r"/Messages/[A-Za-z0-9]{2,64}/Media/[A-Za-z0-9]{2,64}$")
    return media_path.match(urlsplit(url).path) is not None


def on_twilio_media_cdn(url: str) -> bool:
    """Twilio's media CDN over https, where a media URL redirects (no credentials sent)."""
    origin = _origin(url)
    return origin is not None and origin[0] == "https" and origin[1].endswith(TWILIO_MEDIA_CDN)


def _download(current: Settings, url: str) -> requests.Response:
    """The final response for ``url``, redirects followed hop by hop under the rules above."""
    hop = url
    for _ in range(MAX_REDIRECTS + 1):
        if takes_credentials(current, hop):
            auth: tuple[str, str] | None = (current.twilio_account_sid,
                                            current.twilio_auth_token)
        elif on_twilio_media_cdn(hop):
            auth = None
        else:
            raise MediaRefused(Msg("%(host)s is not a Twilio media address",
                                   host=urlsplit(hop).hostname or "?"))
        response = requests.get(hop, auth=auth, timeout=30, stream=True, allow_redirects=False)
        if not response.is_redirect:
            return response
        hop = urljoin(hop, response.headers.get("Location", ""))
        response.close()
    raise MediaRefused(Msg("more than %(count)s redirects", count=MAX_REDIRECTS))


def note_not_fetched(contact: Contact, content_type: str, reason: str) -> None:
    """Note on the contact that an attachment was not kept (the ticket's timeline shows it)."""
    state = dict(contact.ivr_state or {})
    state["media_not_fetched"] = [*state.get("media_not_fetched", []), {
        "content_type": content_type[:120], "reason": reason[:300], "why": as_record(reason),
        "at": utcnow().isoformat()}]
    contact.ivr_state = state


def _not_fetched(current: Settings, contact_id: int, content_type: str, reason: str) -> None:
    with job_session(current) as session:
        contact = session.get(Contact, contact_id)
        if contact is not None:
            note_not_fetched(contact, content_type, reason)


def fetch_media(contact_id: int, url: str, content_type: str) -> int | None:
    """Download once and store it; returns the document's id, None when it was not kept."""
    current = settings()
    try:
        response = _download(current, url)
    except MediaRefused as exc:
        log.warning("media for contact %s not fetched: %s", contact_id, exc)
        _not_fetched(current, contact_id, content_type,
                     Msg("%(reason)s; nothing was fetched", reason=exc.args[0]))
        return None
    if response.status_code >= 500:
        response.raise_for_status()  # transient: RQ retries
    if response.status_code != 200:
        log.warning("media for contact %s refused: HTTP %s", contact_id, response.status_code)
        _not_fetched(current, contact_id, content_type,
                     Msg("Twilio answered HTTP %(status)s", status=response.status_code))
        return None
    data = response.raw.read(MAX_MEDIA_BYTES + 1, decode_content=True)
    if len(data) > MAX_MEDIA_BYTES:
        log.warning("media for contact %s is over %s bytes; not kept", contact_id,
                    MAX_MEDIA_BYTES)
        _not_fetched(current, contact_id, content_type,
                     Msg("larger than %(size)s bytes", size=MAX_MEDIA_BYTES))
        return None
    with job_session(current) as session:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.ticket_id is None:
            return None
        ticket = session.get(Ticket, contact.ticket_id)
        assert ticket is not None
        name = url.rstrip("/").rsplit("/", 1)[-1]
        try:
            document = documents.receive_document(
                session, ticket, settings=current, filename=name, content_type=content_type,
                data=data, source=contact.channel, contact_id=contact.id)
        except documents.DocumentError as exc:  # empty, too large: retrying will not help
            log.warning("media for contact %s not kept: %s", contact_id, exc)
            note_not_fetched(contact, content_type, str(exc))
            return None
        session.flush()
        return document.id
