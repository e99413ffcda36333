"""The screen pop: what an agent sees about the call being put through to them.

A routed call reaches the agent as an agent leg (``Contact.kind == "agent_leg"``), rung by the
dispatcher. When the agent accepts it (presses 1),
:func:`callcenter.voice.agents.offer_next_caller` links the leg to the caller's ticket *before*
the two are bridged: from that moment the pop shows the caller's verified identity, the ticket
and its history (X1: the customer does not explain again), while the agent hears the whisper.

Every agent's console polls this every 2 s, so it is cheap by construction:

- no call, or a leg still ringing: **1 query** (the leg, outer-joined to its ticket and the
  ticket's customer);
- a linked call: **2 queries** (plus the recent contacts of the ticket, which include the
  caller's own leg). A third runs only in the rare case the verified customer is not the
  ticket's customer, or the caller's leg is older than the ticket's recent contacts;
- a verified caller: **2 more** (:func:`customer_context`): the customer's other open tickets
  and their last contacts on every channel, so a caller with an earlier complaint is known
  as such before the agent speaks (X1). The wrap-up card shows the same.

Showing a caller's identity is a view of personal data: the web layer audits it once per agent
leg, using :func:`first_showing` (an atomic Redis ``SET NX`` shared by every web worker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import Contact, Customer, Ticket
from callcenter.phones import mask_phone
from callcenter.statuses import OPEN_TICKET_STATUSES, QueueState
from callcenter.voice.agents import AGENT_LEG

LIVE_LEG_STATES = (QueueState.RINGING, QueueState.TALKING)
HISTORY_SIZE = 5
OTHER_TICKETS = 10
CUSTOMER_TICKETS = 200  # the customer's newest tickets looked at (a borrower has a few)
SHOWN_TTL_S = 2 * 86400  # an agent leg lasts minutes; the marker outlives it comfortably


@dataclass
class Pop:
    """The agent's current call. ``linked`` is False while the agent's phone still rings."""

    leg: Contact
    linked: bool
    ticket: Ticket | None = None
    caller: Contact | None = None
    customer: Customer | None = None  # set only when the caller verified (P1.1)
    # (contact, its ticket's number): this ticket's, or the verified customer's on any ticket
    history: list[tuple[Contact, str | None]] = field(default_factory=list)
    other_tickets: list[Ticket] = field(default_factory=list)  # the verified customer's open ones

    @property
    def leg_sid(self) -> str:
        return self.leg.external_id or f"leg-{self.leg.id}"

    @property
    def verified_name(self) -> str | None:
        return self.customer.name if self.customer is not None else None

    @property
    def order_id(self) -> str | None:
        return self.customer.order_id if self.customer is not None else None

    @property
    def masked_phone(self) -> str:
        number = self.caller.from_number if self.caller is not None else None
        if number is None and self.customer is not None:
            number = self.customer.phone
        return mask_phone(number)

    @property
    def told(self) -> list[str]:
        """What the IVR already told the caller, so the agent does not repeat it (X1)."""
        if self.caller is None:
            return []
        items: list[Any] = (self.caller.ivr_state or {}).get("told", [])
        return [str(item["summary"]) for item in items
                if isinstance(item, dict) and item.get("summary")]

    @property
    def shows_identity(self) -> bool:
        """Personal data is on screen (audited once per leg)."""
        return self.linked and (self.ticket is not None or self.customer is not None)


def current_pop(session: Session, agent_id: int, history_size: int = HISTORY_SIZE) -> Pop | None:
    """The live agent leg of ``agent_id`` (ringing or talking, not ended), or None."""
    row = session.execute(
        select(Contact, Ticket, Customer)
        .outerjoin(Ticket, Ticket.id == Contact.ticket_id)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
        .where(Contact.queue_state.in_(LIVE_LEG_STATES),  # indexed: few rows at any time
               Contact.kind == AGENT_LEG,
               Contact.agent_id == agent_id,
               Contact.ended_at.is_(None))
        # "+ 0": newest first without walking the primary key; SQLite otherwise scans every
        # contact backwards by id for an agent with no live leg (35 ms at 100,000 tickets)
        # instead of reading the few live legs from the queue_state index.
        .order_by((Contact.id + 0).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    leg, ticket, ticket_customer = row
    # Accepting sets "talking" and the ticket together; a caller without a ticket (an error
    # turn) still counts as linked so the agent is told there is nothing to show.
    linked = leg.queue_state == QueueState.TALKING or leg.ticket_id is not None
    pop = Pop(leg=leg, linked=linked, ticket=ticket)
    if not linked or ticket is None:
        return pop
    recent = list(session.scalars(
        select(Contact)
        .where(Contact.ticket_id == ticket.id, Contact.kind != AGENT_LEG)
        .order_by(Contact.started_at.desc(), Contact.id.desc())
        .limit(history_size + 1)))
    pop.history = [(contact, ticket.number) for contact in recent[:history_size]]
    pop.caller = next((c for c in recent if _is_caller(c, agent_id)), None)
    if pop.caller is None:
        pop.caller = session.scalars(
            select(Contact).where(Contact.ticket_id == ticket.id, Contact.channel == "voice",
                                  Contact.kind != AGENT_LEG, Contact.agent_id == agent_id)
            .order_by(Contact.started_at.desc(), Contact.id.desc()).limit(1)).first()
    pop.customer = verified_customer(session, pop.caller, ticket_customer)
    if pop.customer is not None:
        context = customer_context(session, pop.customer.id, ticket.id, history_size)
        pop.other_tickets, pop.history = context.other_tickets, context.recent
    return pop


@dataclass
class CustomerContext:
    """A verified customer's other open tickets and last contacts across channels."""

    other_tickets: list[Ticket]
    recent: list[tuple[Contact, str | None]]  # (contact, its ticket's number), newest first


def customer_context(session: Session, customer_id: int, current_ticket_id: int | None,
                     recent_size: int) -> CustomerContext:
    """What the pop and the wrap-up card show of the customer beyond this call's ticket.

    The customer's tickets first (a handful, by the customer index), then their contacts by
    ticket: one join ordered by time let SQLite walk every contact by time."""
    theirs = list(session.scalars(
        select(Ticket).where(Ticket.customer_id == customer_id)
        .order_by(Ticket.opened_at.desc()).limit(CUSTOMER_TICKETS)))
    others = [t for t in theirs
              if t.status in OPEN_TICKET_STATUSES and t.id != current_ticket_id][:OTHER_TICKETS]
    numbers = {t.id: t.number for t in theirs}
    recent = [(contact, numbers.get(contact.ticket_id or 0)) for contact in session.scalars(
        select(Contact).where(Contact.ticket_id.in_(numbers), Contact.kind != AGENT_LEG)
        .order_by(Contact.started_at.desc(), Contact.id.desc()).limit(recent_size))]
    return CustomerContext(others, recent)


def _is_caller(contact: Contact, agent_id: int) -> bool:
    """The customer's call leg that connect() bridged to this agent."""
    return contact.channel == "voice" and contact.agent_id == agent_id


def verified_customer(session: Session, caller: Contact | None,
                       ticket_customer: Customer | None) -> Customer | None:
    """The identity the caller proved in the IVR (P1.1), never merely the ticket's owner."""
    if caller is None or not caller.verified:
        return None
    customer_id = (caller.ivr_state or {}).get("customer_id")
    if not isinstance(customer_id, int):
        return None
    if ticket_customer is not None and ticket_customer.id == customer_id:
        return ticket_customer
    return session.get(Customer, customer_id)


def shown_key(prefix: str, leg: Contact) -> str:
    return f"{prefix}callcenter:screen-pop:{leg.id}"


def first_showing(redis: Any, prefix: str, leg: Contact) -> bool:
    """True exactly once per agent leg across every web worker (atomic ``SET NX``)."""
    return bool(redis.set(shown_key(prefix, leg), b"1", nx=True, ex=SHOWN_TTL_S))


def forget_showing(redis: Any, prefix: str, leg: Contact) -> None:
    """The audit row was not written after all: let the next poll try again."""
    redis.delete(shown_key(prefix, leg))
