"""Twilio answers 500 after it placed the call (issue 14 item 5), through the real processes.

The Procfile's ``callcenter worker`` (and ``callcenter scheduler``) run on the real clock
against gunicorn, the suite's database (SQLite and PostgreSQL) and the simulator as Twilio,
whose Calls create places the call and then answers 500 (``fail_after_create``; Twilio's
error 20500: retrying "may give the customer multiple calls"). Before the fix the worker read
the 500 as "not placed" and its retry five seconds later rang the customer a second time
while he was already on the line with the first call. Now the retry asks the Calls API first
and adopts the call: the customer's phone rings once, and the callback (P2.1, owed for a
dropped call, P2.2c) is settled by that call.
"""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from callcenter.models import Callback, Contact
from tests.factories import BUDI_PHONE
from tests.faults.conftest import Stack, owe_a_callback
from tests.support.open_hours import zone_open_now
from tests.support.private_services import ServiceProcess
from tests.support.waiting import eventually
from workers.queues import schedule_callback_job

pytestmark = pytest.mark.slow

ALL_DAY = "00:00-23:59"  # the dev run's window: only the calling day is left to choose


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    """A centre where customers may be called right now (the processes run on the real
    clock)."""
    return {"CALLING_HOURS": ALL_DAY,
            "CALLCENTER_TZ": zone_open_now(time(0), time(23, 59), calling_day=True)}


def _row(stack: Stack) -> Callback:
    with stack.session() as session:
        return session.scalars(select(Callback)).one()


def _calls_to_budi(stack: Stack) -> list:
    return stack.sim.find_calls(to=BUDI_PHONE, direction="outbound-api")


def _budi_is_called_once(stack: Stack, worker: ServiceProcess) -> None:
    """What Budi and the supervisor see: Budi answers and listens to the callback's first
    prompt; the worker's retry after the 500 comes meanwhile and adopts his call instead of
    ringing him a second time; he hangs up, and the callback counts one attempt, that call,
    completed (a person answered)."""
    placed = stack.sim.wait_for_call(to=BUDI_PHONE, timeout=30)
    eventually(lambda: "Twilio answered 500" in worker.log.read_text(errors="replace"))
    assert placed.wait_for_prompt(timeout=15)  # on the line, the callback's greeting
    eventually(lambda: _row(stack).call_sid == placed.sid
               or len(_calls_to_budi(stack)) > 1, timeout=30)  # the retry has run
    assert _calls_to_budi(stack) == [placed]  # his phone rang once
    assert "adopting call" in worker.log.read_text(errors="replace")
    adopted = _row(stack)
    assert (adopted.status, adopted.attempts) == ("dialing", 1)
    placed.hang_up()
    settled = eventually(lambda: (row := _row(stack)).status != "dialing" and row, timeout=20)
    assert (settled.status, settled.attempts, settled.api_errors) == ("completed", 1, 0)
    with stack.session() as session:  # the attempt logged on the ticket is that call (X2)
        [attempt] = session.scalars(select(Contact).where(
            Contact.callback_id == settled.id)).all()
    assert attempt.external_id == placed.sid
    assert _calls_to_budi(stack) == [placed]


def test_a_500_after_the_call_was_placed_rings_the_customer_once(
        stack_on_suite_database: Stack):
    """The worker dials the callback the service queued; Twilio places the call and answers
    500. Its retry (5 s later, from the worker's own RQ scheduler) finds the call and adopts
    it instead of dialling Budi again."""
    stack = stack_on_suite_database
    stack.sim.fail_after_create(1, status=500)
    callback = owe_a_callback(stack)
    schedule_callback_job(stack.settings, callback)  # as the service does after its commit
    worker = stack.start("worker")
    _budi_is_called_once(stack, worker)


def test_a_500_after_the_call_was_placed_with_the_job_lost_rings_once_too(
        stack_on_suite_database: Stack):
    """The callback's job never reached Redis (lost with a restart): ``callcenter scheduler``
    queues it from the row, the worker dials and gets the 500 after Twilio placed the call,
    and the retry, whichever of the two queues it, adopts the call. Still one call."""
    stack = stack_on_suite_database
    stack.sim.fail_after_create(1, status=500)
    owe_a_callback(stack)  # no job: only the row knows
    scheduler = stack.start("scheduler", "--interval", "1")
    worker = stack.start("worker")
    _budi_is_called_once(stack, worker)
    assert "sweep step reconcile_callbacks: {'scheduled': 1," in scheduler.log.read_text(
        errors="replace")  # the scheduler queued the lost job from the row
