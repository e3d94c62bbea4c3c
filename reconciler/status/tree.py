"""Reading a whole status tree back: the files of the status branch -> ``StatusTree``.

The reconciler rebuilds its memory from this at start, and ``oven status`` prints it. One
unreadable file must not hide the others, so files that fail to parse are listed in
``unreadable`` with the reason instead of stopping the read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import LedgerError
from reconciler.model import RunRecord
from reconciler.status.files import JOBS_DIR, RECONCILER_PATH, RUNS_DIR, load_yaml
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
