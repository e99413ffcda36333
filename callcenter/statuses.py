"""Every status the service stores or receives, one spelling each.

They are ``StrEnum``s, so a member *is* its database value (``TicketStatus.OPEN == "open"``):
the columns keep the strings they always held, and no migration is needed. Twilio's own
words keep Twilio's spelling (``CallStatus.CANCELED``), ours keep ours
(``CallbackStatus.CANCELLED``); each enum says whose words it holds.
"""

from __future__ import annotations

from enum import StrEnum


class TicketStatus(StrEnum):
    """Where a complaint stands (P1.5); only ``RESOLVED`` is settled."""

    OPEN = "open"
    PENDING_CUSTOMER = "pending_customer"  # we asked in writing; the no-response clock runs
    PENDING_DOCUMENTS = "pending_documents"  # P4.3: waits for the customer's documents
    RESOLVED = "resolved"


OPEN_TICKET_STATUSES = (TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER,
                        TicketStatus.PENDING_DOCUMENTS)


class CallbackStatus(StrEnum):
    """A callback owed to a customer (P2); the contract's JSON shows these values."""

    SCHEDULED = "scheduled"
    DIALING = "dialing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


PENDING_CALLBACK_STATUSES = (CallbackStatus.SCHEDULED, CallbackStatus.DIALING)


class CallStatus(StrEnum):
    """Twilio's ``CallStatus`` values (twilio.com/docs/voice/api/call-resource#call-status-values),
    in Twilio's spelling; a call leg's contact row stores them."""

    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"


FINAL_CALL_STATUSES = (CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.FAILED,
                       CallStatus.NO_ANSWER, CallStatus.CANCELED)


class MessageStatus(StrEnum):
    """Twilio's Message ``Status`` values
    (twilio.com/docs/messaging/api/message-resource#message-status-values), in Twilio's
    spelling, plus ``RECEIVED`` for what a customer sent us (SMS, WhatsApp or email) and
    ``REPLIED`` for our immediate answer."""

    ACCEPTED = "accepted"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    RECEIVED = "received"
    REPLIED = "replied"  # our TwiML answer to an inbound message, sent with the response


class VisitStatus(StrEnum):
    """A walk-in visit (P4): open while the customer is at the desk, then closed."""

    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"


class OutboxStatus(StrEnum):
    """An SMS/WhatsApp or email we owe a customer: written first, sent by a job."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class TemplateStatus(StrEnum):
    """A reply template (P3.3): only ``APPROVED`` goes out; the next version retires it.
    ``REJECTED`` is a draft QA sent back with a reason; editing it makes it a draft again."""

    DRAFT = "draft"
    REJECTED = "rejected"
    APPROVED = "approved"
    RETIRED = "retired"


class Presence(StrEnum):
    """What an agent chose in the console; only ``AVAILABLE`` is offered calls."""

    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"


class QueueState(StrEnum):
    """Where a call leg stands with the agent queue (``Contact.queue_state``), our words.

    A customer's call: ``WAITING`` in its queue → ``OFFERED`` to an agent who accepted it
    (the agent hears the whisper) → ``BRIDGED`` when Twilio hands it over → ``DONE``; or
    ``LEFT`` (callback wanted) / ``ABANDONED`` (hung up, or gone from Twilio's queue).
    An agent's leg: ``RINGING`` → ``TALKING`` once accepted → ``DONE``; or ``MISSED`` (not
    answered, or not accepted with a key press) / ``NO_CALLER`` (accepted, caller gone).
    """

    WAITING = "waiting"
    OFFERED = "offered"
    BRIDGED = "bridged"
    DONE = "done"
    LEFT = "left"
    ABANDONED = "abandoned"
    RINGING = "ringing"
    TALKING = "talking"
    MISSED = "missed"
    NO_CALLER = "no_caller"
