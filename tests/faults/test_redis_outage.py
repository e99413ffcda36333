"""Redis goes away while a callback job waits for its dialling slot (the test's own Redis).

Pacing (``CALLBACK_DIAL_RATE``) is a Redis key every worker takes in turn. It is taken before
the callback row is claimed: a Redis error there leaves the row ``scheduled``, and once Redis
is back (empty, as after a restart) the reconciler queues it again at once and the customer
gets exactly one call, instead of a row ``dialing`` without a call for 15 minutes.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from callcenter.models import Callback
from tests.factories import BUDI_PHONE
from tests.faults.conftest import Stack, owe_a_callback
from tests.support.waiting import eventually
from workers.callbacks import reconcile
from workers.queues import callback_job_id, schedule_callback_job

pytestmark = pytest.mark.slow

WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))


def _job_status(stack: Stack, callback: Callback) -> str | None:
    try:
        return Job.fetch(callback_job_id(callback),
                         connection=Redis.from_url(stack.settings.effective_redis_url)
                         ).get_status()
    except NoSuchJobError:
        return None


def _row(stack: Stack) -> Callback:
    with stack.session() as session:
        return session.scalars(select(Callback)).one()


def test_a_redis_error_while_waiting_to_dial_leaves_the_callback_to_be_dialled_once(
        stack_on_private_redis: Stack):
    stack = stack_on_private_redis
    redis_server = next(p for p in stack.extra if hasattr(p, "port"))
    stack.sim.set_outcome(BUDI_PHONE, "busy")
    with time_machine.travel(WEDNESDAY_MORNING, tick=True):
        callback = owe_a_callback(stack)
        schedule_callback_job(stack.settings, callback)
        # Another worker holds the dialling slot: this job waits its turn inside pace().
        Redis.from_url(redis_server.url).set("callcenter:dial-pace", "1", px=60_000)
        worker = stack.start_worker_at(datetime.now(UTC))
        eventually(lambda: _job_status(stack, callback) == JobStatus.STARTED, timeout=20)
        time.sleep(1)  # well into the job: it waits for the slot

        redis_server.stop()  # the job's next try for the slot fails
        time.sleep(1.5)
        assert stack.sim.find_calls(to=BUDI_PHONE) == []
        row = _row(stack)
        assert (row.status, row.attempts) == ("scheduled", 0)  # never claimed
        redis_server.start()  # back, empty (no persistence): the job is gone with it

        with contextlib.suppress(AssertionError):  # a worker that survives Redis keeps on
            eventually(lambda: not worker.alive(), timeout=5)
        if not worker.alive():  # RQ gave up on Redis; the supervisor starts it again
            worker = stack.start_worker_at(datetime.now(UTC))
        assert reconcile(stack.settings)["scheduled"] == 1  # the row brings the job back
        placed = stack.sim.wait_for_call(to=BUDI_PHONE, timeout=20)
        settled = eventually(lambda: _row(stack).last_error == "busy" and _row(stack),
                             timeout=20)
        assert stack.sim.find_calls(to=BUDI_PHONE) == [placed]
        assert settled.attempts == 1 and settled.due_at - datetime.now(UTC) > timedelta(
            minutes=5)  # the ladder's next rung, not a second call now
