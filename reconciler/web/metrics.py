"""Prometheus metrics built from the snapshot at scrape time.

A custom Collector reads the current snapshot on every scrape, so the numbers can never
drift from what the pages show and no code elsewhere has to keep gauges up to date. The
daemon's process counters and histograms (``reconciler.telemetry``) are added from their own
registry. Each app has its own registry, so several apps (in tests) never clash. Every
metric is listed in docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from reconciler.status.view import Snapshot, SnapshotSource
from reconciler.web import queries
from reconciler.web.http_errors import take_snapshot


class SnapshotCollector(Collector):
    """Gauges for jobs, runs, manifest problems and the reconciler's own condition; the count
    of contained unexpected errors (bugs) by step."""

    def __init__(self, source: SnapshotSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        snapshot = take_snapshot(self.source)
        yield from _job_metrics(snapshot)
        yield from _run_metrics(snapshot)
        yield from _reconciler_metrics(snapshot)
        yield _unexpected_errors(snapshot)


def _job_metrics(snapshot: Snapshot) -> Iterator[Metric]:
    yield GaugeMetricFamily("oven_jobs", "Jobs defined in the config repo", len(snapshot.jobs))
    failures = GaugeMetricFamily(
        "oven_job_consecutive_failures", "Failed runs since the last success", labels=["job"]
    )
    success = GaugeMetricFamily(
        "oven_job_last_success_timestamp",
        "Unix time the job last succeeded (absent if it never did)",
        labels=["job"],
    )
    enabled = GaugeMetricFamily("oven_job_enabled", "1 if the job is enabled", labels=["job"])
    for job_id, job in sorted(snapshot.jobs.items()):
        failures.add_metric([job_id], float(job.get("consecutive_failures") or 0))
        enabled.add_metric([job_id], 1.0 if job.get("enabled", True) else 0.0)
        when = queries.last_success_time(job)
        if when is not None:
            success.add_metric([job_id], when.timestamp())
    yield from (failures, success, enabled)


def _run_metrics(snapshot: Snapshot) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "oven_runs_active", "Runs queued or running", len(queries.active_run_ids(snapshot))
    )
    by_status = GaugeMetricFamily(
        "oven_runs", "Runs in the read model by status", labels=["status"]
    )
    for status, count in queries.health(snapshot)["runs_by_status"].items():
        by_status.add_metric([status], float(count))
    yield by_status


def _reconciler_metrics(snapshot: Snapshot) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "oven_manifest_problems",
        "Manifest problems at the attempted revision",
        len(queries.problems(snapshot)),
    )
    state = queries.reconciler_state(snapshot)["state"]
    yield GaugeMetricFamily(
        "oven_reconciler_ready", "1 if the reconciler reports Ready", 1.0 if state == "Ready" else 0
    )
    revision = snapshot.reconciler.get("applied_revision")
    if revision:
        info = InfoMetricFamily("oven_applied_revision", "The config revision the reconciler runs")
        info.add_metric([], {"revision": str(revision)})
        yield info
    heartbeat = queries.parse_time(snapshot.reconciler.get("heartbeat"))
    if heartbeat is not None:
        yield GaugeMetricFamily(
            "oven_reconciler_heartbeat_timestamp",
            "Unix time of the reconciler's last heartbeat",
            heartbeat.timestamp(),
        )


def _unexpected_errors(snapshot: Snapshot) -> Metric:
    counter = CounterMetricFamily(
        "oven_unexpected_errors",
        "Exceptions that were bugs, contained and logged once with their traceback, by step",
        labels=["step"],
    )
    for step, count in sorted(snapshot.unexpected_errors.items()):
        counter.add_metric([step], float(count))
    return counter


class Forward(Collector):
    """The metrics of another registry (the daemon's process metrics), at scrape time."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def metrics_endpoint(
    source: SnapshotSource, process: CollectorRegistry | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics``: the Prometheus text format, from a registry private to this app, plus
    the metrics of ``process`` (the daemon's counters and histograms) when given."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(source))
    if process is not None:
        registry.register(Forward(process))

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
