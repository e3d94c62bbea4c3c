"""From one cycle's report to the status files to commit (pure).

The cycle hands the recorder a frozen ``CycleReport`` of what happened; ``status_changes``
works out, from the report and what the status branch already holds (``StatusCache``), which
files to write or delete and which runs and jobs the book may forget once that commit went
through. Nothing here changes the book or the cache: the recorder applies the changes only
after the ledger accepted them, so a failed commit loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.errors import OvenError
from reconciler.model import JobSpec, Problem, RunRecord
from reconciler.runids import retry_pending
from reconciler.status.conditions import reconciler_status
from reconciler.status.files import commit_message, dump_yaml, job_path, run_path
from reconciler.status.summary import job_summary, prune_runs

__all__ = [
    "CycleReport",
    "JobFacts",
    "ReconcilerFacts",
    "StatusCache",
    "StatusChanges",
    "reconciler_document",
    "status_changes",
]


@dataclass(frozen=True)
class ReconcilerFacts:
    """What ``status/reconciler.yaml`` says about the reconciler after this cycle."""

    applied_revision: str | None
    attempted_revision: str | None
    problems: Sequence[Problem] = ()
    error: OvenError | None = None
    stalled: bool = False
    started_at: datetime | None = None
    version: str = ""
    jobs: int = 0
    next_wakeup: datetime | None = None
    instance: str = ""
    warnings: Sequence[str] = ()
    active_runs: int = 0


@dataclass(frozen=True)
class JobFacts:
    """One tracked job: its definition (None when it left the config) and its bookkeeping."""

    job: JobSpec | None
    created_at: datetime
    last_scheduled: datetime | None
    missed_total: int
    next_run: datetime | None
    reason: str
    active: tuple[str, ...]
    changes: int  # how often its runs changed: a new value means its summary may differ


@dataclass(frozen=True)
class CycleReport:
    """What one cycle did, handed to the record step.

    ``runs`` maps a job id to its runs (read-only views of the book, valid for this cycle);
    ``dirty`` are the runs changed since the last successful commit; ``pinned`` the runs
    whose containers are not removed yet (their records must stay).
    """

    now: datetime
    reconciler: ReconcilerFacts
    jobs: Mapping[str, JobFacts]
    runs: Mapping[str, Mapping[str, RunRecord]]
    dirty: tuple[RunRecord, ...] = ()
    pinned: frozenset[str] = frozenset()
    config_loaded: bool = True  # False before the first load: no job counts as removed
    keep_runs: int = 50
    # job id -> run ids on the branch the book did not load (older than its runs), oldest
    # first: pruned with the job's next change like the book's own runs
    stale: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # jobs whose history the book has not loaded: what their summary says about runs
    # (last run, success rate, ...) stays as the status branch has it
    partial: frozenset[str] = frozenset()
    # the jobs whose facts or runs may have changed since the last recorded cycle; None: any
    # (the summaries of the others are taken from the cache as they are)
    changed_jobs: frozenset[str] | None = None


@dataclass
class StatusCache:
    """What the recorder knows of the status branch: files as committed, the job summaries."""

    written: dict[str, bytes] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary_keys: dict[str, tuple[object, ...]] = field(default_factory=dict)
    reconciler: dict[str, Any] = field(default_factory=dict)  # the last reconciler.yaml


@dataclass(frozen=True)
class StatusChanges:
    """The files of one status commit, and what the book may drop once it went through."""

    files: dict[str, bytes | None]  # path -> content, None deletes
    reconciler: dict[str, Any]  # the content of reconciler.yaml (written when files change)
    summaries: dict[str, dict[str, Any]]  # every job's summary after this cycle
    summary_keys: dict[str, tuple[object, ...]]
    forget_runs: tuple[str, ...] = ()  # pruned runs
    drop_jobs: tuple[str, ...] = ()  # jobs gone from the config with nothing left running

    def message(self, revision: str | None) -> str:
        runs = sum(1 for p in self.files if p.startswith("status/runs/"))
        jobs = sum(1 for p in self.files if p.startswith("status/jobs/"))
        return commit_message(runs, jobs, revision)


def status_changes(report: CycleReport, cache: StatusCache) -> StatusChanges:
    """The run files, job summaries and reconciler status this cycle changes."""
    files: dict[str, bytes | None] = {}
    forget = _run_files(report, files)
    summaries, keys, drop = _job_files(report, cache, files, frozenset(forget))
    status = reconciler_document(report.reconciler, report.now, cache.reconciler)
    return StatusChanges(files, status, summaries, keys, tuple(forget), tuple(drop))


def reconciler_document(
    facts: ReconcilerFacts, now: datetime, previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The content of ``status/reconciler.yaml`` (conditions keep their transition times)."""
    return reconciler_status(
        now=now,
        applied_revision=facts.applied_revision,
        attempted_revision=facts.attempted_revision,
        problems=facts.problems,
        error=facts.error,
        stalled=facts.stalled,
        started_at=facts.started_at,
        version=facts.version,
        jobs=facts.jobs,
        next_wakeup=facts.next_wakeup,
        previous=previous,
        extra={
            "instance": facts.instance,
            "warnings": list(facts.warnings),
            "active_runs": facts.active_runs,
        },
    )


def _run_files(report: CycleReport, files: dict[str, bytes | None]) -> list[str]:
    """Write every changed run; delete the runs pruned from the jobs that changed."""
    forget: list[str] = []
    dirty = {record.run_id for record in report.dirty}
    for record in sorted(report.dirty, key=lambda r: r.run_id):
        files[run_path(record.job_id, record.run_id)] = dump_yaml(record.to_dict())
    for job_id in sorted({record.job_id for record in report.dirty}):
        runs = report.runs.get(job_id, {})
        _, dropped = prune_runs(list(runs.values()), keep=report.keep_runs)
        held = len(runs)
        for record in dropped:
            needed = (
                record.run_id in dirty
                or record.run_id in report.pinned
                or retry_pending(record, runs)  # retries keep the job id of their first
            )
            if not needed:  # unwritten results, unremoved containers and pending retries stay
                files[run_path(job_id, record.run_id)] = None
                forget.append(record.run_id)
                held -= 1
        stale = report.stale.get(job_id, ())
        room = max(0, report.keep_runs - held)
        for run_id in stale[: max(0, len(stale) - room)]:
            files[run_path(job_id, run_id)] = None
            forget.append(run_id)
    return forget


FROM_RUNS = (  # the summary fields worked out from a job's runs
    "last_run", "last_success", "consecutive_failures", "success_rate", "p95_duration_s",
    "runs_counted", "tokens",
)


def _job_files(
    report: CycleReport,
    cache: StatusCache,
    files: dict[str, bytes | None],
    pruned: frozenset[str],
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[object, ...]], list[str]]:
    summaries = dict(cache.summaries)
    keys = dict(cache.summary_keys)
    drop: list[str] = []
    jobs = report.jobs
    if report.changed_jobs is not None:
        jobs = {job_id: jobs[job_id] for job_id in sorted(report.changed_jobs) if job_id in jobs}
    for job_id, facts in jobs.items():
        if facts.job is None and not facts.active and report.config_loaded:
            drop.append(job_id)  # removed from config and nothing left running
            summaries.pop(job_id, None)
            keys.pop(job_id, None)
            if job_path(job_id) in cache.written:
                files[job_path(job_id)] = None
            continue
        key = (
            facts.job.fingerprint if facts.job else None,
            facts.next_run,
            facts.last_scheduled,
            facts.missed_total,
            facts.reason,
            facts.changes,
        )
        if keys.get(job_id) == key:
            continue  # nothing that goes into the summary changed
        keys[job_id] = key
        summary = job_summary(
            facts.job,
            job_id,
            [r for r in report.runs.get(job_id, {}).values() if r.run_id not in pruned],
            next_run=facts.next_run,
            last_scheduled=facts.last_scheduled,
            created_at=facts.created_at,
            missed_total=facts.missed_total,
            active_runs=list(facts.active),
            previous=cache.summaries.get(job_id),
            now=report.now,
        )
        previous = cache.summaries.get(job_id)
        if job_id in report.partial and previous:
            summary.update({key: previous.get(key) for key in FROM_RUNS})
        summary["reason"] = facts.reason
        if facts.job is not None:
            summary["description"], summary["owner"] = facts.job.description, facts.job.owner
        summaries[job_id] = summary
        content = dump_yaml(summary)
        if cache.written.get(job_path(job_id)) != content:
            files[job_path(job_id)] = content
    return summaries, keys, drop
