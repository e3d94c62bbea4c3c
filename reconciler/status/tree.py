"""Reading a whole status tree back: the files of the status branch -> ``StatusTree``.

The reconciler rebuilds its memory from this at start, and ``oven status`` prints it. One
unreadable file must not hide the others, so files that fail to parse are listed in
``unreadable`` with the reason instead of stopping the read. A branch is anyone's to edit, so
"parses" means more than YAML: a run file must hold a run (strings, times and numbers where
they belong, at the path of its job and run id), a job summary and ``reconciler.yaml`` a
mapping with readable times and counts. Whatever fails is skipped, and a restart comes up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

from reconciler.model import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    ErrorInfo,
    RunRecord,
    StageRecord,
    Trigger,
    optional_time,
)
from reconciler.status.files import JOBS_DIR, RECONCILER_PATH, RUNS_DIR, load_yaml, run_path
from reconciler.status.summary import newest_first

__all__ = ["StatusTree", "parse_status_tree"]


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
        except Exception as exc:  # anything wrong in one file skips that file, never more
            unreadable.append(f"{path}: {exc}")
    return StatusTree(tree.reconciler, tree.jobs, tree.runs, tuple(unreadable))


def _parse_into(tree: StatusTree, path: str, content: bytes) -> None:
    if not path.endswith(".yaml"):
        return
    if path == RECONCILER_PATH:
        tree.reconciler.update(_checked_reconciler(load_yaml(content)))
    elif path.startswith(JOBS_DIR) and "/" not in path[len(JOBS_DIR) :]:
        tree.jobs[path[len(JOBS_DIR) : -len(".yaml")]] = _checked_summary(load_yaml(content))
    elif path.startswith(RUNS_DIR) and path.count("/") == 3:
        run = _checked_run(RunRecord.from_dict(load_yaml(content)))
        if run_path(run.job_id, run.run_id) != path:
            raise ValueError(f"holds run {run.run_id!r} of job {run.job_id!r}: not its path")
        tree.runs[run.run_id] = run


TRIGGERS = frozenset(get_args(Trigger))
STATUSES = ACTIVE_STATUSES | FINAL_STATUSES


def _checked_reconciler(data: dict[str, Any]) -> dict[str, Any]:
    for key in ("conditions", "problems"):
        _expect(key, data.get(key), list, type(None))
        if not all(isinstance(item, Mapping) for item in data.get(key) or ()):
            raise ValueError(f"{key}: every entry must be a mapping")
    for key in ("applied_revision", "attempted_revision"):
        _expect(key, data.get(key), str, type(None))
    return data


def _checked_summary(data: dict[str, Any]) -> dict[str, Any]:
    for key in ("created_at", "last_scheduled", "last_success"):
        optional_time(data.get(key))  # raises ValueError for what is not a time
    _expect("missed_total", data.get("missed_total"), int, type(None))
    _expect("active_runs", data.get("active_runs"), list, type(None))
    return data


def _checked_run(run: RunRecord) -> RunRecord:
    """The run, if every field has the type the reconciler relies on."""
    for key in ("run_id", "job_id"):
        _expect(key, getattr(run, key), str)
        if not getattr(run, key) or "/" in getattr(run, key):
            raise ValueError(f"{key}: {getattr(run, key)!r} is not an id")
    if run.trigger not in TRIGGERS or run.status not in STATUSES:
        raise ValueError(f"trigger {run.trigger!r} or status {run.status!r} is unknown")
    for key in ("config_revision", "image", "log_tail"):
        _expect(key, getattr(run, key), str)
    for key in ("retry_of", "idempotency_key"):
        _expect(key, getattr(run, key), str, type(None))
    _expect("exit_code", run.exit_code, int, type(None))
    _expect("attempt", run.attempt, int)
    if run.attempt < 1:
        raise ValueError(f"attempt: {run.attempt} is below 1")
    _expect("error", run.error, ErrorInfo, type(None))
    if not all(isinstance(name, str) for name in run.secret_names):
        raise ValueError("secret_names: not a list of names")
    if not all(isinstance(stage, StageRecord) for stage in run.stages):
        raise ValueError("stages: not a list of stages")
    for key in ("scheduled_for", "started_at", "finished_at", "next_retry_at"):
        _expect(key, getattr(run, key), datetime, type(None))
    return run


def _expect(key: str, value: Any, *types: type) -> None:
    if isinstance(value, bool) or not isinstance(value, types):
        names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
        raise ValueError(f"{key}: expected {names}, got {type(value).__name__}")
