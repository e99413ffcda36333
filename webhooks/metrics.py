"""``GET /metrics`` (CONTRACT "Metrics"): Prometheus text for the people who keep it running.

Two kinds of figures, so that any number of web hosts, workers and schedulers report as one:

* **fleet-wide**, read at scrape time from the shared database and Redis
  (:class:`FleetCollector`): calls offered/answered/abandoned today, the service level and the
  speed of answer (:func:`callcenter.floor_stats.service_figures`), the queue, agents,
  callbacks by status and the oldest due one, the outbox backlog, RQ's queues and failed jobs,
  failed job attempts by kind, sweep step durations and failures (:mod:`workers.stats`), and
  the worker and scheduler heartbeats (:mod:`workers.heartbeats`). Every host answers the
  same values; the database or Redis being away shows as ``callcenter_metrics_source_up 0``
  rather than a failed scrape.
* **per process**: the webhook latency histogram of this host's gunicorn workers, summed over
  them through prometheus_client's multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set
  (``webhooks/gunicorn_conf.py`` cleans it at start and marks dead workers).

The bearer is ``METRICS_TOKEN``, else ``API_TOKEN``; anything else gets 401.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from callcenter.config import Settings
from callcenter.db import session_scope
from callcenter.floor_stats import SERVICE_LEVEL_TARGET_S, ServiceFigures, service_figures
from webhooks.context import settings
from workers import heartbeats, stats
from workers.queues import DEFAULT, URGENT, queue, redis_connection
from workers.sweeps import STEPS

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)

# Twilio waits 15 s for a webhook; a caller hears silence for as long as it takes.
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
WEBHOOK_PREFIXES = ("/twilio/", "/email/")
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
WEBHOOK_SECONDS = Histogram(
    "callcenter_webhook_duration_seconds",
    "Time to answer a Twilio or mail-provider webhook, by endpoint (this host's processes).",
    ["endpoint"], buckets=WEBHOOK_BUCKETS, registry=PROCESS_REGISTRY)
WEBHOOK_RESPONSES = Counter(
    "callcenter_webhook_responses",
    "Webhook answers by endpoint and status code class (this host's processes).",
    ["endpoint", "status"], registry=PROCESS_REGISTRY)


def init_app(app: Flask, current: Settings) -> None:
    """Time every webhook request of ``app``. The multiprocess folder is created if missing
    (gunicorn empties it at start; another server may not have)."""
    if current.prometheus_multiproc_dir is not None:
        current.prometheus_multiproc_dir.mkdir(parents=True, exist_ok=True)
    app.before_request(_start_timer)
    app.after_request(_observe)


def _start_timer() -> None:
    if request.path.startswith(WEBHOOK_PREFIXES):
        g.webhook_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("webhook_started", None)
    if started is None:
        return response
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    try:
        WEBHOOK_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
        WEBHOOK_RESPONSES.labels(endpoint, f"{response.status_code // 100}xx").inc()
    except Exception:  # a metric never costs a caller their answer
        log.exception("webhook metrics not recorded")
    return response


def authorised(tokens: tuple[str, ...], header: str | None) -> bool:
    """``Authorization: Bearer <token>`` naming one of ``tokens`` (constant time; any
    bytes a client sends are compared, never decoded as ASCII)."""
    if not tokens or not header or not header.startswith("Bearer "):
        return False
    given = header[len("Bearer "):].strip().encode("utf-8", "surrogateescape")
    return any(hmac.compare_digest(given, token.encode()) for token in tokens)


@bp.get("/metrics")
def metrics() -> Response:
    current = settings()
    if not authorised(current.metrics_bearer_tokens, request.headers.get("Authorization")):
        return Response("a metrics bearer token is required\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(generate_latest(scrape_registry(current)), mimetype=CONTENT_TYPE_LATEST)


def scrape_registry(current: Settings) -> CollectorRegistry:
    """What one scrape reports: this host's processes and the fleet."""
    registry = CollectorRegistry(auto_describe=False)
    if current.prometheus_multiproc_dir is not None:
        MultiProcessCollector(registry, path=str(current.prometheus_multiproc_dir))
    else:
        registry.register(PROCESS_REGISTRY)
    registry.register(FleetCollector(current))
    return registry


class FleetCollector:
    """The fleet's figures, read from the database and Redis at each scrape."""

    def __init__(self, current: Settings) -> None:
        self.settings = current

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("callcenter_metrics_source_up",
                               "1 when this scrape could read the source (database, redis).",
                               labels=["source"])
        for source, read in (("database", self._database), ("redis", self._redis)):
            try:
                families = list(read())
            except Exception:
                log.exception("metrics: cannot read the %s", source)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def _database(self) -> Iterator[Metric]:
        with session_scope(self.settings.database_url) as session:
            figures = service_figures(session, self.settings)
        yield from service_families(figures)

    def _redis(self) -> Iterator[Metric]:
        yield from heartbeat_families(self.settings)
        yield from job_families(self.settings)
        yield from sweep_families(self.settings)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def service_families(f: ServiceFigures) -> Iterator[Metric]:
    today = "today (the centre's local day, CALLCENTER_TZ)"
    yield _gauge("callcenter_calls_offered_today",
                 f"Inbound customer calls {today}.", f.offered_today)
    yield _gauge("callcenter_calls_queued_today",
                 f"Callers put in the agent queue {today}.", f.queued_today)
    yield _gauge("callcenter_calls_answered_today",
                 f"Callers queued {today} whom an agent answered.", f.answered_today)
    yield _gauge("callcenter_calls_abandoned_today",
                 f"Callers queued {today} who hung up before an agent took them.",
                 f.abandoned_today)
    yield _gauge("callcenter_calls_answered_in_target_today",
                 f"Callers queued {today} answered by an agent within "
                 f"{SERVICE_LEVEL_TARGET_S} s.", f.answered_in_target_today)
    yield _gauge("callcenter_service_level_target_seconds",
                 "The service level's answer target.", SERVICE_LEVEL_TARGET_S)
    if f.service_level is not None:
        yield _gauge("callcenter_service_level_ratio",
                     f"Callers queued {today} answered by an agent within "
                     f"{SERVICE_LEVEL_TARGET_S} s, over all queued {today}.", f.service_level)
    if f.speed_of_answer_s is not None:
        yield _gauge("callcenter_average_speed_of_answer_seconds",
                     f"Mean wait in the queue of the callers answered {today}.",
                     f.speed_of_answer_s)
    yield _gauge("callcenter_queue_callers", "Callers waiting for an agent now.", f.waiting)
    yield _gauge("callcenter_queue_longest_wait_seconds",
                 "How long the longest-waiting caller has waited.", f.longest_wait_s)
    agents = GaugeMetricFamily("callcenter_agents", "Agents free to take a call, and on a call.",
                               labels=["state"])
    agents.add_metric(["available"], f.agents_available)
    agents.add_metric(["on_call"], f.agents_on_call)
    yield agents
    owed = GaugeMetricFamily("callcenter_callbacks_pending",
                             "Callbacks still owed (scheduled, or being dialled), whenever due.",
                             labels=["status"])
    for status, count in sorted(f.callbacks_pending.items()):
        owed.add_metric([status], count)
    yield owed
    outcomes = GaugeMetricFamily("callcenter_callbacks_due_today",
                                 f"Callbacks due {today}, by status (their outcome so far).",
                                 labels=["status"])
    for status, count in sorted(f.callbacks_due_today.items()):
        outcomes.add_metric([status], count)
    yield outcomes
    yield _gauge("callcenter_callback_oldest_due_age_seconds",
                 "Since when the oldest callback that is due has waited to be dialled "
                 "(0: none overdue).", f.oldest_due_callback_s)
    pending = GaugeMetricFamily("callcenter_outbox_pending",
                                "SMS/WhatsApp and emails written but not yet sent.",
                                labels=["kind"])
    oldest = GaugeMetricFamily("callcenter_outbox_oldest_pending_age_seconds",
                               "Age of the oldest unsent outbox row (0: none).",
                               labels=["kind"])
    for kind in sorted(f.outbox_pending):
        pending.add_metric([kind], f.outbox_pending[kind])
        oldest.add_metric([kind], f.outbox_oldest_pending_s[kind])
    yield pending
    yield oldest


def heartbeat_families(current: Settings) -> Iterator[Metric]:
    age = GaugeMetricFamily("callcenter_heartbeat_age_seconds",
                            "Since the freshest heartbeat of any worker / scheduler.",
                            labels=["role"])
    alive = GaugeMetricFamily("callcenter_processes_alive",
                              "Workers / schedulers that beat within HEARTBEAT_LIMIT.",
                              labels=["role"])
    conn = redis_connection(current)
    for role in heartbeats.Role:
        pulse = heartbeats.pulse(current, role, conn)
        if pulse.last_seen_s is not None:
            age.add_metric([role], pulse.last_seen_s)
        alive.add_metric([role], pulse.alive)
    yield age
    yield alive
    yield _gauge("callcenter_heartbeat_limit_seconds",
                 "HEARTBEAT_LIMIT: silence past it makes /api/health answer 503.",
                 current.heartbeat_limit_s)


def job_families(current: Settings) -> Iterator[Metric]:
    queued = GaugeMetricFamily("callcenter_jobs_queued", "Jobs waiting on each RQ queue.",
                               labels=["queue"])
    scheduled = GaugeMetricFamily("callcenter_jobs_scheduled",
                                  "Jobs scheduled for later (callbacks not yet due).",
                                  labels=["queue"])
    failed = GaugeMetricFamily("callcenter_jobs_failed",
                               "Jobs in RQ's failed registry (kept a week).", labels=["queue"])
    for label in (URGENT, DEFAULT):
        q = queue(current, label)
        queued.add_metric([label], q.count)
        scheduled.add_metric([label], ScheduledJobRegistry(queue=q).count)
        failed.add_metric([label], FailedJobRegistry(queue=q).count)
    yield queued
    yield scheduled
    yield failed
    attempts = CounterMetricFamily("callcenter_job_failures",
                                   "Job attempts that raised, by kind (retries count each).",
                                   labels=["kind"])
    for kind, count in sorted(stats.job_failures(current).items()):
        attempts.add_metric([kind], count)
    yield attempts


def sweep_families(current: Settings) -> Iterator[Metric]:
    durations = HistogramMetricFamily("callcenter_sweep_step_duration_seconds",
                                      "How long each sweep step took, across schedulers.",
                                      labels=["step"])
    failures = CounterMetricFamily("callcenter_sweep_step_failures",
                                   "Sweep step runs that raised, across schedulers.",
                                   labels=["step"])
    last = GaugeMetricFamily("callcenter_sweep_step_last_success_timestamp_seconds",
                             "When each sweep step last ran without error (Unix time).",
                             labels=["step"])
    for step in stats.step_stats(current, [s.name for s in STEPS]):
        buckets = [(repr(bound), count) for bound, count in step.buckets]
        durations.add_metric([step.step], [*buckets, ("+Inf", step.count)],
                             sum_value=step.total_seconds)
        failures.add_metric([step.step], step.failures)
        if step.last_success is not None:
            last.add_metric([step.step], step.last_success)
    yield durations
    yield failures
    yield last
