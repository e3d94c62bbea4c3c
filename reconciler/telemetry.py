"""Process metrics: what the daemon counts and times as it goes, for ``/metrics``.

The snapshot's gauges (``web.metrics``) say how things are; these say what happened since the
process started: runs by outcome, run durations, schedule lateness, tick durations, status
pushes that failed, notifications sent and failed. They are **process counters** with the
standard Prometheus semantics: they start at zero when the daemon starts (Prometheus'
``rate()`` and ``increase()`` handle the reset); what must survive a restart lives in git
(the status files) and in the snapshot gauges built from it. Reference: docs/metrics.md.

Each ``Telemetry`` has its own registry, so several daemons in one test process never clash.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from reconciler.model import RunRecord
from reconciler.status.changes import CycleReport

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200)
LATENESS_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
SEEN_RUNS = 10_000  # run ids remembered, so a run written twice is counted once


class Telemetry:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.runs_finished = Counter(
            "oven_runs_finished",
            "Runs (attempts) that reached a final status since the daemon started, by job and "
            "outcome",
            ["job", "outcome"],
            registry=registry,
        )
        self.run_duration = Histogram(
            "oven_run_duration_seconds",
            "Duration of finished runs, container start to end, by job",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.schedule_lateness = Histogram(
            "oven_schedule_lateness_seconds",
            "Scheduled runs: from their nominal time to their container's start, by job",
            ["job"],
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self.reconcile_duration = Histogram(
            "oven_reconcile_duration_seconds",
            "Duration of one reconcile cycle (tick)",
            buckets=TICK_BUCKETS,
            registry=registry,
        )
        self.status_push_failures = Counter(
            "oven_status_push_failures",
            "Status commits that could not be pushed (kept in the state dir, or lost)",
            registry=registry,
        )
        self.status_commits = Counter(
            "oven_status_commits", "Status commits written", registry=registry
        )
        self.notifications_sent = Counter(
            "oven_notifications_sent",
            "Notifications delivered, by target",
            ["target"],
            registry=registry,
        )
        self.notification_failures = Counter(
            "oven_notification_failures",
            "Failed notification attempts (each retry counts), by target",
            ["target"],
            registry=registry,
        )
        self.notifications_given_up = Counter(
            "oven_notifications_given_up",
            "Notifications dropped after their last attempt, by target",
            ["target"],
            registry=registry,
        )
        self.notification_target_dead = Gauge(
            "oven_notification_target_dead",
            "1 while a notification target counts as dead (consecutive failures or a message "
            "given up), by target",
            ["target"],
            registry=registry,
        )
        self.notifications_pending = Gauge(
            "oven_notifications_pending", "Notifications waiting in the outbox", registry=registry
        )
        self._seen: OrderedDict[str, None] = OrderedDict()

    def listen(self, report: CycleReport, recorded: Any, before: Mapping[str, Any]) -> None:
        """A recorder listener: count the commit, and each run that reached its final status."""
        if recorded.error is not None:
            self.status_push_failures.inc()
        if not recorded.committed:
            return
        self.status_commits.inc()
        for record in report.dirty:
            if record.is_final and record.run_id not in self._seen:
                self.observe_run(record)

    def observe_run(self, record: RunRecord) -> None:
        self._seen[record.run_id] = None
        while len(self._seen) > SEEN_RUNS:
            self._seen.popitem(last=False)
        self.runs_finished.labels(record.job_id, record.status).inc()
        if record.duration_s is not None:
            self.run_duration.labels(record.job_id).observe(record.duration_s)
        if record.trigger == "schedule" and record.scheduled_for and record.started_at:
            late = (record.started_at - record.scheduled_for).total_seconds()
            self.schedule_lateness.labels(record.job_id).observe(max(late, 0.0))
