"""One failing sweep step stops none of the others.

Before, the nine steps ran under one guard: with Twilio unreachable the reconciler raised
and no-response callbacks, conversions, the outbox, retention and the digest were skipped
every 10 s. Each step now has its own guard, session, lock and log line, and its duration and
failures reach ``/metrics``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from callcenter.config import Settings
from tests.conftest import API_TOKEN
from tests.support.smtp import free_port, mail_sink_fixture  # noqa: F401 (fixture)
from tests.support.sweep_world import owe_every_sweep_effect, sweep_effects
from webhooks.app import create_app
from workers.queues import redis_connection
from workers.sweeps import STEPS, StepOutcome, SweepStep, sweep_once

WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
TWILIO_STEPS = {"reconcile_callbacks", "settle_silent_calls"}  # the steps that ask Twilio


@pytest.fixture
def env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Twilio cannot be reached (nothing listens there); supervisors want the digest."""
    values = {"TWILIO_API_URL": f"http://127.0.0.1:{free_port()}",
              "SUPERVISOR_EMAILS": "spv@cankul.co.id"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**env, **values}


def test_twilio_unreachable_fails_only_the_steps_that_ask_it(session, redis_conn, mail_sink,
                                                              caplog):
    caplog.set_level(logging.ERROR, logger="workers.sweeps")
    with time_machine.travel(WEDNESDAY_MORNING, tick=True):
        world = owe_every_sweep_effect(session, WEDNESDAY_MORNING)
        settings = Settings.from_env()
        outcomes = sweep_once(settings)
    failed = {name for name, outcome in outcomes.items() if outcome == StepOutcome.FAILED}
    assert failed and failed <= TWILIO_STEPS  # the reconciler's failure is not theirs
    assert {name for name, o in outcomes.items() if o == StepOutcome.RAN} == {
        step.name for step in STEPS} - failed
    assert sweep_effects(session, settings, world) == dict.fromkeys(
        ["route_waiting_callers", "no_response_callbacks", "convert_overdue_oral",
         "resend_emails", "purge_expired"], True)
    digest = mail_sink.wait_for(1)[0]
    assert "lewat batas waktu" in digest["Subject"]  # the last step ran too
    for name in failed:
        assert f"sweep step {name} failed" in caplog.text
    # The failures and every step's run are on /metrics.
    scraped = create_app(settings).test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"}).get_data(as_text=True)
    for step in STEPS:
        runs = f'callcenter_sweep_step_duration_seconds_count{{step="{step.name}"}} 1.0'
        failures = (f'callcenter_sweep_step_failures_total{{step="{step.name}"}} '
                    f'{1.0 if step.name in failed else 0.0}')
        assert runs in scraped and failures in scraped


def test_a_step_that_raises_first_leaves_every_other_step_to_run(session, redis_conn,
                                                                  mail_sink):
    """The registry of steps, extended in the test by one that always raises, ahead of all."""
    def broken(_settings: Settings) -> None:
        raise RuntimeError("a bad row")

    with time_machine.travel(WEDNESDAY_MORNING, tick=True):
        world = owe_every_sweep_effect(session, WEDNESDAY_MORNING, lost_calls=False)
        settings = Settings.from_env()
        outcomes = sweep_once(settings, steps=[SweepStep("broken", broken), *STEPS])
    assert outcomes["broken"] == StepOutcome.FAILED
    assert all(outcomes[step.name] == StepOutcome.RAN for step in STEPS)
    assert all(sweep_effects(session, settings, world).values())
    assert len(mail_sink.wait_for(1)) == 1


def test_a_step_another_scheduler_is_running_is_skipped_not_repeated(session, redis_conn):
    """Two schedulers: while one holds a step's lock, the other skips that step."""
    settings = Settings.from_env()
    held = redis_connection(settings).lock("callcenter:sweep-lock:no_response_callbacks",
                                           timeout=30)
    assert held.acquire(blocking=False)
    try:
        outcomes = sweep_once(settings, steps=[s for s in STEPS
                                               if s.name == "no_response_callbacks"])
    finally:
        held.release()
    assert outcomes == {"no_response_callbacks": StepOutcome.SKIPPED}
