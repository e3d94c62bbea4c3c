"""The status files committed to git: their paths, their YAML and what they say (pure).

Three kinds of file live under ``status/`` on the status branch (docs/status-files.md):
``reconciler.yaml`` (revisions, conditions, manifest problems), ``jobs/<id>.yaml`` (a summary
computed from the job's recent runs) and ``runs/<job>/<run>.yaml`` (one ``RunRecord`` each).
This module renders and parses them and computes the summaries; it does no I/O, so the
ledger (git), the CLI and the web pages share one definition. Times are ISO 8601 UTC and
keys are sorted, so a status commit's diff shows only what changed.

Counting rules: a job's *outcomes* are runs that ended ``succeeded``, ``failed`` or
``timed_out``; ``missed``, ``skipped`` and ``cancelled`` runs say nothing about whether the
job's code works, so they neither break nor extend a failure streak and are left out of the
success rate (``missed_total`` counts missed runs on its own).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from reconciler.clock import iso
from reconciler.errors import LedgerError, OvenError
from reconciler.model import JobSpec, Problem, RunRecord
from reconciler.schedule import describe

STATUS_SCHEMA_VERSION = 1
RECENT_RUNS = 20  # window for success rate and p95 duration
KEEP_RUNS = 50  # run files kept per job; older ones stay in git history
OUTCOMES = frozenset({"succeeded", "failed", "timed_out"})
FAILURES = frozenset({"failed", "timed_out"})

STATUS_DIR = "status/"
RECONCILER_PATH = "status/reconciler.yaml"
JOBS_DIR = "status/jobs/"
RUNS_DIR = "status/runs/"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def run_path(job_id: str, run_id: str) -> str:
    return f"{RUNS_DIR}{job_id}/{run_id}.yaml"


def job_path(job_id: str) -> str:
    return f"{JOBS_DIR}{job_id}.yaml"


def commit_message(runs: int, jobs: int, revision: str | None) -> str:
    """The deterministic subject of a status commit."""
    return f"oven: status {runs} runs, {jobs} jobs @ {short_revision(revision)}"


def short_revision(revision: str | None) -> str:
    """First 7 characters of a sha (of the hash for ``worktree:<hash>``), or ``none``."""
    return revision.rsplit(":", 1)[-1][:7] if revision else "none"


# -- YAML -------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as literal blocks, datetimes as ISO UTC text."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    value = value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from bad bytes
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(datetime, lambda d, v: _represent_str(d, iso(v) or ""))
_Dumper.add_representer(tuple, lambda d, v: d.represent_list(list(v)))
_Dumper.add_representer(frozenset, lambda d, v: d.represent_list(sorted(v)))


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading where times stay text (as written), never datetime objects."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def dump_yaml(data: Mapping[str, Any]) -> bytes:
    """Stable UTF-8 YAML: sorted keys, block style, unicode kept readable."""
    text: bytes = yaml.dump(
        dict(data),
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=120,
        encoding="utf-8",
    )
    return text


def load_yaml(data: bytes) -> dict[str, Any]:
    """Parse one status file (safe loader); an empty file is an empty mapping."""
    try:
        loaded = yaml.load(data, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise LedgerError(
            f"status file is not valid YAML: {exc}",
            hint="fix or delete the file on the status branch",
        ) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise LedgerError(
            "status file is not a mapping", hint="fix or delete the file on the status branch"
        )
    return loaded


def render_run(run: RunRecord) -> bytes:
    return dump_yaml(run.to_dict())


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
) -> dict[str, Any]:
    """The content of ``status/jobs/<id>.yaml``. ``job`` None means it left the config.

    ``missed_total`` should be the reconciler's running count (pruned run files are gone);
    without it the missed runs among ``runs`` are counted. ``active_runs`` defaults to the
    queued and running runs among ``runs``; ``previous`` (the last summary) supplies the
    identity of a retired job and the first ``created_at``.
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
    return {
        "run_id": run.run_id,
        "status": run.status,
        "finished_at": iso(run.finished_at),
        "duration_s": run.duration_s,
        "exit_code": run.exit_code,
    }


# -- reconciler status ------------------------------------------------------------------


def reconciler_status(
    *,
    now: datetime,
    applied_revision: str | None,
    attempted_revision: str | None,
    problems: Sequence[Problem] = (),
    error: OvenError | None = None,
    stalled: bool = False,
    reconciling: bool = False,
    started_at: datetime | None = None,
    version: str = "",
    jobs: int = 0,
    next_wakeup: datetime | None = None,
    previous: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``status/reconciler.yaml`` after (or during) one reconcile cycle.

    ``error`` is what stopped the cycle, if anything; ``stalled`` says it needs a person
    (bad config, expired credentials) rather than a retry. A condition keeps its
    ``last_transition`` from ``previous`` while its status does not change. ``extra`` adds
    deployment fields (instance name, warnings) without overriding the ones above.
    """
    conditions = [
        _ready(applied_revision, attempted_revision, problems, error),
        _reconciling(reconciling, attempted_revision),
        _stalled(stalled, error),
    ]
    before = {c.get("type"): c for c in (previous or {}).get("conditions", ())}
    return {
        **(extra or {}),
        "schema_version": STATUS_SCHEMA_VERSION,
        "applied_revision": applied_revision,
        "attempted_revision": attempted_revision,
        "conditions": [_with_transition(c, before.get(c["type"]), now) for c in conditions],
        "problems": [p.to_dict() for p in sorted(problems, key=_problem_order)],
        "heartbeat": iso(now),
        "started_at": iso(started_at),
        "version": version,
        "jobs": jobs,
        "next_wakeup": iso(next_wakeup),
    }


def _problem_order(problem: Problem) -> tuple[str, int, str]:
    return (problem.path, problem.line, problem.field)


def _condition(kind: str, status: bool, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
    }


def _error_text(error: OvenError) -> str:
    return f"{error.message} (hint: {error.hint})" if error.hint else error.message


def _ready(
    applied: str | None, attempted: str | None, problems: Sequence[Problem], error: OvenError | None
) -> dict[str, Any]:
    if error is not None:
        return _condition("Ready", False, type(error).__name__, _error_text(error))
    if problems:
        files = ", ".join(sorted({problem.path for problem in problems}))
        return _condition(
            "Ready",
            False,
            "ManifestProblems",
            f"{len(problems)} problem(s) in {files}; those jobs keep their last "
            f"good definition, the others are applied from "
            f"{short_revision(attempted)}",
        )
    if applied is None:
        return _condition("Ready", False, "NotApplied", "no revision applied yet")
    message = f"applied revision {short_revision(applied)}"
    if applied != attempted:
        return _condition(
            "Ready",
            False,
            "Progressing",
            f"{message}, revision {short_revision(attempted)} not yet applied",
        )
    return _condition("Ready", True, "Succeeded", message)


def _reconciling(active: bool, attempted: str | None) -> dict[str, Any]:
    if active:
        return _condition(
            "Reconciling", True, "Progressing", f"reconciling revision {short_revision(attempted)}"
        )
    return _condition("Reconciling", False, "Idle", "waiting for the next change or due run")


def _stalled(stalled: bool, error: OvenError | None) -> dict[str, Any]:
    if error is not None and stalled:
        return _condition("Stalled", True, type(error).__name__, _error_text(error))
    if error is not None:
        return _condition("Stalled", False, "Retrying", f"will retry: {error.message}")
    return _condition("Stalled", False, "Healthy", "nothing needs attention")


def _with_transition(
    condition: dict[str, Any], before: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    unchanged = before is not None and before.get("status") == condition["status"]
    since = before.get("last_transition") if unchanged and before else None
    return {**condition, "last_transition": since or iso(now)}


# -- reading a status tree back ---------------------------------------------------------


@dataclass(frozen=True)
class StatusTree:
    """Everything under status/ at one commit, parsed; unreadable files are listed, not fatal."""

    reconciler: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, RunRecord] = field(default_factory=dict)
    unreadable: tuple[str, ...] = ()

    def runs_for(self, job_id: str) -> list[RunRecord]:
        return newest_first(run for run in self.runs.values() if run.job_id == job_id)


def parse_status_tree(files: Mapping[str, bytes]) -> StatusTree:
    """Rebuild state from the files of the status branch (path -> content)."""
    tree = StatusTree()
    unreadable: list[str] = []
    for path in sorted(files):
        try:
            _parse_into(tree, path, files[path])
        except (LedgerError, KeyError, TypeError, ValueError) as exc:
            unreadable.append(f"{path}: {exc}")
    return StatusTree(tree.reconciler, tree.jobs, tree.runs, tuple(unreadable))


def _parse_into(tree: StatusTree, path: str, content: bytes) -> None:
    if not path.endswith(".yaml"):
        return
    if path == RECONCILER_PATH:
        tree.reconciler.update(load_yaml(content))
    elif path.startswith(JOBS_DIR) and "/" not in path[len(JOBS_DIR) :]:
        tree.jobs[path[len(JOBS_DIR) : -len(".yaml")]] = load_yaml(content)
    elif path.startswith(RUNS_DIR) and path.count("/") == 3:
        run = RunRecord.from_dict(load_yaml(content))
        tree.runs[run.run_id] = run
