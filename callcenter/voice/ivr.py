"""The inbound hotline as a small explicit state machine (P1.1–P1.8, X1, X2).

State lives on the call's :class:`Contact` (``ivr_state``); each step takes the caller's keys
(or their silence) and returns a :class:`Turn`: what to say, what to gather next, and what the
web layer must do after committing (queue the caller for an agent, send an SMS). No Flask and
no RQ here, so a whole call can be played in a Python shell.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callcenter.callbacks import policy
from callcenter.channels import messages
from callcenter.config import Settings
from callcenter.content import LANGUAGES, Content, Speech, plain
from callcenter.models import Contact, Customer, Ticket, utcnow
from callcenter.statuses import QueueState, TicketStatus
from callcenter.tickets import lifecycle
from callcenter.tickets.numbers import is_well_formed
from callcenter.voice import agents, answers, spoken_time, verification
from callcenter.voice.call_state import CallState

# The call as a step sees it: the ORM contact, or the step webhook's Core-loaded state.
Call = Contact | CallState

MAX_SILENCES = 3
MENU = {
    "1": "how_to_pay",
    "2": "product",
    "3": "bill",
    "4": "how_to_apply",
    "5": "status",
    "6": "payment_detail",
    "7": "app_failure",
    "8": "ticket",
    "9": "callback",
    "0": "agent",
}
EMAIL_TOPICS = ("payment_detail", "app_failure")  # P1.3


@dataclass
class Gather:
    """Keys to collect next; ``num_digits`` None means "until #"."""

    prompts: list[Speech]
    num_digits: int | None = 1
    timeout: int = 8
    finish_on_key: str = "#"


@dataclass
class Turn:
    """What the IVR does next. ``end`` is one of gather, hangup, enqueue."""

    lang: str
    say: list[Speech] = field(default_factory=list)
    gather: Gather | None = None
    end: str = "gather"
    message_ids: list[int] = field(default_factory=list)
    callback_ids: list[int] = field(default_factory=list)

    def text(self) -> str:
        prompts = self.gather.prompts if self.gather else []
        return plain(self.say + prompts)


def greeting(content: Content) -> Turn:
    """What every caller hears first: the same for all, so it needs no database. Each
    language offers itself in its own voice (Indonesian first)."""
    offer = [replace(part, lang=lang) for lang in LANGUAGES
             for part in content.speech(lang, "choose_language")]
    return Turn(lang="id", say=content.speech("id", "greeting"),
                gather=Gather(offer, timeout=5))


class Ivr:
    """One call's flow over a database session; the caller commits."""

    def __init__(self, session: Session, settings: Settings, content: Content):
        self.session = session
        self.settings = settings
        self.content = content

    # -- entry points ---------------------------------------------------------------------

    @staticmethod
    def initial_state() -> dict[str, Any]:
        """The state a call is in once the greeting was given (its answer is step 1).

        Its node must only read: the step webhook runs the first answer before the call's
        contact is written (webhooks.voice.step), then inserts it with the result."""
        return {"node": "language", "lang": "id", "attempts": 0, "silences": 0, "told": [],
                "step": 1}

    def start(self, contact: Call) -> Turn:
        """The call comes in: greeting and language choice."""
        contact.ivr_state = self.initial_state()
        return greeting(self.content)

    def start_callback(self, contact: Call, ticket: Ticket, customer: Customer) -> Turn:
        """A callback the customer picked up (P2.1): greet by first name, state the ticket,
        verify the Order ID before anything else is disclosed."""
        contact.ivr_state = {"node": "ask_order", "lang": ticket.language or "id", "attempts": 0,
                             "silences": 0, "told": [], "step": 0, "phone": customer.phone,
                             "callback": True}
        first_name = customer.name.split()[0] if customer.name else ""
        prompts = self._speech(contact, "callback_greeting", first_name=first_name,
                               ticket=ticket.number)
        return self._ask(contact, self._turn(contact), "ask_order", prompts, num_digits=None,
                         timeout=10)

    def voicemail(self, contact: Call, ticket: Ticket) -> Turn:
        """An answering machine hears the ticket number and nothing personal."""
        self._set(contact, node="ended")
        lang = ticket.language or "id"
        return Turn(lang=lang, say=self.content.speech(lang, "voicemail", ticket=ticket.number),
                    end="hangup")

    def handle(self, contact: Call, digits: str | None) -> Turn:
        """The caller pressed ``digits`` (None or "" for silence) at the current node.

        Without autoflush: every step changes the call's contact first, and flushing it
        before each read would write the contact twice per step (the web layer's commit
        writes it once). No read below looks at what the step changed before it, except
        where a flush says so (opening a ticket flushes too).
        """
        with self.session.no_autoflush:
            return self._handle(contact, digits)

    def _handle(self, contact: Call, digits: str | None) -> Turn:
        state = contact.ivr_state
        node = state.get("node", "ended")
        handler = getattr(self, f"_on_{node}", None)
        if handler is None:
            return self._hangup(contact)
        if node != "language" and not digits:
            return self._silence(contact)
        self._set(contact, silences=0)
        turn = handler(contact, digits or "")
        # Recorded after the handler: a ticket it opens (a flush) then finds the contact
        # unchanged, and the commit writes it once.
        contact.menu_path = [*contact.menu_path, f"{node}:{digits or '-'}"]
        return turn

    def queue_result(self, contact: Call, result: str) -> Turn:
        """The caller left the agent queue: talked to an agent, asked for a callback, or hung up."""
        state = contact.ivr_state
        if result == "hangup":
            contact.queue_state = QueueState.ABANDONED
            return self._hangup(contact)
        if result == "bridged":
            contact.queue_state = QueueState.DONE
            self._told(contact, "agent")
            turn = self._turn(contact)
            turn.say += self._speech(contact, "after_agent")
            return self._anything_else(contact, turn)
        contact.queue_state = QueueState.LEFT
        turn = self._turn(contact)
        if state.get("wants_callback") or result != "leave":
            turn = self._schedule_callback(contact, turn)
        return self._closing(contact, turn)

    def hold(self, contact: Call | None, position: int, waited_s: int,
             agents_free: bool) -> Turn:
        """What a caller in the agent queue hears; offers a callback when the wait is long."""
        lang = contact.ivr_state.get("lang", "id") if contact else "id"
        turn = Turn(lang=lang)
        long_wait = waited_s >= self.settings.queue_max_wait_s or not agents_free
        if long_wait and contact is not None and self._can_call_back(contact):
            turn.gather = Gather(self.content.speech(lang, "hold_callback_offer"), timeout=6)
            return turn
        turn.say = self.content.speech(lang, "hold", position=position)
        turn.end = "hold"
        return turn

    def _can_call_back(self, contact: Call) -> bool:
        """A callback goes only to a customer's registered number (P2.1): a caller whose
        ticket names no customer is never offered one (it would be a promise not kept)."""
        ticket = self.session.get(Ticket, contact.ticket_id) if contact.ticket_id else None
        return ticket is not None and ticket.customer_id is not None

    def hold_choice(self, contact: Call, digits: str) -> Turn:
        """"Press 1 for a callback" inside the queue: leave it, keeping the callback promise."""
        lang = contact.ivr_state.get("lang", "id")
        if digits == "1":
            self._set(contact, wants_callback=True)
            return Turn(lang=lang, end="leave")
        return Turn(lang=lang, say=self.content.speech(lang, "hold_keep_waiting"), end="hold")

    def error_turn(self, lang: str = "id") -> Turn:
        """Something failed on our side: apologise and hand the caller to a person."""
        return Turn(lang=lang, say=self.content.speech(lang, "error"), end="enqueue")

    # -- nodes -------------------------------------------------------------------------------

    def _on_language(self, contact: Call, digits: str) -> Turn:
        self._set(contact, lang="en" if digits == "2" else "id")
        return self._ask_identity(contact, self._turn(contact))

    def _on_ask_phone(self, contact: Call, digits: str) -> Turn:
        self._set(contact, phone=digits)
        return self._ask(contact, self._turn(contact), "ask_order",
                         self._speech(contact, "ask_order"), num_digits=None, timeout=10)

    def _on_ask_order(self, contact: Call, digits: str) -> Turn:
        phone = contact.ivr_state.get("phone") or contact.from_number
        customer = verification.match_caller(self.session, phone, digits)
        if customer is None:
            return self._failed_verification(contact)
        self._set(contact, candidate_id=customer.id)
        return self._ask(contact, self._turn(contact), "confirm_name",
                         self._speech(contact, "confirm_name", name=customer.name))

    def _on_confirm_name(self, contact: Call, digits: str) -> Turn:
        if digits == "1":
            return self._verified(contact)
        if digits == "2":
            return self._failed_verification(contact)
        return self._invalid(contact)

    def _on_open_ticket(self, contact: Call, digits: str) -> Turn:
        if digits == "1":
            ticket = self.session.get(Ticket, contact.ivr_state["open_ticket_id"])
            assert ticket is not None
            return self._continue_ticket(contact, ticket)
        if digits == "2":
            return self._menu(contact, self._turn(contact))
        return self._invalid(contact)

    def _on_menu(self, contact: Call, digits: str) -> Turn:
        choice = MENU.get(digits[:1])
        turn = self._turn(contact)
        if choice is None:
            return self._invalid(contact)
        if choice in answers.TOPICS:
            return self._answer(contact, turn, choice)
        if choice in EMAIL_TOPICS:
            return self._email_handoff(contact, turn, choice)
        if choice == "ticket":
            return self._ask(contact, turn, "ask_ticket", self._speech(contact, "ask_ticket"),
                             num_digits=None, timeout=10)
        if choice == "callback":
            ticket = self._ensure_ticket(contact)
            lifecycle.classify(ticket, "callback_request")
            turn = self._schedule_callback(contact, turn)
            return self._anything_else(contact, turn)
        ticket = self._ensure_ticket(contact)
        lifecycle.classify(ticket, "agent_request")
        return self._to_agent(contact, turn, "asked for an agent")

    def _on_ask_ticket(self, contact: Call, digits: str) -> Turn:
        turn = self._turn(contact)
        if not is_well_formed(digits):
            turn.say += self._speech(contact, "ticket_invalid")
            return self._ask(contact, turn, "ask_ticket", self._speech(contact, "ask_ticket"),
                             num_digits=None, timeout=10)
        ticket = lifecycle.find_by_number(self.session, digits)
        customer_id = contact.ivr_state.get("customer_id")
        if ticket is None or ticket.customer_id != customer_id:
            turn.say += self._speech(contact, "ticket_not_found")
            return self._menu(contact, turn)
        return self._continue_ticket(contact, ticket)

    def _on_anything_else(self, contact: Call, digits: str) -> Turn:
        turn = self._turn(contact)
        if digits == "1":
            return self._menu(contact, turn)
        if digits == "2":
            return self._closing(contact, turn)
        if digits == "3":
            turn.say += [Speech(**s) for s in contact.ivr_state.get("last_answer", [])]
            return self._anything_else(contact, turn)
        return self._invalid(contact)

    # -- steps shared by nodes ---------------------------------------------------------------

    def _ask_identity(self, contact: Call, turn: Turn) -> Turn:
        """P1.1: a known caller ID types the Order ID; an unknown one types the phone first."""
        if contact.ivr_state.get("callback") or verification.known_caller(
                self.session, contact.from_number):
            return self._ask(contact, turn, "ask_order", self._speech(contact, "ask_order"),
                             num_digits=None, timeout=10)
        return self._ask(contact, turn, "ask_phone", self._speech(contact, "ask_phone"),
                         num_digits=None, timeout=10)

    def _failed_verification(self, contact: Call) -> Turn:
        """Never say which part was wrong; after the last attempt a person takes over."""
        attempts = contact.ivr_state.get("attempts", 0) + 1
        keep_phone = contact.ivr_state.get("phone") if contact.ivr_state.get("callback") else None
        self._set(contact, attempts=attempts, candidate_id=None, phone=keep_phone)
        turn = self._turn(contact)
        turn.say += self._speech(contact, "verify_failed")
        if attempts >= self.settings.max_verification_attempts:
            turn.say += self._speech(contact, "verify_failed_to_agent")
            ticket = self._ensure_ticket(contact)
            lifecycle.classify(ticket, "unverified")
            return self._to_agent(contact, turn, "verification failed")
        return self._ask_identity(contact, turn)

    def _verified(self, contact: Call) -> Turn:
        customer_id = contact.ivr_state["candidate_id"]
        contact.verified = True
        self._set(contact, customer_id=customer_id)
        turn = self._turn(contact)
        turn.say += self._speech(contact, "verified")
        if contact.ticket is not None and contact.ticket.customer_id is None:
            contact.ticket.customer_id = customer_id
            self.session.flush()  # find_open_ticket below must see this ticket as theirs
        if contact.ivr_state.get("callback"):
            if agents.any_agent_free(self.session):
                return self._to_agent(contact, turn, "callback: " + (
                    contact.ticket.reason if contact.ticket and contact.ticket.reason
                    else "more explanation"))
            turn.say += self._speech(contact, "callback_agents_busy")
            return self._menu(contact, turn)
        open_ticket = lifecycle.open_ticket_brief(self.session, customer_id)
        if open_ticket is not None and open_ticket.id != contact.ticket_id:
            # P1.6/X1: the repeat caller need not explain again.
            self._set(contact, open_ticket_id=open_ticket.id)
            return self._ask(contact, turn, "open_ticket", self._open_ticket_prompt(
                contact, open_ticket))
        return self._menu(contact, turn)

    def _open_ticket_prompt(self, contact: Call, ticket: Any) -> list[Speech]:
        """The ticket's number, status and regulatory due date (the customer may ask for
        the status at any time, POJK 18/2018)."""
        lang = self._lang(contact)
        status = self.content.lookup(lang, "ticket_statuses", ticket.status) or ticket.status
        due = ticket.due_at.astimezone(ZoneInfo(self.settings.timezone)).date() if (
            ticket.due_at) else None
        return self._speech(contact, "open_ticket", ticket=ticket.number, status=status,
                            due_date=answers.long_date(due, lang) if due else "-")

    def _continue_ticket(self, contact: Call, ticket: Ticket) -> Turn:
        contact.ticket = ticket
        contact.ticket_id = ticket.id
        lifecycle.reopen(ticket)
        policy.cancel_pending(self.session, ticket.id, "customer called in")
        turn = self._turn(contact)
        turn.say += self._speech(contact, "continue_ticket", ticket=ticket.number)
        return self._to_agent(contact, turn, ticket.reason or f"continuing {ticket.category}")

    def _answer(self, contact: Call, turn: Turn, topic: str) -> Turn:
        """P1.4: answer from the customer's data, record it (P1.5), then P1.7."""
        customer = self._customer(contact)
        ticket = self._ensure_ticket(contact)
        lifecycle.classify(ticket, "inquiry")
        result = answers.answer(self.content, self._lang(contact), topic, customer)
        contact.answers = [*contact.answers, {"topic": topic, "said": plain(result.speech)}]
        self._set(contact, last_answer=[{"text": s.text, "digits": s.digits}
                                        for s in result.speech])
        self._told(contact, topic, result.summary)
        turn.say += result.speech
        return self._anything_else(contact, turn)

    def _email_handoff(self, contact: Call, turn: Turn, topic: str) -> Turn:
        """P1.3: detail problems go to email; the caller hears the address and ticket, and
        gets both by SMS."""
        customer = self._customer(contact)
        ticket = self._ensure_ticket(contact)
        lifecycle.classify(ticket, topic)
        ticket.status = TicketStatus.PENDING_CUSTOMER
        lang = self._lang(contact)
        email = self.settings.support_email
        speech = self._speech(contact, "email_handoff", email=email, ticket=ticket.number)
        body = self.content.text(lang, "sms_email_handoff", email=email, ticket=ticket.number)
        message = messages.queue_message(self.session, ticket_id=ticket.id,
                                         to_number=customer.phone, body=body)
        message.asks_customer = True  # we wait for their email: the P2.2b clock runs
        turn.message_ids.append(message.id)
        contact.answers = [*contact.answers, {"topic": topic, "said": plain(speech)}]
        self._set(contact, last_answer=[{"text": s.text, "digits": s.digits} for s in speech])
        self._told(contact, topic, self.content.raw(lang, "summary")[topic].format(email=email))
        turn.say += speech
        return self._anything_else(contact, turn)

    def _schedule_callback(self, contact: Call, turn: Turn) -> Turn:
        """P2.2a: the caller wants a fuller explanation by phone; they hear when we will call
        (the first moment of the calling window, in their zone), and the summary repeats it."""
        ticket = self._ensure_ticket(contact)
        callback, created = policy.request_callback(
            self.session, self.settings, ticket, reason="more_explanation")
        if callback is None:
            return turn  # nobody to call back (no customer on the ticket): promise nothing
        if created:
            turn.callback_ids.append(callback.id)
        lang = self._lang(contact)
        customer = self.session.get(Customer, ticket.customer_id)
        when = spoken_time.callback_when(self.content, lang, callback.due_at, utcnow(),
                                         policy.customer_zone(self.settings, customer))
        self._told(contact, "callback",
                   self.content.raw(lang, "summary")["callback"].format(when=when))
        turn.say += self._speech(contact, "callback_scheduled", when=when)
        return turn

    def _to_agent(self, contact: Call, turn: Turn, reason: str) -> Turn:
        ticket = self._ensure_ticket(contact)
        ticket.reason = reason[:200]
        contact.queue_state = QueueState.WAITING
        contact.queued_at = utcnow()
        self._set(contact, node="queued")
        turn.say += self._speech(contact, "to_agent")
        turn.end = "enqueue"
        return turn

    def _menu(self, contact: Call, turn: Turn) -> Turn:
        return self._ask(contact, turn, "menu", self._speech(contact, "menu"), timeout=8)

    def _anything_else(self, contact: Call, turn: Turn) -> Turn:
        """P1.7 after every answer."""
        return self._ask(contact, turn, "anything_else", self._speech(contact, "anything_else"))

    def _closing(self, contact: Call, turn: Turn) -> Turn:
        """P1.8 summary, P1.6 ticket number digit by digit, the closing greeting."""
        ticket = self._ensure_ticket(contact)
        told: list[dict[str, Any]] = contact.ivr_state.get("told", [])
        turn.say += self._speech(contact, "summary_intro")
        if told:
            turn.say += [Speech(item["summary"]) for item in told]
        else:
            turn.say += self._speech(contact, "summary_nothing")
        turn.say += self._speech(contact, "ticket_number", ticket=ticket.number)
        turn.say += self._speech(contact, "goodbye")
        summary = "; ".join(item["summary"] for item in told)
        only_answers = told and all(item["topic"] in answers.TOPICS for item in told)
        # Answered questions settle the ticket (one guarded UPDATE): not while a callback was
        # ever arranged on it or a document is outstanding (P4.3); then it keeps the summary.
        settled = only_answers and ticket.status == TicketStatus.OPEN and (
            lifecycle.resolve_if_settled(self.session, ticket, summary))
        if summary and not settled:
            ticket.summary = summary
        self._set(contact, node="ended", closing_given=True)
        turn.end = "hangup"
        return turn

    def _hangup(self, contact: Call) -> Turn:
        self._set(contact, node="ended")
        return Turn(lang=self._lang(contact), end="hangup")

    def _silence(self, contact: Call) -> Turn:
        """A bad line or a silent caller: ask again, then fall back to a person or the close."""
        silences = contact.ivr_state.get("silences", 0) + 1
        self._set(contact, silences=silences)
        node = contact.ivr_state["node"]
        turn = self._turn(contact)
        turn.say += self._speech(contact, "no_input")
        if silences >= MAX_SILENCES:
            self._set(contact, silences=0)
            if node == "anything_else":
                return self._closing(contact, turn)
            return self._to_agent(contact, turn, f"no input at {node}")
        return self._repeat(contact, turn)

    def _invalid(self, contact: Call) -> Turn:
        turn = self._turn(contact)
        turn.say += self._speech(contact, "invalid_choice")
        return self._repeat(contact, turn)

    def _repeat(self, contact: Call, turn: Turn) -> Turn:
        """Ask the current node's question again."""
        asked = contact.ivr_state.get("asked", {})
        prompts = [Speech(**s) for s in asked.get("prompts", [])]
        return self._ask(contact, turn, contact.ivr_state["node"], prompts,
                         num_digits=asked.get("num_digits", 1),
                         timeout=asked.get("timeout", 8))

    def _ask(self, contact: Call, turn: Turn, node: str, prompts: list[Speech], *,
             num_digits: int | None = 1, timeout: int = 8) -> Turn:
        self._set(contact, node=node, asked={
            "prompts": [{"text": s.text, "digits": s.digits} for s in prompts],
            "num_digits": num_digits, "timeout": timeout})
        turn.gather = Gather(prompts=prompts, num_digits=num_digits, timeout=timeout)
        turn.end = "gather"
        return turn

    # -- small helpers -----------------------------------------------------------------------

    def _ensure_ticket(self, contact: Call) -> Ticket:
        """Every call is logged to a ticket (P1.5, X2): opened on first need."""
        if contact.ticket is not None:
            return contact.ticket
        state = contact.ivr_state
        ticket = lifecycle.open_ticket(
            self.session, channel="voice", customer_id=state.get("customer_id"),
            category="inquiry" if state.get("customer_id") else "unverified",
            language=self._lang(contact), tz=self.settings.timezone, settings=self.settings)
        contact.ticket = ticket
        contact.ticket_id = ticket.id
        return ticket

    def _customer(self, contact: Call) -> Any:
        """The verified caller's facts an answer speaks (answers.FACTS): as the step's
        look-up read them with the call (call_state.find), else from the database."""
        customer_id = contact.ivr_state["customer_id"]
        customer = contact.customer if isinstance(contact, CallState) else None
        if customer is None or customer.id != customer_id:
            customer = answers.customer_facts(self.session, customer_id)
        assert customer is not None, "menu reached without a verified customer"
        return customer

    def _told(self, contact: Call, topic: str, summary: str | None = None) -> None:
        lang = self._lang(contact)
        text = summary or self.content.raw(lang, "summary")[topic]
        told = [*contact.ivr_state.get("told", []), {"topic": topic, "summary": text}]
        self._set(contact, told=told)

    def _speech(self, contact: Call, key: str, **fields: Any) -> list[Speech]:
        return self.content.speech(self._lang(contact), key, **fields)

    def _lang(self, contact: Call) -> str:
        return contact.ivr_state.get("lang", "id")

    def _turn(self, contact: Call) -> Turn:
        return Turn(lang=self._lang(contact))

    @staticmethod
    def _set(contact: Call, **values: Any) -> None:
        """Replace the JSON dict so SQLAlchemy sees the change."""
        contact.ivr_state = {**contact.ivr_state, **values}
