"""One failing sweep step stops none of the others (issue 14 item 6), through the real
``callcenter scheduler``.

The Procfile's scheduler runs on the real clock, a sweep a second, against the suite's
database (SQLite and PostgreSQL) and Redis, with Twilio unreachable (``TWILIO_API_URL`` on a
port where nothing listens): the reconciler and the silent-call settler, which ask Twilio,
fail at every sweep. Before, the nine steps ran under one guard, so that failure also
skipped, every 10 s until someone noticed, the no-response callbacks (P2.2b), the conversion
of overdue oral complaints and the customer's notice, the outbox, retention and the
supervisors' digest. Now each step has its own guard: those effects happen within seconds,
and the operator sees which step fails on ``/metrics`` (gunicorn's) and in the log.
"""

from __future__ import annotations

import re
from datetime import time

import pytest
import requests

from callcenter.models import utcnow
from tests.conftest import API_TOKEN
from tests.faults.conftest import Stack
from tests.support.open_hours import zone_open_now
from tests.support.smtp import MailSink, free_port, mail_sink_fixture  # noqa: F401 (fixture)
from tests.support.sweep_world import owe_every_sweep_effect, sweep_effects
from tests.support.waiting import eventually
from workers.sweeps import STEPS

pytestmark = pytest.mark.slow

# The steps that ask Twilio; the reconciler asks at every sweep (a callback stuck dialing).
TWILIO_STEPS = {"reconcile_callbacks", "settle_silent_calls"}


@pytest.fixture
def stack_overrides(mail_sink: MailSink) -> dict[str, str]:
    """Twilio unreachable; office hours now in the centre's zone (oral complaints convert
    only in the day, the digest goes from 08:00); supervisors want the digest by mail."""
    return {"TWILIO_API_URL": f"http://127.0.0.1:{free_port()}",
            "CALLCENTER_TZ": zone_open_now(time(8), time(20)),
            "SMTP_URL": mail_sink.url, "SUPERVISOR_EMAILS": "spv@cankul.co.id"}


def _step_metrics(stack: Stack) -> dict[str, tuple[float, float]]:
    """Per step, (runs, failures) as gunicorn's ``/metrics`` reports them."""
    text = requests.get(f"{stack.app.url}/metrics", timeout=5,
                        headers={"Authorization": f"Bearer {API_TOKEN}"}).text
    runs = dict(re.findall(
        r'^callcenter_sweep_step_duration_seconds_count\{step="(\w+)"\} (\S+)$', text, re.M))
    failures = dict(re.findall(
        r'^callcenter_sweep_step_failures_total\{step="(\w+)"\} (\S+)$', text, re.M))
    return {step: (float(runs.get(step, 0)), float(failures.get(step, 0)))
            for step in runs}


def test_twilio_unreachable_fails_only_its_steps_in_the_running_scheduler(
        stack_on_suite_database: Stack, mail_sink: MailSink):
    stack = stack_on_suite_database
    with stack.session() as session:
        world = owe_every_sweep_effect(session, utcnow())
    scheduler = stack.start("scheduler", "--interval", "1")

    def effects() -> dict[str, bool]:
        with stack.session() as session:
            return sweep_effects(session, stack.settings, world)

    # The customer silent after our question is owed a callback, the oral complaint is
    # written and its notice queued, the lost email queued again, retention has run...
    try:
        eventually(lambda: all(effects().values()), timeout=30)
    except AssertionError as exc:
        raise AssertionError(f"sweep effects after 30 s: {effects()}") from exc
    # ...and the supervisors' digest, the last step, arrived.
    assert "lewat batas waktu" in mail_sink.wait_for(1, timeout=30)[0]["Subject"]

    # The operator sees which step fails, sweep after sweep, and that the others run.
    metrics = eventually(lambda: (m := _step_metrics(stack)).get(
        "reconcile_callbacks", (0, 0))[1] >= 2 and all(  # two sweeps, every step in each
            m.get(step.name, (0, 0))[0] >= 2 for step in STEPS) and m, timeout=30)
    failing = {step for step, (_, failures) in metrics.items() if failures}
    assert "reconcile_callbacks" in failing and failing <= TWILIO_STEPS
    log = scheduler.log.read_text(errors="replace")
    for name in failing:
        assert f"sweep step {name} failed; the other steps go on" in log
    assert scheduler.alive()
