"""Agents and routing: who takes a queued caller, how the agent accepts, what they hear first.

An agent is claimed with a conditional UPDATE, so two dispatchers never ring one agent twice.
Every caller waits in a Twilio queue of its own (:func:`caller_queue`): an agent who accepts
the call with a key press is offered one caller (a conditional UPDATE again, so two agents
never get the same one), hears the whisper about exactly that caller on their own leg, and
then dials that caller's queue; Twilio's ``<Dial><Queue>`` always takes the front of a queue,
so a shared queue could hand the agent someone else than the one whispered about.

Presence is what the agent chose in the console: ``available``, ``busy`` (after-call
work) or ``away``. Routing reads ``Agent.available``, which is True exactly when the presence is
``available``; every writer goes through :func:`set_presence` so the two never disagree. A
person's choice (the console's switch, ``callcenter agents available|unavailable``) goes through
:func:`choose_presence`, which audits it.

Wrap-up (P1.7, P1.8): when an agent's talking leg ends, :func:`start_wrap_up` holds them out of
routing until ``Agent.wrap_up_until`` (``WRAP_UP_SECONDS`` later) or until they finish the
wrap-up card (:func:`end_wrap_up`, from :mod:`callcenter.voice.wrap_up`), whichever is first.
Their presence stays what they chose: an agent who forgets the card is offered calls again.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import requests
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException

from callcenter import audit
from callcenter.config import Settings
from callcenter.content import Content, Speech
from callcenter.i18n import Msg
from callcenter.models import Agent, Contact, Customer, Ticket, utcnow
from callcenter.phones import mask_phone, to_e164
from callcenter.statuses import CallStatus, Presence, QueueState
from callcenter.voice.telephony import rest_client

log = logging.getLogger(__name__)
PRESENCES = tuple(Presence)
AGENT_LEG = "agent_leg"
QUEUE_NAME_MAX = 64  # https://www.twilio.com/docs/voice/twiml/enqueue: "64 characters or less"
MEMBER_CHECK_TIMEOUT_S = 3.0  # the agent is on the line: ask Twilio briefly, else go ahead
OFFER_CANDIDATES = 5


class AgentError(ValueError):
    """A bad agent registration; the message is for the operator."""


def set_presence(agent: Agent, presence: str) -> bool:
    """Set what the agent chose; routing offers calls only to ``available`` agents.

    Returns True when the agent has just become available (the caller should then kick the
    dispatcher, after commit, so a caller already waiting is routed to them).
    """
    if presence not in PRESENCES:
        raise AgentError(Msg("presence must be one of %(choices)s", choices=", ".join(PRESENCES)))
    became_available = presence == Presence.AVAILABLE and not agent.available
    agent.presence = presence
    agent.available = presence == Presence.AVAILABLE
    return became_available


def choose_presence(session: Session, agent: Agent, presence: str, *, actor: str) -> bool:
    """A person sets the agent's presence (:func:`set_presence`), with its ``set_presence``
    audit row for ``actor``; True when the agent has just become available."""
    before = agent.presence
    became_available = set_presence(agent, presence)
    audit.record(session, actor, "set_presence", f"agent:{agent.id}", f"{before} -> {presence}")
    return became_available


def masked_address(agent: Agent) -> str:
    """How the agent is reached, phone masked (privacy): ``+62*****0001`` or ``client:sari``."""
    return mask_phone(agent.phone) if agent.phone else f"client:{agent.client_identity}"


def add_agent(session: Session, name: str, *, phone: str | None = None,
              client_identity: str | None = None, available: bool = False) -> Agent:
    """Register an agent reachable on a phone number or a Twilio Client identity."""
    if bool(phone) == bool(client_identity):
        raise AgentError(Msg("give exactly one of a phone number or a client identity"))
    if session.scalars(select(Agent).where(Agent.name == name)).first() is not None:
        raise AgentError(Msg("an agent named '%(name)s' exists already", name=name))
    agent = Agent(name=name, phone=to_e164(phone) if phone else None,
                  client_identity=client_identity, available=available,
                  presence=Presence.AVAILABLE if available else Presence.AWAY)
    session.add(agent)
    session.flush()
    return agent


def agent_named(session: Session, name: str) -> Agent:
    """The agent registered as ``name``; :class:`AgentError` when there is none."""
    agent = session.scalars(select(Agent).where(Agent.name == name)).first()
    if agent is None:
        raise AgentError(Msg("no agent named '%(name)s'", name=name))
    return agent


def set_available(session: Session, name: str, available: bool, *, actor: str) -> Agent:
    """The agent named ``name`` becomes available, or away (:func:`choose_presence`)."""
    agent = agent_named(session, name)
    choose_presence(session, agent, Presence.AVAILABLE if available else Presence.AWAY,
                    actor=actor)
    return agent


def not_wrapping_up(now: datetime) -> ColumnElement[bool]:
    """Routing's condition: the agent's wrap-up is over (finished, timed out, or none)."""
    return or_(Agent.wrap_up_until.is_(None), Agent.wrap_up_until <= now)


def in_wrap_up(agent: Agent, now: datetime | None = None) -> bool:
    """Held out of routing by a wrap-up that is neither finished nor timed out."""
    return agent.wrap_up_until is not None and agent.wrap_up_until > (now or utcnow())


def start_wrap_up(session: Session, settings: Settings, leg: Contact,
                  now: datetime | None = None) -> datetime | None:
    """The agent's talking leg ended: the screen pop becomes the wrap-up card of this leg and
    routing skips the agent for ``settings.wrap_up_s`` seconds. Returns when they are offered
    calls again (the caller schedules a dispatch then); None when the leg never reached a
    caller (a missed or refused offer is no call to wrap up)."""
    if leg.agent_id is None or leg.queue_state != QueueState.DONE:
        return None
    until = (now or utcnow()) + timedelta(seconds=max(settings.wrap_up_s, 0))
    session.execute(update(Agent).where(Agent.id == leg.agent_id)
                    .values(wrap_up_until=until, wrap_up_leg_id=leg.id)
                    .execution_options(synchronize_session="fetch"))
    return until


def end_wrap_up(agent: Agent) -> bool:
    """The agent finished the card: the card goes and routing offers them calls at once.
    Returns True when they were still held (the caller kicks the dispatcher after commit)."""
    held = in_wrap_up(agent)
    agent.wrap_up_until = None
    agent.wrap_up_leg_id = None
    return held


def any_agent_free(session: Session) -> bool:
    """Someone available, not on a call and not wrapping up: else a queued caller is offered
    a callback."""
    return session.scalars(
        select(Agent.id).where(Agent.available.is_(True), Agent.current_call_sid.is_(None),
                               not_wrapping_up(utcnow()))
    ).first() is not None


def help_is_coming(session: Session, position: int) -> bool:
    """A free agent, or enough agents already ringing to reach this caller's place in the
    queue: then "all our agents are busy" would be untrue (the offer waits)."""
    return any_agent_free(session) or agents_ringing(session) >= max(position, 1)


def callers_waiting(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(Contact)
        .where(Contact.queue_state == QueueState.WAITING)
    ) or 0


def caller_queue(base_name: str, call_sid: str) -> str:
    """The Twilio queue of one caller: ``<Enqueue>`` and the agent's ``<Dial><Queue>`` name it."""
    return f"{base_name}-{call_sid}"[:QUEUE_NAME_MAX]


def queue_position(session: Session, caller: Contact) -> int:
    """1 + the callers queued before this one and not yet with an agent (their own Twilio
    queues each hold one caller, so Twilio's QueuePosition is always 1)."""
    if caller.queued_at is None:
        return 1
    ahead = session.scalar(
        select(func.count()).select_from(Contact).where(
            Contact.queue_state.in_((QueueState.WAITING, QueueState.OFFERED)),
            Contact.queued_at < caller.queued_at)) or 0
    return ahead + 1


def in_twilio_queue(caller: Contact, queue_sid: str | None) -> bool:
    """Twilio's waitUrl request proves the caller sits in its queue: remember the queue (for
    the agent's check) and count them as waiting if our books did not (given up on them, or
    queued by the error turn without a state). Returns True when they became waiting (the
    caller should kick the dispatcher)."""
    if queue_sid and (caller.ivr_state or {}).get("queue_sid") != queue_sid:
        caller.ivr_state = {**(caller.ivr_state or {}), "queue_sid": queue_sid}
    if caller.queue_state in (None, QueueState.ABANDONED):
        caller.queue_state = QueueState.WAITING
        caller.queued_at = caller.queued_at or utcnow()
        caller.agent_id = None
        return True
    return False


def missed_by_agent(session: Session, agent_id: int) -> None:
    """An agent who does not pick up (or does not accept) is set unavailable, so callers are not
    offered to an empty desk again and again (a supervisor or the agent sets them back)."""
    agent = session.get(Agent, agent_id)
    if agent is not None:
        set_presence(agent, Presence.AWAY)


def agents_ringing(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(Contact).where(
            Contact.kind == AGENT_LEG, Contact.queue_state == QueueState.RINGING)
    ) or 0


def claim_agents(session: Session) -> list[tuple[int, str]]:
    """Reserve as many free agents (available, not on a call, not wrapping up) as there are
    unserved callers; returns (id, token).

    The token stands in ``current_call_sid`` until the real Call SID is known.
    """
    wanted = callers_waiting(session) - agents_ringing(session)
    claimed: list[tuple[int, str]] = []
    if wanted <= 0:
        return claimed
    now = utcnow()
    candidates = session.scalars(
        select(Agent.id)
        .where(Agent.available.is_(True), Agent.current_call_sid.is_(None),
               not_wrapping_up(now))
        .order_by(Agent.last_offered_at.asc().nulls_first(), Agent.id)
    ).all()
    for agent_id in candidates:
        if len(claimed) >= wanted:
            break
        token = f"claim-{uuid.uuid4().hex}"
        result = session.execute(
            update(Agent)
            .where(Agent.id == agent_id, Agent.current_call_sid.is_(None),
                   not_wrapping_up(now))
            .values(current_call_sid=token, last_offered_at=utcnow())
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append((agent_id, token))
    return claimed


def agent_leg_placed(session: Session, agent_id: int, token: str, call_sid: str) -> None:
    """Twilio accepted the call to the agent: remember it as a ringing agent leg (X2).

    A conditional UPDATE, not the loaded object: the claim was an UPDATE too, so an Agent
    already in this session's identity map would still show the old value.
    """
    session.execute(update(Agent)
                    .where(Agent.id == agent_id, Agent.current_call_sid == token)
                    .values(current_call_sid=call_sid)
                    .execution_options(synchronize_session="fetch"))
    agent = session.get(Agent, agent_id)
    session.add(Contact(channel="voice", direction="outbound", kind=AGENT_LEG,
                        external_id=call_sid, status=CallStatus.QUEUED, to_number=agent.address
                        if agent else None, agent_id=agent_id,
                        queue_state=QueueState.RINGING))


def release_agent(session: Session, agent_id: int, token_or_sid: str) -> None:
    """The agent's leg ended (or never started): free them for the next caller."""
    session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.current_call_sid == token_or_sid)
        .values(current_call_sid=None)
    )


# -- the agent's answer ------------------------------------------------------------------------

def find_leg(session: Session, leg_sid: str) -> Contact | None:
    return session.scalars(select(Contact).where(
        Contact.channel == "voice", Contact.kind == AGENT_LEG,
        Contact.external_id == leg_sid)).first()


def not_accepted(session: Session, leg: Contact) -> None:
    """The agent's phone answered but nobody pressed 1 (an absent agent, or their voicemail):
    the leg counts as missed and the agent is set away, like an agent who does not pick up."""
    if leg.queue_state == QueueState.RINGING:
        leg.queue_state = QueueState.MISSED
    if leg.agent_id is not None:
        missed_by_agent(session, leg.agent_id)


def offered_caller(session: Session, leg: Contact) -> Contact | None:
    """The caller this agent accepted (whatever became of them since)."""
    caller_sid = (leg.ivr_state or {}).get("caller_sid")
    if not caller_sid:
        return None
    return session.scalars(select(Contact).where(
        Contact.channel == "voice", Contact.external_id == caller_sid)).first()


def offer_next_caller(session: Session, settings: Settings, leg: Contact) -> Contact | None:
    """The agent pressed 1: give them the longest-waiting caller nobody else has, who is still
    in their Twilio queue (the Members API says so); None when nobody is left.

    Each candidate is taken with a conditional UPDATE, so two agents accepting at once get two
    different callers. A candidate Twilio no longer has in its queue is marked abandoned.
    A Twilio retry of the same answer gets the same caller.
    """
    current = offered_caller(session, leg)
    if current is not None and current.queue_state == QueueState.OFFERED:
        return current
    candidates = session.scalars(
        select(Contact.id).where(Contact.queue_state == QueueState.WAITING,
                                 Contact.kind != AGENT_LEG)
        .order_by(Contact.queued_at.asc().nulls_first(), Contact.id)
        .limit(OFFER_CANDIDATES)).all()
    for caller_id in candidates:
        taken = session.execute(
            update(Contact)
            .where(Contact.id == caller_id, Contact.queue_state == QueueState.WAITING)
            .values(queue_state=QueueState.OFFERED, agent_id=leg.agent_id)
            .execution_options(synchronize_session="fetch"))
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another agent took them first
        caller = session.get(Contact, caller_id)
        assert caller is not None
        if still_queued(settings, caller) is False:
            caller.queue_state = QueueState.ABANDONED
            caller.agent_id = None
            continue
        leg.queue_state = QueueState.TALKING
        leg.ticket_id = caller.ticket_id  # the screen pop shows the caller from now on
        leg.ivr_state = {**(leg.ivr_state or {}), "caller_sid": caller.external_id}
        return caller
    leg.queue_state = QueueState.NO_CALLER
    return None


def still_queued(settings: Settings, caller: Contact) -> bool | None:
    """Ask Twilio whether the caller is still a member of their queue: False when Twilio says
    not (404); None when we cannot tell (no queue known yet, Twilio slow or down), and the
    short ``<Dial>`` timeout of the bridge is the backstop."""
    queue_sid = (caller.ivr_state or {}).get("queue_sid")
    if not queue_sid or not caller.external_id:
        return None
    client = rest_client(settings, timeout=MEMBER_CHECK_TIMEOUT_S)
    try:
        client.queues(queue_sid).members(caller.external_id).fetch()
    except TwilioRestException as exc:
        if exc.status == 404:
            return False
        log.warning("queue member check answered %s (%s)", exc.status, exc.code)
        return None
    except requests.RequestException as exc:
        log.warning("queue member check failed: %s", type(exc).__name__)
        return None
    return True


def delete_queue(settings: Settings, queue_sid: str) -> bool:
    """Delete a caller's emptied queue ("Queues persist. To optimize fetch operations, inactive
    Queues should be deleted", twilio.com/docs/voice/api/queue-resource). Best effort: a queue
    left behind costs nothing but clutter."""
    try:
        rest_client(settings, timeout=MEMBER_CHECK_TIMEOUT_S).queues(queue_sid).delete()
    except (TwilioRestException, requests.RequestException) as exc:
        log.info("could not delete queue %s: %s", queue_sid, type(exc).__name__)
        return False
    return True


def caller_gone(session: Session, leg: Contact) -> None:
    """The accepted caller is no longer there to bridge (hung up during the whisper, or their
    queue was empty): the agent is told and the leg ends; the caller counts as abandoned."""
    caller = offered_caller(session, leg)
    if caller is not None and caller.queue_state == QueueState.OFFERED:
        caller.queue_state = QueueState.ABANDONED
        caller.agent_id = None
    leg.queue_state = QueueState.NO_CALLER


def leg_ended(session: Session, leg: Contact) -> None:
    """The agent's leg is over. A caller they accepted but never reached goes back to waiting
    (the agent hung up during the whisper), so the next agent is rung for them."""
    caller = offered_caller(session, leg)
    if caller is not None and caller.queue_state == QueueState.OFFERED and (
            caller.ended_at is None):
        caller.queue_state = QueueState.WAITING
        caller.agent_id = None
    if leg.queue_state == QueueState.RINGING:
        leg.queue_state = QueueState.MISSED
    elif leg.queue_state == QueueState.TALKING:
        leg.queue_state = QueueState.DONE


def connect(session: Session, caller_sid: str, agent_sid: str) -> Contact | None:
    """Twilio dequeued ``caller_sid`` for ``agent_sid`` (the ``<Queue url>`` request, on the
    caller's side, just before the bridge): both legs are linked. Returns the caller."""
    caller = session.scalars(select(Contact).where(
        Contact.channel == "voice", Contact.external_id == caller_sid)).first()
    leg = session.scalars(select(Contact).where(
        Contact.channel == "voice", Contact.external_id == agent_sid)).first()
    if caller is None:
        return None
    caller.queue_state = QueueState.BRIDGED
    if caller.answered_at is None:  # a Twilio retry keeps the first answer
        caller.answered_at = utcnow()
    if leg is not None:
        leg.queue_state = QueueState.TALKING
        leg.ticket_id = caller.ticket_id
        leg.ivr_state = {**(leg.ivr_state or {}), "caller_sid": caller_sid}
        caller.agent_id = leg.agent_id
    return caller


def whisper(session: Session, content: Content, caller: Contact) -> list[Speech]:
    """What the agent hears before the caller, in the agents' language: ticket, the caller's
    language when it is not theirs, verified name or a warning, reason, history, and what the
    IVR already told (X1: the customer does not explain again)."""
    lang = content.agent_language
    state = caller.ivr_state or {}
    ticket = session.get(Ticket, caller.ticket_id) if caller.ticket_id else None
    parts: list[Speech] = []
    if ticket is not None and ticket.number:
        parts += content.speech(lang, "whisper_ticket", ticket=ticket.number)
    else:
        parts += content.speech(lang, "whisper_no_ticket")
    caller_lang = state.get("lang", "id")
    if caller_lang != lang:
        name = content.lookup(lang, "language_names", caller_lang) or caller_lang
        parts += content.speech(lang, "whisper_language", language=name)
    customer_id = state.get("customer_id") if caller.verified else None
    customer = session.get(Customer, customer_id) if customer_id else None
    if customer is not None:
        parts += content.speech(lang, "whisper_verified", name=customer.name)
    else:
        parts += content.speech(lang, "whisper_unverified")
    if ticket is not None and ticket.reason:
        parts += content.speech(lang, "whisper_reason", reason=ticket.reason)
    if ticket is not None and ticket.summary:
        parts += content.speech(lang, "whisper_history", summary=ticket.summary)
    told = [content.lookup(lang, "agent_topics", item.get("topic")) or item.get("summary", "")
            for item in state.get("told", []) if isinstance(item, dict)]
    if any(told):
        parts += content.speech(lang, "whisper_told", told="; ".join(t for t in told if t))
    return parts
