"""Exactly one call per callback, whatever fails in between ("nothing lost").

Real Redis, real RQ workers (in-process and in killed subprocesses), the simulator as Twilio.
The clock is moved to a Wednesday morning in Jakarta so the calling window is open.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psutil
import pytest
import time_machine
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from callcenter.callbacks import policy
from callcenter.config import PROJECT_ROOT
from callcenter.models import Callback
from callcenter.tickets import lifecycle
from tests.factories import BUDI_PHONE, make_customer
from tests.support.production import production_environment
from tests.support.twilio_client import sign
from tests.support.waiting import eventually
from workers.callbacks import TWILIO_TIMEOUT_S, place_callback, reconcile
from workers.queues import (
    URGENT,
    callback_job_id,
    queue,
    redis_connection,
    schedule_callback_job,
)

WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))


@pytest.fixture
def clock():
    with time_machine.travel(WEDNESDAY_MORNING, tick=True) as traveller:
        yield traveller


def _owe(session, hotline, delay: timedelta = timedelta(0)) -> Callback:
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    callback, _ = policy.request_callback(
        session, hotline.settings, ticket, reason="dropped_call",
        earliest=datetime.now(UTC) + delay)
    session.commit()
    return callback


def _calls_to_budi(hotline) -> list:
    return hotline.sim.find_calls(to=BUDI_PHONE, direction="outbound-api")


def _reload(session, callback: Callback) -> Callback:
    session.expire_all()
    return session.get(Callback, callback.id)


def _spawn_worker(*extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.worker_process",
         datetime.now(UTC).isoformat(), *extra],
        cwd=PROJECT_ROOT, env=production_environment(), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its work horse, as a lost machine would.

    RQ forks a horse per job into its own process group, so killing the group is not enough.
    """
    parent = psutil.Process(process.pid)
    for child in parent.children(recursive=True):
        child.kill()
    parent.kill()
    process.wait(timeout=10)


def test_worker_killed_after_twilio_accepted_never_dials_again(hotline, session, clock):
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline)
    schedule_callback_job(hotline.settings, callback)
    hotline.sim.hold_call_responses()
    worker = _spawn_worker()
    try:
        hotline.sim.wait_for_call(to=BUDI_PHONE, timeout=20)  # Twilio has the call...
    finally:
        _kill(worker)  # ...and the worker dies before it hears back
    hotline.sim.release_call_responses()
    # The status callback names the callback: it adopts the Call SID and settles it.
    settled = eventually(lambda: _reload(session, callback).last_error == "busy"
                         and _reload(session, callback))
    assert settled.status == "scheduled" and settled.attempts == 1
    hotline.run_jobs()
    reconcile(hotline.settings)
    assert len(_calls_to_budi(hotline)) == 1  # the first attempt was never repeated
    clock.shift(timedelta(minutes=settings_retry(hotline) + 1))
    reconcile(hotline.settings)
    hotline.run_jobs()
    assert len(_calls_to_budi(hotline)) == 2  # only the ladder's next attempt followed
    assert _reload(session, callback).attempts == 2


def settings_retry(hotline) -> int:
    return hotline.settings.callback_retry_minutes[0]


def _job_status(hotline, callback: Callback) -> str | None:
    try:
        return Job.fetch(callback_job_id(callback),
                         connection=redis_connection(hotline.settings)).get_status()
    except NoSuchJobError:
        return None


def test_worker_killed_while_waiting_its_turn_leaves_the_callback_to_be_dialled_once(
        hotline, session, clock, redis_conn):
    """Pacing comes before the claim: a worker killed while it waits for its dialling slot
    leaves the row ``scheduled`` (not ``dialing`` without a call for 15 minutes), and the
    reconciler replaces the dead job within a minute; the customer gets one call."""
    callback = _owe(session, hotline)
    schedule_callback_job(hotline.settings, callback)
    # Another worker holds the dialling slot: this one waits its turn inside the job.
    redis_connection(hotline.settings).set("callcenter:dial-pace", "1", px=60_000)
    worker = _spawn_worker()
    try:
        eventually(lambda: _job_status(hotline, callback) == JobStatus.STARTED, timeout=20)
        time.sleep(1)  # well into the job: it waits for the slot
    finally:
        _kill(worker)
    redis_connection(hotline.settings).delete("callcenter:dial-pace")
    assert _calls_to_budi(hotline) == []
    waiting = _reload(session, callback)
    assert (waiting.status, waiting.attempts) == ("scheduled", 0)  # not claimed, not lost
    assert reconcile(hotline.settings)["scheduled"] == 0  # it may still be pacing: leave it
    clock.shift(timedelta(minutes=1))
    assert reconcile(hotline.settings)["scheduled"] == 1  # its worker is gone: replaced
    hotline.run_jobs()
    hotline.run_jobs()
    assert len(_calls_to_budi(hotline)) == 1
    assert _reload(session, callback).attempts == 1


def test_redis_flushed_before_the_due_time_loses_nothing(hotline, session, clock, redis_conn):
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline, delay=timedelta(minutes=1))
    schedule_callback_job(hotline.settings, callback)
    redis_conn.flushdb()  # Redis restarted empty
    clock.shift(timedelta(minutes=2))
    hotline.run_jobs()
    assert _calls_to_budi(hotline) == []  # the job was lost with Redis...
    assert reconcile(hotline.settings)["scheduled"] == 1  # ...not the row
    assert reconcile(hotline.settings)["scheduled"] == 0  # idempotent
    hotline.run_jobs()
    eventually(lambda: len(_calls_to_budi(hotline)) == 1)
    hotline.run_jobs()
    assert len(_calls_to_budi(hotline)) == 1


def test_twilio_500_then_201_places_exactly_one_call(hotline, session, clock):
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline)
    schedule_callback_job(hotline.settings, callback)
    hotline.sim.fail_next(1, status=500)
    hotline.run_jobs()
    retry = _reload(session, callback)
    assert retry.status == "scheduled" and retry.attempts == 0 and "500" in retry.last_error
    assert _calls_to_budi(hotline) == []
    clock.shift(timedelta(seconds=10))
    hotline.run_jobs()
    assert len(_calls_to_budi(hotline)) == 1
    placed = eventually(lambda: _reload(session, callback).last_error == "busy"
                        and _reload(session, callback))
    assert placed.attempts == 1 and placed.api_errors == 0


def test_two_jobs_for_one_callback_in_two_workers_dial_once(hotline, session, clock):
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline)
    for _ in range(2):  # a duplicate job, as after a reconciler race
        queue(hotline.settings, URGENT).enqueue(place_callback, callback.id)
    workers = [_spawn_worker("--burst") for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=60) == 0
    assert len(_calls_to_budi(hotline)) == 1


def test_duplicated_and_out_of_order_status_callbacks_settle_once(hotline, session, clock):
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline)
    schedule_callback_job(hotline.settings, callback)
    hotline.run_jobs()
    call = _calls_to_budi(hotline)[0]
    call.wait_ended()
    eventually(lambda: _reload(session, callback).status == "scheduled")
    client = hotline.live.app.test_client()
    path = f"/twilio/voice/status?cb={callback.id}"
    base = {"AccountSid": hotline.settings.twilio_account_sid, "CallSid": call.sid,
            "Direction": "outbound-api", "To": BUDI_PHONE, "From": "+622150001234"}
    replays = [{**base, "CallStatus": "busy", "SequenceNumber": "1"},  # duplicate
               {**base, "CallStatus": "ringing", "SequenceNumber": "0"},  # late
               {**base, "CallStatus": "completed", "SequenceNumber": "5"}]  # stray
    for params in replays:
        response = client.post(path, data=params, headers={
            "X-Twilio-Signature": sign(hotline.live.url + path, params)})
        assert response.status_code == 204
    after = _reload(session, callback)
    assert (after.status, after.attempts, after.last_error) == ("scheduled", 1, "busy")
    rows = session.scalars(select(Callback)).all()
    assert len(rows) == 1 and len(_calls_to_budi(hotline)) == 1


def test_a_job_that_starts_a_moment_early_still_places_the_call(hotline, session, clock):
    """RQ rounds scheduled times down to the second: an early start must not skip the row."""
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline, delay=timedelta(milliseconds=600))
    queue(hotline.settings, URGENT).enqueue(place_callback, callback.id)
    hotline.run_jobs()
    assert len(_calls_to_budi(hotline)) == 1


def test_a_failed_job_does_not_block_the_reconciler(hotline, session, clock):
    """A job that died before claiming (e.g. the database was down) keeps its id for days in
    RQ's failed registry; the reconciler replaces it instead of waiting."""
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline)
    queue(hotline.settings, URGENT).enqueue("workers.no_such_module.place", callback.id,
                                            job_id=callback_job_id(callback))
    hotline.run_jobs()  # fails: nothing dialled, the row is still scheduled
    assert _calls_to_budi(hotline) == [] and _reload(session, callback).status == "scheduled"
    assert reconcile(hotline.settings)["scheduled"] == 1
    hotline.run_jobs()
    assert len(_calls_to_budi(hotline)) == 1


def test_twilio_500_after_placing_the_call_adopts_it_and_never_dials_twice(
        hotline, session, clock):
    """Twilio placed the call but answered 500 (retrying "may give the customer multiple
    calls", twilio.com/docs/api/errors/20500): before dialling again the next attempt asks the
    Calls API, finds the call and adopts it. One call, one attempt counted; the call's own
    outcome (busy) moves the callback up the ladder."""
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline)
    schedule_callback_job(hotline.settings, callback)
    hotline.sim.fail_after_create(1, status=500)
    hotline.run_jobs()
    [placed] = _calls_to_budi(hotline)
    unsure = _reload(session, callback)
    assert unsure.status == "scheduled" and "500" in unsure.last_error
    placed.wait_ended()
    clock.shift(timedelta(seconds=10))  # the 5 s back-off
    hotline.run_jobs()
    assert _calls_to_budi(hotline) == [placed]  # adopted, not dialled again
    adopted = eventually(lambda: _reload(session, callback).last_error == "busy"
                         and _reload(session, callback))
    assert (adopted.status, adopted.attempts, adopted.api_errors) == ("scheduled", 1, 0)
    clock.shift(timedelta(minutes=settings_retry(hotline) + 1))
    reconcile(hotline.settings)
    hotline.run_jobs()
    assert len(_calls_to_budi(hotline)) == 2  # only the ladder's next attempt followed
    assert _reload(session, callback).attempts == 2


def test_twilio_503_before_anything_was_placed_still_dials_once(hotline, session, clock):
    """The same ambiguous answer, but Twilio had placed nothing: the Calls API says so, and
    the next attempt dials (once)."""
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline)
    schedule_callback_job(hotline.settings, callback)
    hotline.sim.fail_next(1, status=503)
    hotline.run_jobs()
    assert _calls_to_budi(hotline) == []
    clock.shift(timedelta(seconds=10))
    hotline.run_jobs()
    assert len(_calls_to_budi(hotline)) == 1
    placed = eventually(lambda: _reload(session, callback).last_error == "busy"
                        and _reload(session, callback))
    assert placed.attempts == 1


def test_a_failing_calls_list_during_the_check_leaves_the_callback_to_be_dialled_once(
        hotline, session, clock):
    """After an ambiguous 503 the next attempt asks the Calls API first; that list answers 500
    too (twilio-python raises its base TwilioException for a page it cannot fetch). The job
    must not crash with the row claimed (``dialing``, no call, stranded for 15 minutes): the
    row goes back to ``scheduled`` keeping the time since which a call may exist, and the
    attempt after that checks again and dials once."""
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline)
    schedule_callback_job(hotline.settings, callback)
    hotline.sim.fail_next(1, status=503)
    hotline.run_jobs()
    first = _reload(session, callback)
    assert first.status == "scheduled" and first.dialing_since is not None
    clock.shift(timedelta(seconds=10))
    hotline.sim.fail_next(1, status=500)  # the Calls list of the check
    hotline.run_jobs()
    unsure = _reload(session, callback)
    assert unsure.status == "scheduled" and unsure.dialing_since == first.dialing_since
    assert "cannot tell whether a call exists" in unsure.last_error
    assert _calls_to_budi(hotline) == []
    clock.shift(timedelta(minutes=2))
    hotline.run_jobs()
    assert len(_calls_to_budi(hotline)) == 1
    placed = eventually(lambda: _reload(session, callback).last_error == "busy"
                        and _reload(session, callback))
    assert placed.attempts == 1


@pytest.mark.slow
def test_a_call_request_that_gets_no_answer_is_adopted_within_seconds(hotline, session, clock):
    """Twilio places the call but its answer never comes (the worker's request times out):
    the row does not sit in ``dialing`` for 15 minutes, and no second call is placed; the
    next attempt adopts the ringing call within seconds."""
    callback = _owe(session, hotline)
    schedule_callback_job(hotline.settings, callback)
    hotline.sim.hold_call_responses()
    worker = _spawn_worker()
    try:
        placed = hotline.sim.wait_for_call(to=BUDI_PHONE, timeout=20)
        adopted = eventually(lambda: _reload(session, callback).call_sid == placed.sid
                             and _reload(session, callback), timeout=25)
    finally:
        hotline.sim.release_call_responses()
        _kill(worker)
    assert _calls_to_budi(hotline) == [placed]
    assert adopted.attempts == 1


@pytest.mark.slow
def test_a_status_callback_that_beats_twilios_slow_answer_keeps_its_outcome(
        hotline, session, clock):
    """The call ends busy (its status callback settles the attempt) while the worker still
    waits for Twilio's answer to the create request, which never comes: the worker's timeout
    changes nothing the status callback decided, and nobody dials again before the ladder's
    next rung."""
    hotline.sim.set_outcome(BUDI_PHONE, "busy")
    callback = _owe(session, hotline)
    schedule_callback_job(hotline.settings, callback)
    hotline.sim.hold_call_responses()
    worker = _spawn_worker()
    try:
        [placed] = [hotline.sim.wait_for_call(to=BUDI_PHONE, timeout=20)]
        settled = eventually(lambda: _reload(session, callback).last_error == "busy"
                             and _reload(session, callback), timeout=10)
        retry_at = settled.due_at
        time.sleep(TWILIO_TIMEOUT_S + 7)  # the worker's request times out meanwhile
    finally:
        hotline.sim.release_call_responses()
        _kill(worker)
    after = _reload(session, callback)
    assert _calls_to_budi(hotline) == [placed]
    assert (after.status, after.attempts, after.last_error, after.due_at) == (
        "scheduled", 1, "busy", retry_at)
