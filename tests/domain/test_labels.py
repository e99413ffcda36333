"""Words, not codes, from the domain (callcenter/labels.py, callcenter/i18n.py): every code
has its label, the IVR path reads as steps without the numbers the caller typed, and a
marked sentence stays plain English for the API and logs until the web layer translates it."""

from __future__ import annotations

import pickle

from callcenter import labels
from callcenter.i18n import Label, Msg
from callcenter.statuses import CallbackStatus, Presence, TemplateStatus, TicketStatus


def test_every_stored_status_has_a_label():
    for kind, enum in (("ticket status", TicketStatus), ("callback status", CallbackStatus),
                       ("template status", TemplateStatus), ("presence", Presence)):
        for member in enum:
            assert isinstance(labels.label(kind, member), Label), (kind, member)
    assert labels.label("channel", "walk_in") == Label("channel", "Walk-in")
    assert labels.label("category", "agent_request") == Label("category", "Asked for an agent")


def test_a_code_without_a_label_is_shown_without_underscores():
    assert labels.label("category", "brand_new_category") is None
    assert labels.humanised("brand_new_category") == "brand new category"
    assert labels.humanised("no-answer") == "no answer"


def test_the_menu_path_reads_as_steps_and_never_repeats_typed_numbers():
    path = ["language:1", "ask_phone:081234567890", "ask_order:20261001", "confirm_name:1",
            "menu:3", "anything_else:1", "menu:8", "ask_ticket:1000017", "menu:0"]
    steps = labels.menu_steps(path)
    assert [s.msgid for s in steps] == [
        "Bahasa Indonesia", "Phone number", "Order ID", "Name confirmed", "Bill amount",
        "Another question", "Ticket number", "Ticket number", "Agent"]
    assert not any(digits in s.msgid for s in steps
                   for digits in ("0812", "20261001", "1000017"))
    assert [s.msgid for s in labels.menu_steps(["language:-", "menu:#", "hold:1"])] == [
        "Bahasa Indonesia (no key pressed)", "A key not on the menu", "Another step"]


def test_the_ivrs_reasons_read_as_sentences():
    assert labels.reason_text("asked for an agent") == "The caller asked for an agent"
    assert labels.reason_text("no input at ask_order") == (
        "The caller pressed no key at: Order ID")
    assert labels.reason_text("continuing payment_detail") == (
        "The caller continued an open ticket: Payment details")
    assert labels.reason_text("callback: more explanation") == (
        "Callback: a fuller explanation by phone")
    assert labels.reason_text("Waiting for the bank") == "Waiting for the bank"  # typed by a person
    assert labels.reason_text(None) is None


def test_a_callbacks_last_outcome_reads_as_words():
    assert labels.callback_outcome("not reached after 4 attempts (no-answer)") == (
        "not reached after 4 attempts (no answer)")
    assert labels.callback_outcome("busy") == Label("call outcome", "busy")
    assert labels.callback_outcome("twilio 400 21211 Invalid 'To'") == (
        "twilio 400 21211 Invalid 'To'")  # for the operator, as Twilio wrote it


def test_a_marked_sentence_is_english_text_with_its_fields_kept():
    message = Msg("Ticket %(number)s is resolved.", number="1000017")
    assert message == "Ticket 1000017 is resolved." and isinstance(message, str)
    assert message.msgid == "Ticket %(number)s is resolved."
    assert message.fields == {"number": "1000017"}
    assert str(ValueError(message)) == "Ticket 1000017 is resolved."
    again = pickle.loads(pickle.dumps(message))
    assert again == message and again.msgid == message.msgid and again.fields == message.fields
