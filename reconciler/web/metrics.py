"""Prometheus metrics built from the snapshot at scrape time.

A custom Collector reads the current snapshot on every scrape, so the numbers can never
drift from what the pages show and no code elsewhere has to keep gauges up to date. The
daemon's process counters and histograms (``reconciler.telemetry``) are added from their own
registry. Each app has its own registry, so several apps (in tests) never clash. Every
metric is listed in docs/metrics.md.

The per-job gauges (three lines a job) are written in the exposition format here, each job's
lines once per summary object (``fragments.JobPieces``): with 1k jobs, formatting 3k samples
on every scrape would cost more than the whole scrape may take. What comes from the snapshot
is made once per read-model version; the daemon's process metrics are collected per scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import cast

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString as _go_float
from starlette.requests import Request
from starlette.responses import Response

from reconciler.status.view import Snapshot, SnapshotSource
from reconciler.web import queries
from reconciler.web.cached import Keep
from reconciler.web.fragments import JobPieces
from reconciler.web.http_errors import take_snapshot


class SnapshotCollector(Collector):
    """Gauges for jobs, runs, manifest problems and the reconciler's own condition; the count
    of contained unexpected errors (bugs) by step."""

    def __init__(self, source: SnapshotSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        snapshot = take_snapshot(self.source)
        yield GaugeMetricFamily("oven_jobs", "Jobs defined in the config repo", len(snapshot.jobs))
        yield from _run_metrics(snapshot)
        yield from _reconciler_metrics(snapshot)
        yield _unexpected_errors(snapshot)


floatToGoString = cast(Callable[[float], str], _go_float)  # untyped upstream
JOB_GAUGES = (  # name, help; one sample per job in each
    ("oven_job_consecutive_failures", "Failed runs since the last success"),
    (
        "oven_job_last_success_timestamp",
        "Unix time the job last succeeded (absent if it never did)",
    ),
    ("oven_job_enabled", "1 if the job is enabled"),
)


def job_metrics(snapshot: Snapshot, pieces: JobPieces) -> str:
    """The per-job gauges in the Prometheus text format, jobs sorted by id."""
    lines: list[list[str]] = [[] for _ in JOB_GAUGES]
    for job_id in sorted(snapshot.jobs):
        job = snapshot.jobs[job_id]
        samples = pieces.get("metrics", job_id, job, None, partial(_job_samples, job_id, job))
        for family, sample in zip(lines, samples, strict=True):
            if sample:
                family.append(sample)
    text = []
    for (name, help_text), samples in zip(JOB_GAUGES, lines, strict=True):
        text += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples]
    return "\n".join(text) + "\n"


def _job_samples(job_id: str, job: dict[str, object]) -> tuple[str, str, str]:
    label = job_id.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    failures = float(job.get("consecutive_failures") or 0)  # type: ignore[arg-type]
    when = queries.last_success_time(job)
    enabled = 1.0 if job.get("enabled", True) else 0.0
    return (
        f'{JOB_GAUGES[0][0]}{{job="{label}"}} {floatToGoString(failures)}',
        f'{JOB_GAUGES[1][0]}{{job="{label}"}} {floatToGoString(when.timestamp())}'
        if when is not None else "",
        f'{JOB_GAUGES[2][0]}{{job="{label}"}} {floatToGoString(enabled)}',
    )


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
) -> Callable[[Request], Response]:
    """``GET /metrics``: the Prometheus text format, from a registry private to this app, plus
    the metrics of ``process`` (the daemon's counters and histograms) when given."""
    pieces = JobPieces()
    forward = Forward(process) if process is not None else None

    kept = Keep(1)

    def from_snapshot(snapshot: Snapshot) -> bytes:
        registry = CollectorRegistry(auto_describe=False)  # one version for the whole scrape
        registry.register(SnapshotCollector(lambda: snapshot))
        per_job = kept.get(  # from the summaries alone: kept until one changes
            "jobs", (snapshot.jobs,), lambda: job_metrics(snapshot, pieces).encode("utf-8")
        )
        return generate_latest(registry) + per_job

    def metrics(request: Request) -> Response:  # plain: Starlette runs it in its thread pool
        snapshot = take_snapshot(source)
        body = snapshot.derived("metrics", lambda: from_snapshot(snapshot))  # once a version
        if forward is not None:  # the process counters move between versions: never cached
            registry = CollectorRegistry(auto_describe=False)
            registry.register(forward)
            body = generate_latest(registry) + body
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
