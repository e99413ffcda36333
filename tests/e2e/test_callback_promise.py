""""We will call you back" says when (P2.1, P2.2a): the first moment of the calling window
(Monday–Saturday, 08:00–20:00, no national holiday) in the customer's own zone, as words in
the caller's language, and the closing summary repeats it. Through the simulator, with the
clock moved to the evening or the weekend in Jakarta."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from callcenter.models import Callback
from tests.e2e.test_inbound_hotline import _closing, _verify
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer

JAKARTA = ZoneInfo("Asia/Jakarta")


def _at(*when: int):
    return time_machine.travel(datetime(*when, tzinfo=JAKARTA), tick=True)


def _ask_for_a_callback(call) -> str:
    call.press("9")
    return call.wait_for_prompt()


@pytest.mark.parametrize(("when", "promise"), [
    ((2026, 11, 25, 10, 0), "terdaftar dalam beberapa menit."),  # inside the window: now
    ((2026, 11, 24, 21, 0), "terdaftar besok pukul 08.00."),  # Tuesday evening
    ((2026, 11, 25, 6, 30), "terdaftar hari ini pukul 08.00."),  # before the window opens
    ((2026, 11, 28, 20, 30), "terdaftar pada hari Senin, 30 November, pukul 08.00."),  # Sat
])
def test_the_caller_hears_when_we_will_call_back(hotline, session, when, promise):
    make_customer(session)
    with _at(*when):
        call = hotline.call(BUDI_PHONE)
        _verify(call)
        heard = _ask_for_a_callback(call)
        assert promise in heard
        closing = _closing(call, "2")
    assert "kami akan menelepon Anda kembali " + promise.split("terdaftar ")[1][:-1] in closing


def test_in_english_and_in_the_customers_own_zone(hotline, session):
    """A customer in Makassar (WITA, an hour ahead of Jakarta) asks at 23:30 Jakarta time:
    it is already Wednesday where they are, so we call "today at 08:00", their 08:00."""
    make_customer(session, timezone="Asia/Makassar")
    with _at(2026, 11, 24, 23, 30):
        call = hotline.call(BUDI_PHONE)
        call.wait_for_prompt()
        call.press("2")
        call.wait_for_prompt()
        call.press(BUDI_ORDER + "#")
        call.wait_for_prompt()
        call.press("1")
        call.wait_for_prompt()
        assert "registered number today at 08:00." in _ask_for_a_callback(call)
        call.hang_up()
    callback = session.scalars(select(Callback)).one()
    assert callback.due_at == datetime(2026, 11, 25, 8, 0, tzinfo=ZoneInfo("Asia/Makassar"))
