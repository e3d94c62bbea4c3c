"""What a job's recent runs say: ``status/jobs/<id>.yaml`` and which run files to keep.

The job summary (last run, last success, failure streak, success rate, p95 duration, missed
runs) is computed here from ``RunRecord`` values alone, so the recorder, the CLI and tests get
the same numbers. Pruning decides which run files stay on the status branch.

Counting rules: a job's *outcomes* are runs that ended ``succeeded``, ``failed`` or
``timed_out``; ``missed``, ``skipped`` and ``cancelled`` runs say nothing about whether the
job's code works, so they neither break nor extend a failure streak and are left out of the
success rate (``missed_total`` counts missed runs on its own).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.clock import iso
from reconciler.model import JobSpec, RunRecord
from reconciler.schedule import describe
from reconciler.status.files import STATUS_SCHEMA_VERSION

__all__ = [
    "FAILURES",
    "KEEP_RUNS",
    "OUTCOMES",
    "RECENT_RUNS",
    "consecutive_failures",
    "job_summary",
    "newest_first",
    "p95_duration",
    "prune_runs",
    "recent_outcomes",
    "run_time",
    "success_rate",
    "token_use",
]

RECENT_RUNS = 20  # window for success rate and p95 duration
TOKEN_WINDOW = timedelta(days=7)  # agent pipelines: token use summed over this long
KEEP_RUNS = 50  # run files kept per job; older ones stay in git history
OUTCOMES = frozenset({"succeeded", "failed", "timed_out"})
FAILURES = frozenset({"failed", "timed_out"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- run history ------------------------------------------------------------------------


def run_time(run: RunRecord) -> datetime:
    """When a run happened, for ordering: started, else scheduled, else finished."""
    return run.started_at or run.scheduled_for or run.finished_at or _EPOCH


def newest_first(runs: Iterable[RunRecord]) -> list[RunRecord]:
    return sorted(runs, key=lambda run: (run_time(run), run.run_id), reverse=True)


def recent_outcomes(runs: Iterable[RunRecord], limit: int = RECENT_RUNS) -> list[RunRecord]:
    return [run for run in newest_first(runs) if run.status in OUTCOMES][:limit]


def success_rate(runs: Iterable[RunRecord], limit: int = RECENT_RUNS) -> float | None:
    """Share of succeeded among the newest ``limit`` outcomes, 0..1; None without any."""
    recent = recent_outcomes(runs, limit)
    if not recent:
        return None
    return round(sum(run.status == "succeeded" for run in recent) / len(recent), 4)


def p95_duration(runs: Iterable[RunRecord], limit: int = RECENT_RUNS) -> float | None:
    """Nearest-rank 95th percentile of the durations of the newest ``limit`` finished runs."""
    finished = [run for run in newest_first(runs) if run.is_final and run.duration_s is not None]
    durations = sorted(run.duration_s for run in finished[:limit] if run.duration_s is not None)
    if not durations:
        return None
    return durations[math.ceil(0.95 * len(durations)) - 1]


def consecutive_failures(runs: Iterable[RunRecord]) -> int:
    """Failed or timed-out runs since the newest success (other statuses are passed over)."""
    count = 0
    for run in newest_first(runs):
        if run.status == "succeeded":
            break
        count += run.status in FAILURES
    return count


def token_use(runs: Sequence[RunRecord], now: datetime | None) -> dict[str, Any] | None:
    """Agent pipelines: tokens of the newest finished run, and summed over the last 7 days.

    The window ends at ``now`` (the newest run's end when None); it is as of the summary's
    last update, which happens whenever one of the job's runs changes. None when no run of
    the job reported tokens.
    """
    finals = [run for run in newest_first(runs) if run.is_final]
    if not any(run.tokens for run in finals):
        return None
    end = now or finals[0].finished_at or run_time(finals[0])
    window = [r for r in finals if r.tokens and (r.finished_at or run_time(r)) > end - TOKEN_WINDOW]
    total: dict[str, int] = {}
    for run in window:
        for key, value in (run.tokens or {}).items():
            total[key] = total.get(key, 0) + value
    return {
        "last_run": dict(finals[0].tokens) if finals[0].tokens else None,
        "last_7_days": total,
        "runs_7_days": len(window),
    }


def prune_runs(
    runs_for_job: Sequence[RunRecord], keep: int = KEEP_RUNS
) -> tuple[list[RunRecord], list[RunRecord]]:
    """(kept, dropped), both newest first: the newest ``keep`` runs plus every active one."""
    ordered = newest_first(runs_for_job)
    kept = ordered[:keep] + [run for run in ordered[keep:] if not run.is_final]
    dropped = [run for run in ordered[keep:] if run.is_final]
    return kept, dropped


# -- job summary ------------------------------------------------------------------------


def job_summary(
    job: JobSpec | None,
    job_id: str,
    runs: Sequence[RunRecord],
    *,
    next_run: datetime | None = None,
    last_scheduled: datetime | None = None,
    created_at: datetime | None = None,
    missed_total: int | None = None,
    active_runs: Iterable[str] | None = None,
    previous: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The content of ``status/jobs/<id>.yaml``. ``job`` None means it left the config.

    ``missed_total`` should be the reconciler's running count (pruned run files are gone);
    without it the missed runs among ``runs`` are counted. ``active_runs`` defaults to the
    queued and running runs among ``runs``; ``previous`` (the last summary) supplies the
    identity of a retired job and the first ``created_at``; ``now`` ends the token window.
    """
    previous = previous or {}
    ordered = newest_first(runs)
    finals = [run for run in ordered if run.is_final]
    success = next((run for run in ordered if run.status == "succeeded"), None)
    if active_runs is None:
        active_runs = (run.run_id for run in ordered if not run.is_final)
    if missed_total is None:
        missed_total = sum(run.status == "missed" for run in ordered)
    return {
        "schema_version": STATUS_SCHEMA_VERSION,
        "job_id": job_id,
        **_identity(job, previous),
        "next_run": iso(next_run) if job is not None else None,
        "last_scheduled": iso(last_scheduled) or previous.get("last_scheduled"),
        "created_at": previous.get("created_at") or iso(created_at),
        "last_run": _last_run(finals[0]) if finals else None,
        "last_success": iso(success.finished_at) if success else previous.get("last_success"),
        "consecutive_failures": consecutive_failures(ordered),
        "success_rate": success_rate(ordered),
        "p95_duration_s": p95_duration(ordered),
        "runs_counted": len(recent_outcomes(ordered)),
        "missed_total": missed_total,
        "active_runs": sorted(set(active_runs)),
        "tokens": token_use(ordered, now),
        "retired": job is None,
    }


def _identity(job: JobSpec | None, previous: Mapping[str, Any]) -> dict[str, Any]:
    if job is None:
        keys = ("name", "type", "schedule", "config_path", "fingerprint")
        return {**{key: previous.get(key) for key in keys}, "enabled": False}
    return {
        "name": job.name,
        "type": job.type,
        "schedule": describe(job.schedule),
        "enabled": job.enabled,
        "config_path": job.path,
        "fingerprint": job.fingerprint,
    }


def _last_run(run: RunRecord) -> dict[str, Any]:
    last = {
        "run_id": run.run_id,
        "status": run.status,
        "finished_at": iso(run.finished_at),
        "duration_s": run.duration_s,
        "exit_code": run.exit_code,
    }
    if run.status in FAILURES:  # a restart reads this run only when a retry is planned
        last["next_retry_at"] = iso(run.next_retry_at)
    return last
