"""Email threading tokens and subject numbers (FACTS "Email threading", X1); HTML display."""

from __future__ import annotations

from callcenter.channels.email_threading import (
    make_message_id,
    referenced_ids,
    subject_ticket_number,
    tag_subject,
    ticket_id_from_message_id,
)
from callcenter.channels.sanitize import safe_html
from callcenter.tickets.numbers import number_for


def test_our_message_id_names_its_ticket_under_a_signature():
    message_id = make_message_id("secret", 42, "cankul.co.id")
    assert message_id.startswith("<t42.") and message_id.endswith("@cankul.co.id>")
    assert ticket_id_from_message_id("secret", message_id) == 42
    assert make_message_id("secret", 42, "cankul.co.id") != message_id  # unique each time


def test_a_message_id_with_another_ticket_number_or_key_is_not_ours():
    message_id = make_message_id("secret", 42, "cankul.co.id")
    assert ticket_id_from_message_id("secret", message_id.replace("<t42.", "<t43.")) is None
    assert ticket_id_from_message_id("other-secret", message_id) is None
    assert ticket_id_from_message_id("secret", "<CAF=abc@mail.gmail.com>") is None


def test_references_are_tried_in_reply_to_first_then_newest_reference():
    assert referenced_ids("<c@x>", "<a@x> <b@x>\n <c@x>") == ["<c@x>", "<b@x>", "<a@x>"]
    assert referenced_ids(None, None) == []


def test_subject_numbers_need_a_right_check_digit_and_a_ticket_word():
    number = number_for(15)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert subject_ticket_number(f"Re: Tagihan [Tiket {number}]") == number
    assert subject_ticket_number(f"ticket #{number} bukti") == number
    assert subject_ticket_number(f"Nomor tiket: {number}") == number
    assert subject_ticket_number(f"Tiket {wrong}") is None
    assert subject_ticket_number(f"Order {number} saya") is None  # a bare number is no ticket


def test_our_subjects_carry_the_ticket_number_once():
    assert tag_subject("RE: Re: Tagihan", "1000015", reply=True) == "Re: Tagihan [Tiket 1000015]"
    assert tag_subject("Re: [Tiket 1000015] x", "1000015", reply=True) == "Re: [Tiket 1000015] x"
    assert tag_subject("", "1000015") == "[Tiket 1000015]"


def test_safe_html_keeps_formatting_and_drops_active_content():
    shown = safe_html('<div style="x" onmouseover="y()"><i>ok</i><iframe src="https://e"></iframe>'
                      '<img src="javascript:alert(1)"><script>bad()</script></div>')
    assert "<i>ok</i>" in shown
    for bad in ("script", "bad()", "iframe", "onmouseover", "javascript:", "style"):
        assert bad not in shown
    assert safe_html(None) == ""
