"""Call legs as contacts (X2): taken in once per CallSid, closed by status callbacks.

Twilio retries and sends several status events per call; each (CallSid, CallStatus,
SequenceNumber) has its effect once (FACTS: de-duplicate on the event, not the CallSid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from callcenter.callbacks import policy
from callcenter.config import Settings
from callcenter.db import insert_unless_exists
from callcenter.models import Callback, Contact, Ticket, WebhookEvent, utcnow
from callcenter.phones import try_e164
from callcenter.statuses import FINAL_CALL_STATUSES, CallStatus, QueueState
from callcenter.tickets import lifecycle
from callcenter.voice import agents, verification


@dataclass
class StatusEffects:
    """What the web layer must do after commit."""

    duplicate: bool = False
    callback_ids: list[int] = field(default_factory=list)
    dispatch_agents: bool = False
    # An agent began wrapping up: ring agents again when their wrap-up times out.
    dispatch_at: datetime | None = None


# Built once: the statement every voice webhook runs first (its cache key is then all SQLAlchemy
# computes per request, not the statement too).
_CALL_BY_SID = select(Contact).where(Contact.channel == "voice",
                                     Contact.external_id == bindparam("call_sid"))


def find_call(session: Session, call_sid: str) -> Contact | None:
    return session.scalars(_CALL_BY_SID, {"call_sid": call_sid}).first()


def begin_inbound(session: Session, call_sid: str, from_number: str | None,
                  to_number: str | None) -> tuple[Contact, bool]:
    """The contact of an inbound call; the same CallSid twice gives the same contact.

    One INSERT … ON CONFLICT DO NOTHING RETURNING: the new row comes back as the contact;
    nothing comes back when the call's contact exists already (a Twilio retry, or a
    concurrent request that inserted it first), and that one is read instead.
    """
    created = session.scalars(
        insert_unless_exists(session, Contact, "channel", "external_id").values(
            channel="voice", direction="inbound", external_id=call_sid,
            status=CallStatus.IN_PROGRESS, from_number=try_e164(from_number) or from_number,
            to_number=to_number)
        .returning(Contact)).first()
    if created is not None:
        return created, True
    existing = find_call(session, call_sid)
    assert existing is not None
    return existing, False


def first_time(session: Session, key: str) -> bool:
    """Record a provider event; False when it was taken in before (a Twilio retry)."""
    dialect = session.get_bind().dialect.name
    statement = _FIRST_TIME.get(dialect)
    if statement is None:  # built once per database kind: every status callback runs it
        table = WebhookEvent.__table__
        statement = insert_unless_exists(session, table, "key").returning(table.c.id)
        _FIRST_TIME[dialect] = statement
    return session.execute(statement, {"key": key[:200]}).first() is not None


_FIRST_TIME: dict[str, Any] = {}


def record_status(session: Session, settings: Settings, params: dict[str, str],
                  callback_id: int | None = None) -> StatusEffects:
    """Apply one call status callback to its contact.

    ``callback_id`` comes from the status URL of a callback call, so the outcome is settled
    even if the worker died before it could store the Call SID.
    """
    call_sid = params.get("CallSid", "")
    status = params.get("CallStatus", "")
    key = f"voice-status:{call_sid}:{status}:{params.get('SequenceNumber', '')}"
    if not first_time(session, key):
        return StatusEffects(duplicate=True)
    effects = StatusEffects()
    contact = find_call(session, call_sid)
    if contact is None and callback_id is not None:
        callback = session.get(Callback, callback_id)
        if callback is not None:
            contact = policy.outbound_contact(session, callback, call_sid)
    if contact is None and params.get("Direction") == "inbound":
        # Hung up during the greeting: the call is still logged (P1.5, X2).
        contact, _ = begin_inbound(session, call_sid, params.get("From"), params.get("To"))
    if contact is None:
        return effects
    if params.get("AnsweredBy"):
        contact.answered_by = params["AnsweredBy"][:30]
    # CallDuration is seconds; Twilio's "Duration" is billed minutes, never a duration here.
    duration = params.get("CallDuration")
    if contact.status in FINAL_CALL_STATUSES:
        # A late "ringing" never reopens a finished call; a second final word (the sweep asked
        # Twilio, then the spooled or late callback came) repeats no effect: no second
        # dropped-call callback, no second release of the agent.
        if contact.duration_s is None and duration and duration.isdigit():
            contact.duration_s = int(duration)
        return effects
    contact.status = status
    if status not in FINAL_CALL_STATUSES:
        return effects
    contact.ended_at = contact.ended_at or utcnow()
    if duration and duration.isdigit():
        contact.duration_s = int(duration)
    if contact.kind == agents.AGENT_LEG:
        if contact.agent_id is not None:
            agents.release_agent(session, contact.agent_id, call_sid)
            if status in (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED):
                agents.missed_by_agent(session, contact.agent_id)
        agents.leg_ended(session, contact)
        effects.dispatch_at = agents.start_wrap_up(session, settings, contact)
        effects.dispatch_agents = True
        return effects
    if contact.callback_id is not None:
        callback = session.get(Callback, contact.callback_id)
        if callback is not None and policy.settle(
                session, settings, callback, call_sid, status, contact.answered_by):
            effects.callback_ids.append(callback.id)
    _settle_customer_call(session, settings, contact, effects)
    return effects


def _settle_customer_call(session: Session, settings: Settings, contact: Contact,
                          effects: StatusEffects) -> None:
    """Log the call to a ticket (P1.5) and owe a callback if it dropped mid-flow (P2.2c)."""
    state = contact.ivr_state or {}
    if contact.queue_state in (QueueState.WAITING, QueueState.OFFERED):
        contact.queue_state = QueueState.ABANDONED
    if contact.kind == "callback" and not state:
        return  # never answered by a person: nothing was said, the ladder handles it
    if contact.ticket_id is None:
        ticket = lifecycle.open_ticket(
            session, channel="voice", customer_id=state.get("customer_id"),
            category="inquiry" if contact.verified else "unverified",
            language=state.get("lang", "id"), tz=settings.timezone, settings=settings)
        contact.ticket_id = ticket.id
        if not contact.verified:
            lifecycle.resolve(session, ticket, "Panggilan berakhir sebelum verifikasi.")
    ended_in_flow = contact.verified and not state.get("closing_given")
    talked_to_agent = contact.queue_state in (QueueState.BRIDGED, QueueState.DONE)
    if ended_in_flow and not talked_to_agent and contact.status in (CallStatus.COMPLETED,
                                                                    CallStatus.CANCELED):
        ticket = session.get(Ticket, contact.ticket_id)
        if ticket is not None:
            callback, created = policy.request_callback(
                session, settings, ticket, reason="dropped_call",
                earliest=utcnow() + timedelta(seconds=settings.dropped_call_delay_s))
            if callback is not None and created:
                effects.callback_ids.append(callback.id)


ERROR_REASON = "error on our side"  # Ticket.reason of a caller the error turn queued


def ticket_for_queued_caller(session: Session, settings: Settings, contact: Contact) -> None:
    """Every caller in the agent queue has a ticket (P1.5, X2): the agent hears whose call it
    is, the console shows it, and a callback can be owed to them.

    The IVR opens it before it queues a caller; the error turn queues callers when nothing
    could be written (the database was down), and their first wait-music request once it
    answers comes here. The ticket is the verified customer's; for a caller not (yet)
    verified, it is the customer's whose registered phone the caller ID is, when exactly one
    customer has it, so that "press 1 for a callback" can keep its promise: the callback goes
    only to that registered number, and whoever answers verifies first (P2.1). The caller
    stays unverified: the whisper and the screen pop say so.
    """
    if contact.ticket_id is not None:
        return
    state = contact.ivr_state or {}
    customer_id = state.get("customer_id") if contact.verified else None
    if customer_id is None:
        customer_id = verification.only_customer_with_phone(session, contact.from_number)
    ticket = lifecycle.open_ticket(
        session, channel="voice", customer_id=customer_id,
        category="inquiry" if contact.verified else "unverified",
        language=state.get("lang", "id"), tz=settings.timezone, settings=settings)
    ticket.reason = ERROR_REASON
    contact.ticket_id = ticket.id


SILENT_AFTER = timedelta(minutes=2)


def unsettled_calls(session: Session, now: datetime | None = None,
                    limit: int = 200) -> list[Contact]:
    """Call legs with no final status :data:`SILENT_AFTER` after they began: still live, or
    their status callback was lost (the service unreachable, the database and Redis down).
    The sweep asks Twilio which, oldest first (``workers.call_status``)."""
    cutoff = (now or utcnow()) - SILENT_AFTER
    return list(session.scalars(
        select(Contact).where(Contact.channel == "voice",
                              Contact.status.not_in(FINAL_CALL_STATUSES),
                              Contact.external_id.is_not(None),
                              Contact.started_at < cutoff)
        .order_by(Contact.started_at).limit(limit)))
