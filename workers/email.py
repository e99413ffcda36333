"""Send an outbox email over SMTP (P3.5 acknowledgements, P3.3 template replies).

A 5xx answer is permanent: the row is marked failed with the server's reason. A 4xx answer,
a refused connection or a timeout is transient: the error is noted, the row stays pending and
the job raises so RQ retries it with backoff (nothing is lost). On success the email is a
contact on its ticket, stored as sent.
"""

from __future__ import annotations

import logging
import smtplib

from sqlalchemy.exc import IntegrityError

from callcenter.channels import email_outbound
from callcenter.config import ConfigError, Settings
from callcenter.models import Contact, OutboundEmail, utcnow
from callcenter.statuses import MessageStatus, OutboxStatus
from workers.outbox import requeue_stale
from workers.runtime import job_session, settings

log = logging.getLogger(__name__)


class TransientSmtpError(RuntimeError):
    """Worth retrying later (RQ's Retry)."""


def _code(exc: smtplib.SMTPException) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return max(codes) if codes else None
    return getattr(exc, "smtp_code", None)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                         for code, msg in exc.recipients.values())[:300]
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        return f"{exc.smtp_code} {text}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def send_email(email_id: int) -> str | None:
    """Send once; returns our Message-ID when sent, None when there was nothing to send."""
    current = settings()
    with job_session(current) as session:
        email = session.get(OutboundEmail, email_id)
        if email is None or email.status != OutboxStatus.PENDING:
            return None
        email.attempts += 1
        session.commit()
        message = email_outbound.build_message(current, email)
        try:
            email_outbound.deliver(current, message)
        except smtplib.SMTPException as exc:
            code = _code(exc)
            reason = _reason(exc)
            is_auth = isinstance(exc, smtplib.SMTPAuthenticationError)
            if code is not None and 500 <= code < 600 and not is_auth:
                email.status = OutboxStatus.FAILED
                email.last_error = reason
                log.warning("email %s refused permanently: %s", email_id, reason)
                return None
            email.last_error = reason
            session.commit()
            raise TransientSmtpError(f"email {email_id}: {reason}") from exc
        except (OSError, ConfigError) as exc:  # refused, unreachable, timeout, TLS, no SMTP_URL
            email.last_error = _reason(exc)
            session.commit()
            raise TransientSmtpError(f"email {email_id}: {email.last_error}") from exc
        email.status = OutboxStatus.SENT
        email.sent_at = utcnow()
        email.last_error = None
        # X2: the email is a contact on its ticket, as sent; a template reply asks the customer
        # (P3.4), which starts the no-response clock (P2.2b).
        session.add(Contact(
            ticket_id=email.ticket_id, channel="email", direction="outbound",
            external_id=email.message_id, status=MessageStatus.SENT, sender=current.support_email,
            subject=email.subject, body=email.body, in_reply_to=email.in_reply_to,
            asks_customer=email_outbound.asks_customer(email), started_at=email.sent_at,
            ivr_state={"email": {"message_id": email.message_id, "to": [email.to_address],
                                 "references": (email.references or "").split(),
                                 "template_id": email.template_id}}))
        try:
            session.commit()
        except IntegrityError:  # sent twice by two runs at once: the first contact stands
            session.rollback()
        return email.message_id


MAX_ATTEMPTS = 8  # RQ's 5 retries, plus what a sweep re-queues


def requeue_pending(min_age_s: int = 900, current: Settings | None = None) -> int:
    """Safety net for the sweep: pending emails whose job was lost are queued again; past
    ``MAX_ATTEMPTS`` they are marked failed. Returns how many were queued."""
    return requeue_stale(current or settings(), OutboundEmail, "email", min_age_s=min_age_s,
                         max_attempts=MAX_ATTEMPTS)
