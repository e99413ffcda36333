"""CONTRACT "Metrics": ``GET /metrics`` in Prometheus text, for the people who keep the
service running, through the real endpoint (and a real gunicorn for multiprocess mode)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from callcenter.channels import messages
from callcenter.config import PROJECT_ROOT
from callcenter.models import Callback, utcnow
from callcenter.tickets import lifecycle
from tests.conftest import API_TOKEN
from tests.e2e.test_agent_routing import _add_agent, _queued_caller, _routed
from tests.factories import BUDI_PHONE, make_customer
from tests.support.production import production_environment
from tests.support.smtp import free_port
from tests.support.waiting import eventually
from webhooks.app import create_app
from workers.queues import send_soon

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``(name, sorted labels) → value`` of every sample in an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client, headers=BEARER) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic dGVzdA==", "Bearer ",
                                    "Bearer tökén"])
def test_metrics_refuse_a_missing_or_wrong_bearer(settings, session, header):
    client = create_app(settings).test_client()
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_metrics_token_replaces_the_api_token_when_set(settings, session):
    client = create_app(replace(settings, metrics_tokens=("scrape-only",))).test_client()
    assert client.get("/metrics", headers=BEARER).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-only"})
    assert ok.status_code == 200
    names = {family.name for family in text_string_to_metric_families(ok.get_data(as_text=True))}
    assert names and all(name.startswith("callcenter_") for name in names), names
    for expected in ("callcenter_calls_offered_today", "callcenter_queue_callers",
                     "callcenter_callbacks_pending", "callcenter_outbox_pending",
                     "callcenter_job_failures", "callcenter_sweep_step_duration_seconds",
                     "callcenter_heartbeat_limit_seconds", "callcenter_metrics_source_up"):
        assert expected in names


def test_a_caller_answered_at_once_counts_in_the_service_level(hotline, session):
    make_customer(session)
    _add_agent(session)
    call = _queued_caller(hotline, session)
    agent_call = _routed(hotline, session, call)
    call.wait_for(lambda c: c.bridged)
    found = scrape(hotline.live.app.test_client())
    assert found[("callcenter_calls_offered_today", ())] == 1.0
    assert found[("callcenter_calls_queued_today", ())] == 1.0
    assert found[("callcenter_calls_answered_today", ())] == 1.0
    assert found[("callcenter_calls_answered_in_target_today", ())] == 1.0
    assert found[("callcenter_calls_abandoned_today", ())] == 0.0
    assert found[("callcenter_service_level_ratio", ())] == 1.0
    assert 0 <= found[("callcenter_average_speed_of_answer_seconds", ())] < 20
    assert found[("callcenter_queue_callers", ())] == 0.0
    assert found[("callcenter_agents", (("state", "on_call"),))] == 1.0
    # The webhooks of that call, timed by endpoint.
    incoming = (("endpoint", "/twilio/voice/incoming"),)
    assert found[("callcenter_webhook_duration_seconds_count", incoming)] >= 1.0
    assert found[("callcenter_webhook_responses_total",
                  (("endpoint", "/twilio/voice/incoming"), ("status", "2xx")))] >= 1.0
    assert found[("callcenter_metrics_source_up", (("source", "database"),))] == 1.0
    agent_call.hang_up()
    call.hang_up()


def test_overdue_callbacks_the_outbox_backlog_and_failed_jobs_show(hotline, session):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.add(Callback(ticket_id=ticket.id, reason="dropped_call", phone=BUDI_PHONE,
                         due_at=utcnow() - timedelta(minutes=10)))
    sms = messages.queue_message(session, ticket_id=ticket.id, to_number=BUDI_PHONE,
                                 body="Cankul: tiket Anda")
    session.commit()
    client = hotline.live.app.test_client()
    before = scrape(client)
    assert before[("callcenter_callbacks_pending", (("status", "scheduled"),))] == 1.0
    assert before[("callcenter_callbacks_due_today", (("status", "scheduled"),))] == 1.0
    assert 590 <= before[("callcenter_callback_oldest_due_age_seconds", ())] < 700
    assert before[("callcenter_outbox_pending", (("kind", "sms"),))] == 1.0
    assert before[("callcenter_job_failures_total", (("kind", "sms"),))] == 0.0
    # Twilio answers 500: the worker's attempt fails (RQ retries later) and is counted.
    hotline.sim.fail_next(1, status=500)
    assert send_soon(hotline.settings, "sms", sms.id)
    assert before[("callcenter_jobs_queued", (("queue", "default"),))] == 0.0
    hotline.run_jobs()
    after = scrape(client)
    assert after[("callcenter_job_failures_total", (("kind", "sms"),))] == 1.0
    assert after[("callcenter_outbox_pending", (("kind", "sms"),))] == 1.0  # still owed
    assert after[("callcenter_jobs_scheduled", (("queue", "default"),))] == 1.0  # the retry


def test_redis_away_still_answers_with_the_database_figures(settings, session):
    client = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0")).test_client()
    found = scrape(client)
    assert found[("callcenter_metrics_source_up", (("source", "redis"),))] == 0.0
    assert found[("callcenter_metrics_source_up", (("source", "database"),))] == 1.0
    assert ("callcenter_queue_callers", ()) in found


@pytest.mark.slow
def test_gunicorn_workers_add_up_their_webhook_timings_in_multiprocess_mode(env, session,
                                                                         tmp_path: Path):
    """Two gunicorn workers answer 40 webhook requests between them; one scrape, answered by
    either, counts all 40 (prometheus_client's multiprocess mode, the folder gunicorn
    cleans at start)."""
    port = free_port()
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_stale.db").write_bytes(b"left by a previous run")
    process_env = production_environment(f"http://127.0.0.1:{port}",
                                         PROMETHEUS_MULTIPROC_DIR=str(folder),
                                         LOG_FORMAT="json")
    access_log = tmp_path / "access.log"
    web = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "webhooks.wsgi:app", "--config",
         "python:webhooks.gunicorn_conf", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--no-control-socket", "--access-logfile", str(access_log)], cwd=PROJECT_ROOT,
        env=process_env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _answers(f"{base}/metrics"), timeout=30)
        with requests.Session() as http:
            for _ in range(40):  # unsigned: 403, timed all the same
                assert http.post(f"{base}/twilio/voice/incoming", data={"CallSid": "CA1"},
                                 headers={"Connection": "close"},
                                 timeout=5).status_code == 403
        requests.get(f"{base}/api/tickets", params={"phone": "0812-3456-7890"},
                     headers=BEARER, timeout=10)
        started = time.perf_counter()
        response = requests.get(f"{base}/metrics", headers=BEARER, timeout=10)
        took = time.perf_counter() - started
        found = samples(response.text)
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
    endpoint = (("endpoint", "/twilio/voice/incoming"),)
    assert found[("callcenter_webhook_duration_seconds_count", endpoint)] == 40.0
    assert found[("callcenter_webhook_responses_total",
                  (("endpoint", "/twilio/voice/incoming"), ("status", "4xx")))] == 40.0
    assert took < 2.0
    # LOG_FORMAT=json: the access log is one JSON object a line, query values left out.
    lines = [json.loads(line) for line in access_log.read_text().splitlines()]
    assert any(line["request"].startswith("GET /api/tickets?phone=* ") for line in lines)
    assert sum(1 for line in lines if line["status"] == "403") == 40
    assert "3456" not in access_log.read_text()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 401
    except requests.RequestException:
        return False
