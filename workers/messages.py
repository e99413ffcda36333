"""Send an outbox SMS/WhatsApp through Twilio's Messages API (P1.3)."""

from __future__ import annotations

import logging

from twilio.base.exceptions import TwilioRestException

from callcenter.config import Settings
from callcenter.models import Contact, OutboundMessage, utcnow
from callcenter.phones import mask_phone
from callcenter.statuses import MessageStatus, OutboxStatus
from callcenter.voice.telephony import rest_client
from workers.outbox import requeue_stale
from workers.runtime import job_session, settings

log = logging.getLogger(__name__)


def send_message(message_id: int) -> str | None:
    """Send once; a permanent Twilio refusal marks the row failed, a transient one retries."""
    current = settings()
    with job_session(current) as session:
        message = session.get(OutboundMessage, message_id)
        if message is None or message.status != OutboxStatus.PENDING:
            return None
        message.attempts += 1
        to, body = message.to_number, message.body
        session.commit()
        prefix = "whatsapp:" if message.channel == "whatsapp" else ""
        options: dict[str, str] = {}
        if current.public_base_url:
            options["status_callback"] = current.public_base_url + "/twilio/messaging/status"
        if message.content_sid:
            options["content_sid"] = message.content_sid  # WhatsApp: an approved template
        try:
            sent = rest_client(current).messages.create(
                to=prefix + to, from_=prefix + current.twilio_phone_number, body=body,
                **options)
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                message.last_error = f"twilio {exc.status} {exc.code}"
                session.commit()
                raise  # RQ retries with backoff
            message.status = OutboxStatus.FAILED
            message.last_error = f"twilio {exc.status} {exc.code}: {exc.msg}"[:300]
            log.warning("SMS %s to %s refused: %s", message_id, mask_phone(to), exc.code)
            return None
        message.status = OutboxStatus.SENT
        message.message_sid = sent.sid
        message.sent_at = utcnow()
        # X2: the message is a contact on its ticket, like a call leg.
        session.add(Contact(ticket_id=message.ticket_id, channel=message.channel,
                            direction="outbound", external_id=sent.sid,
                            status=sent.status or MessageStatus.QUEUED, to_number=to, body=body,
                            asks_customer=message.asks_customer))
        return sent.sid


def requeue_pending_messages(min_age_s: int = 900, current: Settings | None = None) -> int:
    """Safety net for the sweep: an outbox message still pending after ``min_age_s`` (its job
    lost with Redis, or failed for good) is queued again; past 8 attempts it fails."""
    return requeue_stale(current or settings(), OutboundMessage, "sms", min_age_s=min_age_s,
                         max_attempts=8)
