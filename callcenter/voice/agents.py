"""Agents and routing: who takes a queued caller, and what they hear first (whisper).

An agent is claimed with a conditional UPDATE, so two dispatchers never ring one agent twice.

Presence is what the agent chose in the console: ``available``, ``busy`` (after-call
work) or ``away``. Routing reads ``Agent.available``, which is True exactly when the presence is
``available``; every writer goes through :func:`set_presence` so the two never disagree. A
person's choice (the console's switch, ``callcenter agents available|unavailable``) goes through
:func:`choose_presence`, which audits it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.models import Agent, Contact, Customer, Ticket, utcnow
from callcenter.phones import mask_phone, to_e164
from callcenter.statuses import Presence

PRESENCES = tuple(Presence)


class AgentError(ValueError):
    """A bad agent registration; the message is for the operator."""


def set_presence(agent: Agent, presence: str) -> bool:
    """Set what the agent chose; routing offers calls only to ``available`` agents.

    Returns True when the agent has just become available (the caller should then kick the
    dispatcher, after commit, so a caller already waiting is routed to them).
    """
    if presence not in PRESENCES:
        raise AgentError(f"presence must be one of {', '.join(PRESENCES)}")
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
        raise AgentError("give exactly one of a phone number or a client identity")
    if session.scalars(select(Agent).where(Agent.name == name)).first() is not None:
        raise AgentError(f"an agent named {name!r} exists already")
    agent = Agent(name=name, phone=to_e164(phone) if phone else None,
                  client_identity=client_identity, available=available,
                  presence=Presence.AVAILABLE if available else Presence.AWAY)
    session.add(agent)
    session.flush()
    return agent


def set_available(session: Session, name: str, available: bool, *, actor: str) -> Agent:
    """The agent named ``name`` becomes available, or away (:func:`choose_presence`)."""
    agent = session.scalars(select(Agent).where(Agent.name == name)).first()
    if agent is None:
        raise AgentError(f"no agent named {name!r}")
    choose_presence(session, agent, Presence.AVAILABLE if available else Presence.AWAY,
                    actor=actor)
    return agent


def any_agent_free(session: Session) -> bool:
    """Someone available and not on a call: else a queued caller is offered a callback."""
    return session.scalars(
        select(Agent.id).where(Agent.available.is_(True), Agent.current_call_sid.is_(None))
    ).first() is not None


def help_is_coming(session: Session, position: int) -> bool:
    """A free agent, or enough agents already ringing to reach this caller's place in the
    queue: then "all our agents are busy" would be untrue (the offer waits)."""
    return any_agent_free(session) or agents_ringing(session) >= max(position, 1)


def callers_waiting(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(Contact).where(Contact.queue_state == "waiting")
    ) or 0


def queue_found_empty(session: Session, agent_sid: str) -> int:
    """An agent dialled the queue and Twilio had nobody in it.

    Callers we still count as waiting since before that agent was rung are not there (their
    status callback was lost): stop counting them, or each would ring agents forever.
    """
    leg = session.scalars(select(Contact).where(
        Contact.channel == "voice", Contact.external_id == agent_sid)).first()
    if leg is None:
        return 0
    result = session.execute(
        update(Contact)
        .where(Contact.queue_state == "waiting",
               or_(Contact.queued_at.is_(None), Contact.queued_at < leg.started_at))
        .values(queue_state="abandoned")
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


def missed_by_agent(session: Session, agent_id: int) -> None:
    """An agent who does not pick up is set unavailable, so callers are not offered to an
    empty desk again and again (a supervisor or the agent sets them back): presence "away"."""
    agent = session.get(Agent, agent_id)
    if agent is not None:
        set_presence(agent, Presence.AWAY)


def agents_ringing(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(Contact).where(
            Contact.kind == "agent_leg", Contact.queue_state == "ringing")
    ) or 0


def claim_agents(session: Session) -> list[tuple[int, str]]:
    """Reserve as many free agents as there are unserved callers; returns (id, token).

    The token stands in ``current_call_sid`` until the real Call SID is known.
    """
    wanted = callers_waiting(session) - agents_ringing(session)
    claimed: list[tuple[int, str]] = []
    if wanted <= 0:
        return claimed
    candidates = session.scalars(
        select(Agent.id)
        .where(Agent.available.is_(True), Agent.current_call_sid.is_(None))
        .order_by(Agent.last_offered_at.asc().nulls_first(), Agent.id)
    ).all()
    for agent_id in candidates:
        if len(claimed) >= wanted:
            break
        token = f"claim-{uuid.uuid4().hex}"
        result = session.execute(
            update(Agent)
            .where(Agent.id == agent_id, Agent.current_call_sid.is_(None))
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
    session.add(Contact(channel="voice", direction="outbound", kind="agent_leg",
                        external_id=call_sid, status="queued", to_number=agent.address
                        if agent else None, agent_id=agent_id, queue_state="ringing"))


def release_agent(session: Session, agent_id: int, token_or_sid: str) -> None:
    """The agent's leg ended (or never started): free them for the next caller."""
    session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.current_call_sid == token_or_sid)
        .values(current_call_sid=None)
    )


def connect(session: Session, caller_sid: str, agent_sid: str) -> str:
    """Twilio dequeued ``caller_sid`` to ``agent_sid``: link both legs, return the whisper."""
    caller = session.scalars(select(Contact).where(
        Contact.channel == "voice", Contact.external_id == caller_sid)).first()
    leg = session.scalars(select(Contact).where(
        Contact.channel == "voice", Contact.external_id == agent_sid)).first()
    if caller is None:
        return "Panggilan tanpa tiket."
    caller.queue_state = "bridged"
    if leg is not None:
        leg.queue_state = "talking"
        leg.ticket_id = caller.ticket_id
        caller.agent_id = leg.agent_id
    return whisper(session, caller)


def whisper(session: Session, caller: Contact) -> str:
    """What the agent hears before the caller: ticket, verified name, reason."""
    ticket = session.get(Ticket, caller.ticket_id) if caller.ticket_id else None
    parts = []
    if ticket is not None:
        parts.append(f"Tiket {' '.join(ticket.number or '')}.")
    customer_id = caller.ivr_state.get("customer_id") if caller.verified else None
    customer = session.get(Customer, customer_id) if customer_id else None
    if customer is not None:
        parts.append(f"Pelanggan terverifikasi: {customer.name}.")
    else:
        parts.append("Pelanggan belum terverifikasi, mohon verifikasi nama, telepon, Order ID.")
    if ticket is not None and ticket.reason:
        parts.append(f"Alasan: {ticket.reason}.")
    if ticket is not None and ticket.summary:
        parts.append(f"Riwayat tiket: {ticket.summary}.")  # X1: no re-explaining
    told = [item["summary"] for item in caller.ivr_state.get("told", [])]
    if told:
        parts.append("Sudah disampaikan: " + "; ".join(told) + ".")
    return " ".join(parts)
