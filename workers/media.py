"""Fetch a WhatsApp/MMS attachment from Twilio and keep it as a supporting document (P4.3)."""

from __future__ import annotations

import logging

import requests

from callcenter.models import Contact, Ticket
from callcenter.tickets import documents
from workers.runtime import job_session, settings

log = logging.getLogger(__name__)
MAX_MEDIA_BYTES = 5 * 1024 * 1024


def fetch_media(contact_id: int, url: str, content_type: str) -> int | None:
    """Download once (Twilio's media URLs take the account's basic auth) and store it."""
    current = settings()
    response = requests.get(url, auth=(current.twilio_account_sid, current.twilio_auth_token),
                            timeout=30, stream=True)
    if response.status_code >= 500:
        response.raise_for_status()  # transient: RQ retries
    if response.status_code != 200:
        log.warning("media for contact %s refused: HTTP %s", contact_id, response.status_code)
        return None
    data = response.raw.read(MAX_MEDIA_BYTES + 1, decode_content=True)
    if len(data) > MAX_MEDIA_BYTES:
        log.warning("media for contact %s is over %s bytes; not kept", contact_id,
                    MAX_MEDIA_BYTES)
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
            return None
        session.flush()
        return document.id
