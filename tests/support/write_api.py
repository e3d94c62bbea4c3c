"""Helpers for the write API tests: a real uvicorn server on loopback serving the read-only
pages and the write API together exactly as ``oven run --write-api`` does (``loop.with_writes``),
over a real spool and a real token file in a temporary state dir, and a snapshot built from
real RunRecords.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from reconciler.api import create_api_app
from reconciler.api.ratelimit import RateLimiter
from reconciler.api.tokens import TokenStore
from reconciler.loop import with_writes
from reconciler.model import ErrorInfo, RunRecord
from reconciler.spool import RequestSpool
from reconciler.status.view import Snapshot
from reconciler.web.app import create_app
from reconciler.web.server import ServerHandle, serve_in_thread

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
JOBS = ("deploy", "report")


def record(run_id: str, job_id: str, status: str, **changes: object) -> RunRecord:
    ended = None if status == "running" else NOW
    base = RunRecord(
        run_id=run_id,
        job_id=job_id,
        trigger="schedule",
        status=status,  # type: ignore[arg-type]
        started_at=NOW - timedelta(minutes=5),
        finished_at=ended,
        exit_code=None if status == "running" else (0 if status == "succeeded" else 1),
        config_revision="abc123",
        image="busybox",
    )
    if status == "failed":
        base = base.with_changes(error=ErrorInfo("NonZeroExit", "exit code 1", ""))
    return base.with_changes(**changes)  # type: ignore[arg-type]


RUNS = (
    record("deploy-20260301-110000", "deploy", "running"),
    record("deploy-20260301-100000", "deploy", "failed"),
    record("deploy-20260301-090000", "deploy", "succeeded"),
    record("deploy-20260301-080000", "deploy", "cancelled"),
    record(
        "deploy-20260301-070000-a2",
        "deploy",
        "timed_out",
        attempt=2,
        retry_of="deploy-20260301-070000",
    ),
    record("report-20260301-100000", "report", "failed"),
)


def summary(job_id: str) -> dict[str, object]:
    """A job's summary with every field the pages read (``status.view.Snapshot``)."""
    runs = [r for r in RUNS if r.job_id == job_id]
    return {
        "job_id": job_id,
        "name": f"The {job_id} job",
        "type": "docker",
        "schedule": "webhook-triggered",
        "enabled": True,
        "next_run": None,
        "last_scheduled": None,
        "last_run": None,
        "last_success": None,
        "consecutive_failures": 1,
        "success_rate": 0.5,
        "p95_duration_s": 3.0,
        "active_runs": [r.run_id for r in runs if r.status == "running"],
        "config_path": f"jobs/{job_id}.yaml",
        "description": "",
        "owner": "",
    }


def snapshot() -> Snapshot:
    return Snapshot(
        reconciler={"applied_revision": "abc123"},
        jobs={job: summary(job) for job in JOBS},
        runs={r.run_id: r.to_dict() for r in RUNS},
    )


@dataclass
class Api:
    """A served write API and what it writes to."""

    url: str
    state_dir: Path
    tokens: dict[str, str]  # token name -> token text
    wakes: list[int]

    @property
    def spool(self) -> RequestSpool:
        return RequestSpool(self.state_dir)

    def requests(self) -> list[Path]:
        return sorted((self.state_dir / "requests").glob("*.json"))

    def post(self, path: str, token: str | None = "admin", **headers: str) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        return httpx.post(self.url + path, headers=headers, timeout=10)


def serve_api(tmp_path: Path, limiter: RateLimiter) -> tuple[Api, ServerHandle]:
    state_dir = tmp_path / "state"
    RequestSpool(state_dir).publish_jobs(JOBS, "abc123")
    store = TokenStore(state_dir)
    tokens = {
        "admin": store.create("admin", ["*"])[1],
        "ci": store.create("ci", ["deploy"])[1],
    }
    wakes: list[int] = []
    writes = create_api_app(state_dir, snapshot, wake=lambda: wakes.append(1), limiter=limiter)
    handle = serve_in_thread(with_writes(create_app(snapshot), writes))
    return Api(handle.url, state_dir, tokens, wakes), handle


ApiFactory = Callable[[Path, RateLimiter], tuple[Api, ServerHandle]]
