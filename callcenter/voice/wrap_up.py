"""Wrap-up: the screen pop stays after the call until the agent has written it up.

When an agent's talking leg ends (:func:`callcenter.voice.agents.start_wrap_up`), the pop turns
into a wrap-up card for that call: a note in the agent's words, the category, whether "anything
else?" was asked (P1.7), the summary given (P1.8) and the next step. The next steps are the
ticket actions every other page uses (:func:`actions.resolve`,
:func:`actions.schedule_callback`, :func:`actions.request_documents`), or keeping the ticket
open while the customer's email or documents are awaited; no second path to any of them.

While the card is unfinished routing skips the agent, at most ``WRAP_UP_SECONDS``; finishing
it ends the hold at once. The card also shows the verified customer's other open tickets and
their last contacts on every channel, so a second problem is not missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.config import Settings
from callcenter.content import Content
from callcenter.i18n import Msg
from callcenter.models import Agent, Contact, Customer, Note, Ticket, User, utcnow
from callcenter.people import users
from callcenter.statuses import TicketStatus
from callcenter.tickets import actions
from callcenter.voice import agents
from callcenter.voice.screen_pop import customer_context, verified_customer

RECENT_CONTACTS = 8


class NextStep(StrEnum):
    """What happens to the ticket after the call."""

    RESOLVE = "resolve"  # settled, with the summary the customer was given (P1.8)
    CALLBACK = "callback"  # we owe them a call with a fuller answer (P2.2a)
    DOCUMENTS = "documents"  # it waits for their documents (P4.3)
    WAIT = "wait"  # it stays open: their email or an internal check is awaited


@dataclass
class Card:
    """The wrap-up card of ``agent``'s last call."""

    agent: Agent
    leg: Contact
    ticket: Ticket | None
    caller: Contact | None
    customer: Customer | None  # only a customer the caller verified as (P1.1)
    other_tickets: list[Ticket] = field(default_factory=list)
    recent: list[tuple[Contact, str | None]] = field(default_factory=list)  # (contact, number)
    notes: list[Note] = field(default_factory=list)

    @property
    def held(self) -> bool:
        """Routing still skips the agent (the card is neither finished nor timed out)."""
        return agents.in_wrap_up(self.agent)

    @property
    def until(self) -> datetime | None:
        return self.agent.wrap_up_until

    @property
    def may_resolve(self) -> bool:
        return self.ticket is not None and self.ticket.status != TicketStatus.RESOLVED


def current_card(session: Session, agent: Agent) -> Card | None:
    """The card the agent still has to finish, or None."""
    if agent.wrap_up_leg_id is None:
        return None
    leg = session.get(Contact, agent.wrap_up_leg_id)
    if leg is None or leg.agent_id != agent.id:
        return None
    ticket = session.get(Ticket, leg.ticket_id) if leg.ticket_id else None
    caller = agents.offered_caller(session, leg)
    customer = verified_customer(session, caller, ticket.customer if ticket else None)
    card = Card(agent=agent, leg=leg, ticket=ticket, caller=caller, customer=customer)
    if ticket is not None:
        card.notes = list(ticket.notes)
    if customer is not None:
        context = customer_context(session, customer.id, ticket.id if ticket else None,
                                   RECENT_CONTACTS)
        card.other_tickets, card.recent = context.other_tickets, context.recent
    return card


@dataclass(frozen=True)
class Answers:
    """What the agent filled in on the card."""

    note: str = ""
    category: str = ""
    anything_else_asked: bool = False
    summary: str = ""
    next_step: str = NextStep.WAIT
    call_at: datetime | None = None
    documents: list[str] = field(default_factory=list)


@dataclass
class Finished:
    """What finishing did; the web layer commits, then queues the jobs."""

    dispatch: bool  # the agent was still held: ring them for a waiting caller now
    note: Note | None = None
    callback: actions.CallbackScheduled | None = None
    documents: actions.DocumentsRequested | None = None
    resolved: actions.Resolved | None = None  # with the notice to queue after commit (P1.8)


def finish(session: Session, settings: Settings, content: Content, user: User, agent: Agent,
           answers: Answers) -> Finished:
    """Finish ``agent``'s wrap-up card as ``user``, all or nothing: an
    :class:`actions.ActionRefused` (nothing written) when a step is refused, e.g. resolving
    without having asked "anything else?" (P1.7) or without a summary (P1.8)."""
    card = current_card(session, agent)
    if card is None:
        raise actions.ActionRefused(Msg("There is no call to wrap up."), 409)
    try:
        step = NextStep(answers.next_step)
    except ValueError as exc:
        raise actions.ActionRefused(Msg("Choose what happens next."), 400) from exc
    ticket = card.ticket
    actor = users.actor_of(user)
    done = Finished(dispatch=False)
    if ticket is not None:
        if step == NextStep.RESOLVE and not answers.anything_else_asked:
            raise actions.ActionRefused(Msg(
                "Ask whether there is anything else before resolving the ticket."), 400)
        if answers.note.strip():
            done.note = actions.add_note(session, user, ticket, answers.note)
        if answers.category and answers.category != ticket.category:
            actions.set_category(session, ticket, answers.category, actor=actor)
        if step == NextStep.RESOLVE:
            done.resolved = actions.resolve(session, settings, content, ticket, answers.summary,
                                            actor=actor)
        elif step == NextStep.CALLBACK:
            done.callback = actions.schedule_callback(session, settings, ticket,
                                                      answers.call_at, actor=actor)
        elif step == NextStep.DOCUMENTS:
            if not answers.documents:
                raise actions.ActionRefused(
                    Msg("Write the documents needed, one per line."), 400)
            done.documents = actions.request_documents(session, settings, content, ticket,
                                                       answers.documents, actor=actor)
        elif len(answers.summary.strip()) > actions.MAX_SUMMARY:
            raise actions.ActionRefused(Msg("The summary has at most %(limit)s characters.",
                                            limit=actions.MAX_SUMMARY), 400)
    record = {"by": user.username, "at": utcnow().isoformat(), "next_step": step.value,
              "anything_else_asked": answers.anything_else_asked,
              "summary": answers.summary.strip()[:actions.MAX_SUMMARY] or None}
    card.leg.ivr_state = {**(card.leg.ivr_state or {}), "wrap_up": record}
    done.dispatch = agents.end_wrap_up(agent)
    audit.record(session, actor, "finish_wrap_up",
                 f"ticket:{ticket.number}" if ticket is not None else f"contact:{card.leg.id}",
                 f"next:{step.value} anything_else_asked:{answers.anything_else_asked}")
    return done
