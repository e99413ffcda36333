"""Words, not codes: the one mapping from every stored code staff see to a label.

Every status, category, channel, reason, contact kind, role and audit action the console shows
is a :class:`~callcenter.i18n.Label` here, in English with a context; the web layer shows it in
the reader's language (``webhooks.i18n``, the ``label`` filter). A code missing here is shown
as a humanised placeholder (never the raw ``snake_case`` value) and the page scan in
``tests/console/test_words_not_codes.py`` fails, so a new status gets its label here.

The IVR's menu path (``language:1 › ask_order:20261001 › menu:3``) is read as steps
(:func:`menu_steps`): "Bahasa Indonesia → Order ID → Bill amount". Digits the caller typed
(Order ID, phone and ticket numbers) are never shown: they are personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from callcenter.i18n import Label, Msg

LABELS: dict[str, dict[str, Label]] = {
    "ticket status": {
        "open": Label("ticket status", "Open"),
        "pending_customer": Label("ticket status", "Waiting for the customer"),
        "pending_documents": Label("ticket status", "Waiting for documents"),
        "resolved": Label("ticket status", "Resolved"),
    },
    "ticket filter": {
        "unsettled": Label("ticket filter", "Open and pending"),
        "open": Label("ticket filter", "Open"),
        "pending_customer": Label("ticket filter", "Waiting for the customer"),
        "pending_documents": Label("ticket filter", "Waiting for documents"),
        "resolved": Label("ticket filter", "Resolved"),
        "all": Label("ticket filter", "All"),
    },
    "due filter": {
        "any": Label("due filter", "Any time"),
        "overdue": Label("due filter", "Overdue"),
        "today": Label("due filter", "Due today"),
        "week": Label("due filter", "Due in the next 7 days"),
    },
    "owner filter": {
        "anyone": Label("owner filter", "Anyone"),
        "me": Label("owner filter", "Me"),
        "unassigned": Label("owner filter", "Unassigned"),
    },
    # P1.2 and FACTS "Complaint categories" (the OJK report's categories).
    "category": {
        "unverified": Label("category", "Caller not verified"),
        "inquiry": Label("category", "Question"),
        "callback_request": Label("category", "Callback request"),
        "agent_request": Label("category", "Asked for an agent"),
        "payment_detail": Label("category", "Payment details"),
        "app_failure": Label("category", "App or system failure"),
        "collector_behaviour": Label("category", "Debt collector's conduct"),
        "restructuring": Label("category", "Restructuring request"),
        "external_fraud": Label("category", "Fraud by outsiders"),
        "data_misuse": Label("category", "Misuse of personal data"),
        "failed_transaction": Label("category", "Failed or late transaction"),
        "interest_penalty": Label("category", "Interest and penalties"),
        "other": Label("category", "Other"),
    },
    "channel": {
        "voice": Label("channel", "Phone"),
        "sms": Label("channel", "SMS"),
        "whatsapp": Label("channel", "WhatsApp"),
        "email": Label("channel", "Email"),
        "walk_in": Label("channel", "Walk-in"),
    },
    "direction": {
        "inbound": Label("direction", "Incoming"),
        "outbound": Label("direction", "Outgoing"),
    },
    "contact kind": {
        "customer": Label("contact kind", "Customer's contact"),
        "agent_leg": Label("contact kind", "Agent's call leg"),
        "callback": Label("contact kind", "Callback"),
    },
    # Twilio's call and message statuses, our walk-in visit statuses (callcenter.statuses).
    "contact status": {
        "queued": Label("contact status", "Queued"),
        "ringing": Label("contact status", "Ringing"),
        "in-progress": Label("contact status", "In progress"),
        "completed": Label("contact status", "Completed"),
        "busy": Label("contact status", "Busy"),
        "failed": Label("contact status", "Failed"),
        "no-answer": Label("contact status", "No answer"),
        "canceled": Label("contact status", "Cancelled"),
        "accepted": Label("contact status", "Accepted"),
        "sending": Label("contact status", "Sending"),
        "sent": Label("contact status", "Sent"),
        "delivered": Label("contact status", "Delivered"),
        "read": Label("contact status", "Read"),
        "undelivered": Label("contact status", "Not delivered"),
        "received": Label("contact status", "Received"),
        "replied": Label("contact status", "Answered automatically"),
    },
    "callback status": {
        "scheduled": Label("callback status", "Scheduled"),
        "dialing": Label("callback status", "Calling now"),
        "completed": Label("callback status", "Done"),
        "failed": Label("callback status", "Failed"),
        "cancelled": Label("callback status", "Cancelled"),
    },
    "callback reason": {  # read inside "Callback owed: …"
        "dropped_call": Label("callback reason", "the call dropped"),
        "more_explanation": Label("callback reason", "a fuller explanation by phone"),
        "no_response": Label("callback reason", "no answer in writing"),
    },
    "outbox status": {
        "pending": Label("outbox status", "Waiting to be sent"),
        "sent": Label("outbox status", "Sent"),
        "failed": Label("outbox status", "Could not be sent"),
    },
    "template status": {
        "draft": Label("template status", "Draft"),
        "approved": Label("template status", "Approved"),
        "retired": Label("template status", "Retired"),
        "rejected": Label("template status", "Sent back"),
    },
    "presence": {
        "available": Label("presence", "Available"),
        "busy": Label("presence", "Busy"),
        "away": Label("presence", "Away"),
    },
    "role": {
        "agent": Label("role", "Agent"),
        "supervisor": Label("role", "Supervisor"),
        "qa": Label("role", "QA"),
        "admin": Label("role", "Admin"),
    },
    "language": {
        "id": Label("language", "Indonesian"),
        "en": Label("language", "English"),
    },
    # POJK: a complaint by phone or at the desk is oral, by email or message written.
    "complaint kind": {
        "oral": Label("complaint kind", "Oral complaint"),
        "written": Label("complaint kind", "Written complaint"),
    },
    # The lender's application statuses (customer import).
    "application status": {
        "submitted": Label("application status", "Submitted"),
        "under_review": Label("application status", "Under review"),
        "approved": Label("application status", "Approved"),
        "disbursed": Label("application status", "Paid out"),
        "rejected": Label("application status", "Rejected"),
        "paid_off": Label("application status", "Paid off"),
    },
    "document source": {
        "desk": Label("document source", "handed in at the desk"),
        "email": Label("document source", "by email"),
        "whatsapp": Label("document source", "by WhatsApp"),
        "sms": Label("document source", "by SMS"),
    },
    # Twilio answering-machine detection (AnsweredBy).
    "answered by": {
        "human": Label("answered by", "A person"),
        "machine_start": Label("answered by", "Answering machine"),
        "machine_end_beep": Label("answered by", "Answering machine"),
        "machine_end_silence": Label("answered by", "Answering machine"),
        "machine_end_other": Label("answered by", "Answering machine"),
        "fax": Label("answered by", "Fax machine"),
        "unknown": Label("answered by", "Not known"),
    },
    # Reply templates' placeholders (callcenter.channels.templates.PLACEHOLDERS).
    "placeholder": {
        "name": Label("placeholder", "the customer's name"),
        "ticket": Label("placeholder", "the ticket number"),
        "amount": Label("placeholder", "the amount due, in Rupiah"),
        "due_date": Label("placeholder", "the due date"),
        "va": Label("placeholder", "the virtual account number"),
        "bank": Label("placeholder", "the virtual account's bank"),
        "email": Label("placeholder", "the customer's email address"),
    },
    "search match": {  # how a customer search found someone (customer_search.MatchKind)
        "ticket": Label("search match", "Ticket number"),
        "order_id": Label("search match", "Order ID"),
        "phone": Label("search match", "Phone number"),
        "email": Label("search match", "Email address"),
        "name_start": Label("search match", "Name"),
        "name_word": Label("search match", "Name"),
        "name_part": Label("search match", "Part of the name"),
    },
    "audit action": {
        "sign_in": Label("audit action", "Signed in"),
        "sign_in_failed": Label("audit action", "Sign-in failed"),
        "sign_out": Label("audit action", "Signed out"),
        "set_language": Label("audit action", "Changed the console language"),
        "view_queue": Label("audit action", "Viewed the ticket list"),
        "view_ticket": Label("audit action", "Viewed a ticket"),
        "search_tickets": Label("audit action", "Searched tickets"),
        "search_customers": Label("audit action", "Searched customers"),
        "view_customer": Label("audit action", "Viewed a customer"),
        "view_documents": Label("audit action", "Viewed documents"),
        "screen_pop": Label("audit action", "Saw a caller on screen"),
        "set_presence": Label("audit action", "Changed presence"),
        "assign_ticket": Label("audit action", "Assigned a ticket"),
        "resolve_ticket": Label("audit action", "Resolved a ticket"),
        "add_note": Label("audit action", "Wrote a note"),
        "set_category": Label("audit action", "Changed a ticket's category"),
        "finish_wrap_up": Label("audit action", "Finished a call's wrap-up"),
        "schedule_callback": Label("audit action", "Scheduled a callback"),
        "require_documents": Label("audit action", "Requested documents"),
        "receive_document": Label("audit action", "Received a document"),
        "send_email": Label("audit action", "Sent an email"),
        "send_message": Label("audit action", "Sent a message"),
        "extend_deadline": Label("audit action", "Extended a deadline"),
        "convert_to_written": Label("audit action", "Oral complaint became written"),
        "desk_visit": Label("audit action", "Served a walk-in visitor"),
        "desk_visit_close": Label("audit action", "Closed a walk-in visit"),
        "desk_visit_more": Label("audit action", "Walk-in visitor had another question"),
        "desk_verify_failed": Label("audit action", "Walk-in verification failed"),
        "view_desk": Label("audit action", "Opened the walk-in desk"),
        "view_visit": Label("audit action", "Viewed a walk-in visit"),
        "view_inbox": Label("audit action", "Viewed the inbox"),
        "view_message": Label("audit action", "Read a customer's message"),
        "link_email": Label("audit action", "Linked an email to a ticket"),
        "confirm_sender": Label("audit action", "Confirmed an email's sender as the customer"),
        "status_lookup": Label("audit action", "Status looked up on the public page"),
        "create_template": Label("audit action", "Wrote a template"),
        "edit_template": Label("audit action", "Edited a template"),
        "approve_template": Label("audit action", "Approved a template"),
        "view_floor": Label("audit action", "Viewed the floor"),
        "download_report": Label("audit action", "Downloaded a report"),
        "view_audit": Label("audit action", "Viewed the audit trail"),
        "view_users": Label("audit action", "Viewed the people list"),
        "view_user": Label("audit action", "Viewed a user"),
        "create_user": Label("audit action", "Added a user"),
        "change_role": Label("audit action", "Changed a role"),
        "deactivate_user": Label("audit action", "Deactivated a user"),
        "reactivate_user": Label("audit action", "Reactivated a user"),
        "unlock_user": Label("audit action", "Unlocked a user"),
        "reset_password": Label("audit action", "Set a password"),
        "link_agent": Label("audit action", "Linked an agent"),
        "create_agent": Label("audit action", "Added an agent"),
    },
}

def label(kind: str, code: str | None) -> Label | None:
    """The label of ``code`` among ``kind`` (a key of :data:`LABELS`); None for no code."""
    if code is None or code == "":
        return None
    return LABELS.get(kind, {}).get(str(code))


def channel_word(code: str) -> Label | str:
    """A channel's word for a sentence (:class:`~callcenter.i18n.Msg` field): "SMS", "Email"."""
    return label("channel", code) or humanised(code)


def humanised(code: str) -> str:
    """What a code without a label shows: words, never underscores or hyphens."""
    return re.sub(r"[_\-]+", " ", str(code)).strip()


# -- the IVR's menu path ------------------------------------------------------------------

# node -> label, or node -> {digit: label}; digits typed at "typed" nodes are never shown.
_TYPED = {
    "ask_phone": Label("menu step", "Phone number"),
    "ask_order": Label("menu step", "Order ID"),
    "ask_ticket": Label("menu step", "Ticket number"),
}
_CHOICES: dict[str, dict[str, Label]] = {
    "language": {
        "1": Label("menu step", "Bahasa Indonesia"),
        "2": Label("menu step", "English"),
        "-": Label("menu step", "Bahasa Indonesia (no key pressed)"),
    },
    "confirm_name": {
        "1": Label("menu step", "Name confirmed"),
        "2": Label("menu step", "Not this name"),
    },
    "open_ticket": {
        "1": Label("menu step", "Continue the open ticket"),
        "2": Label("menu step", "Something else"),
    },
    "menu": {
        "1": Label("menu step", "How to pay"),
        "2": Label("menu step", "Product information"),
        "3": Label("menu step", "Bill amount"),
        "4": Label("menu step", "How to apply"),
        "5": Label("menu step", "Application status"),
        "6": Label("menu step", "Payment details (by email)"),
        "7": Label("menu step", "App failure (by email)"),
        "8": Label("menu step", "Ticket number"),
        "9": Label("menu step", "Callback"),
        "0": Label("menu step", "Agent"),
    },
    "anything_else": {
        "1": Label("menu step", "Another question"),
        "2": Label("menu step", "Nothing else"),
        "3": Label("menu step", "Repeat"),
    },
}
_MENU_NODES = {
    "language": Label("menu step", "Language choice"),
    "confirm_name": Label("menu step", "Name check"),
    "open_ticket": Label("menu step", "Open ticket question"),
    "menu": Label("menu step", "Main menu"),
    "anything_else": Label("menu step", "Anything else?"),
}
_UNKNOWN_KEY = Label("menu step", "A key not on the menu")
_OTHER_STEP = Label("menu step", "Another step")


def menu_steps(path: Iterable[str] | None) -> list[Label]:
    """The caller's way through the IVR as words, in order; typed numbers are left out."""
    steps: list[Label] = []
    for item in path or []:
        node, _, digits = str(item).partition(":")
        if node in _TYPED:
            steps.append(_TYPED[node])
        elif node in _CHOICES:
            steps.append(_CHOICES[node].get(digits[:1] or "-", _UNKNOWN_KEY))
        else:
            steps.append(_OTHER_STEP)
    return steps


# -- why a ticket went to an agent (``Ticket.reason``, written by the IVR) -------------------

_REASONS: dict[str, Msg] = {
    "asked for an agent": Msg("The caller asked for an agent"),
    "verification failed": Msg("The caller could not be verified"),
    "more explanation": Msg("a fuller explanation by phone"),  # after "Callback: "
    "error on our side": Msg("Our system failed during the call; the caller waits for an agent"),
}
_NO_INPUT_AT = "no input at "
_CONTINUING = "continuing "
_CALLBACK = "callback: "


def reason_text(reason: str | None) -> Msg | str | None:
    """The IVR's reason for putting a caller through, as a sentence; a reason someone typed
    (a supervisor's extension reason, say) is shown as they wrote it."""
    if not reason:
        return None
    if reason in _REASONS:
        return _REASONS[reason]
    if reason.startswith(_CALLBACK):
        inner = reason_text(reason[len(_CALLBACK):]) or ""
        return Msg("Callback: %(reason)s", reason=inner)
    if reason.startswith(_NO_INPUT_AT):
        node = reason[len(_NO_INPUT_AT):]
        step = _TYPED.get(node) or _MENU_NODES.get(node)
        if step is None:
            return Msg("The caller pressed no key")
        return Msg("The caller pressed no key at: %(step)s", step=step)
    if reason.startswith(_CONTINUING):
        category = label("category", reason[len(_CONTINUING):])
        if category is None:
            return Msg("The caller continued an open ticket")
        return Msg("The caller continued an open ticket: %(category)s", category=category)
    return reason



# -- why a callback is not done yet (``Callback.last_error``, callcenter/callbacks/policy.py) --

_OUTCOMES = {
    "busy": Label("call outcome", "busy"),
    "no-answer": Label("call outcome", "no answer"),
    "failed": Label("call outcome", "the call failed"),
    "canceled": Label("call outcome", "cancelled"),
    "answering machine": Label("call outcome", "answering machine"),
}
_CALLBACK_NOTES = {
    "customer called in": Msg("the customer called in"),
    "ticket resolved": Msg("the ticket was resolved"),
    "outside calling hours": Msg("outside calling hours"),
    "daily call cap reached": Msg("today's call limit for this customer is reached"),
    "number is no longer the customer's registered phone":
        Msg("the number is no longer the customer's registered phone"),
}
_NOT_REACHED = re.compile(r"^not reached after (\d+) attempts \((.+)\)$")


def callback_outcome(text: str | None) -> Msg | Label | str | None:
    """The callback's last outcome as words; a Twilio error is shown as Twilio wrote it (it
    is for the operator who looks it up)."""
    if not text:
        return None
    found = _NOT_REACHED.match(text)
    if found:
        outcome = _OUTCOMES.get(found.group(2), found.group(2))
        return Msg("not reached after %(count)s attempts (%(outcome)s)",
                   count=found.group(1), outcome=outcome)
    return _OUTCOMES.get(text) or _CALLBACK_NOTES.get(text) or text


def every_label() -> list[Label]:
    """Every label this module can show (the catalog check makes sure each is translated)."""
    found = [one for table in LABELS.values() for one in table.values()]
    found += [*_TYPED.values(), *_MENU_NODES.values(), _UNKNOWN_KEY, _OTHER_STEP]
    found += [one for table in _CHOICES.values() for one in table.values()]
    return found + list(_OUTCOMES.values())
