"""Fixtures for the web tests: realistic snapshots built from real RunRecords.

``SnapshotBox`` is how the reconciler hands state to the app (a zero-argument callable);
tests swap its content to watch pages and the API follow.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.clock import iso
from reconciler.model import ErrorInfo, RunRecord, StageRecord
from reconciler.status.view import Snapshot

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
XSS = "<script>alert(1)</script>"


class SnapshotBox:
    """A thread-safe holder whose ``__call__`` is the app's snapshot source."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._lock = threading.Lock()

    def __call__(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def set(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._snapshot = snapshot


def run_record(job_id: str, minutes_ago: int, status: str, **changes: Any) -> dict[str, Any]:
    start = NOW - timedelta(minutes=minutes_ago)
    finished = None if status in ("running", "queued") else start + timedelta(seconds=42)
    record = RunRecord(
        run_id=f"{job_id}-{start:%Y%m%d-%H%M%S}",
        job_id=job_id,
        trigger="schedule",
        status=status,  # type: ignore[arg-type]
        scheduled_for=start,
        started_at=start,
        finished_at=finished,
        exit_code=None if finished is None else (0 if status == "succeeded" else 1),
        config_revision="0123456789abcdef0123",
        image="agent-oven/base-tasks",
        log_tail=f"line one of {job_id}\nline two\n",
    )
    return replace(record, **changes).to_dict()


def job_summary(job_id: str, name: str, runs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    finished = [r for r in runs if r["finished_at"]]
    last = finished[0] if finished else None
    summary: dict[str, Any] = {
        "job_id": job_id,
        "name": name,
        "type": "docker",
        "schedule": "every day at 02:00 (America/Los_Angeles)",
        "enabled": True,
        "next_run": iso(NOW + timedelta(hours=3)),
        "last_scheduled": runs[0]["scheduled_for"] if runs else None,
        "last_run": {k: last[k] for k in ("run_id", "status", "finished_at", "exit_code")}
        if last
        else None,
        "last_success": next(
            (r["finished_at"] for r in finished if r["status"] == "succeeded"), None
        ),
        "consecutive_failures": 0,
        "success_rate": 0.75,
        "p95_duration_s": 42.0,
        "active_runs": [r["run_id"] for r in runs if r["status"] in ("queued", "running")],
        "config_path": f"jobs/{job_id}.yaml",
        "description": f"The {name} job",
        "owner": "platform-team",
    }
    summary.update(extra)
    return summary


def sample_snapshot() -> Snapshot:
    backup_runs = [
        run_record("backup", 5, "running", log_tail="copying...\n"),
        run_record("backup", 65, "succeeded"),
        run_record("backup", 125, "failed", error=ErrorInfo("ExitCode", "exit 1", "check disk")),
    ]
    stage_start = NOW - timedelta(minutes=30)
    review_runs = [
        run_record(
            "nightly-review", 30, "failed", log_tail=f"{XSS}\nboom & <b>bold</b>\n",
            error=ErrorInfo("AuthError", "Claude login expired", "run `claude login` on the host"),
            stages=(
                StageRecord("plan", "succeeded", stage_start, stage_start + timedelta(seconds=10),
                            10.0, "sonnet", {"input": 1200, "output": 300}),
                StageRecord("review", "failed", stage_start + timedelta(seconds=10),
                            stage_start + timedelta(seconds=40), 30.0, "sonnet"),
            ),
        ),
    ]
    runs = {r["run_id"]: r for r in backup_runs + review_runs}
    jobs = {
        "backup": job_summary("backup", "Nightly Backup", backup_runs),
        "nightly-review": job_summary(
            "nightly-review", f"Review {XSS}", review_runs, consecutive_failures=3,
            success_rate=0.5, description=f"desc {XSS}", type="agent-pipeline",
        ),
        "idle": job_summary("idle", "Never Ran", [], enabled=False, success_rate=None,
                            p95_duration_s=None, schedule="manual", next_run=None),
    }
    reconciler = {
        "applied_revision": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "attempted_revision": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Applied", "message": "3 jobs applied"},
            {"type": "Stalled", "status": "False", "reason": "", "message": ""},
        ],
        "problems": [
            {"path": "jobs/broken.yaml", "line": 7, "field": "schedule.cron",
             "message": f"not a cron expression {XSS}"},
        ],
        "heartbeat": iso(NOW - timedelta(seconds=4)),
        "started_at": iso(NOW - timedelta(hours=6)),
        "next_wakeup": iso(NOW + timedelta(minutes=2)),
    }
    return Snapshot(reconciler=reconciler, jobs=jobs, runs=runs)


@pytest.fixture
def box() -> SnapshotBox:
    return SnapshotBox(sample_snapshot())


@pytest.fixture
def sample() -> Snapshot:
    return sample_snapshot()


@pytest.fixture
def make_run():  # type: ignore[no-untyped-def]
    return run_record


@pytest.fixture
def xss() -> str:
    return XSS
