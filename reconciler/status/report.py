"""``oven status`` as text and as JSON: what a status tree says, for a person or a script.

Pure: it formats a ``StatusTree`` that the caller read (``reconciler.ledger.reader`` reads it
from the status branch); nothing here touches git or a stream.
"""

from __future__ import annotations

from typing import Any

from reconciler.status.tree import StatusTree

__all__ = ["format_status", "status_document"]

REVISION_CHARS = 12  # a short commit id is enough to tell revisions apart in a table


def status_document(tree: StatusTree) -> dict[str, Any]:
    """The reconciler file and the job summaries, as ``oven status --json`` prints them."""
    return {"reconciler": tree.reconciler, "jobs": tree.jobs}


def format_status(tree: StatusTree) -> str:
    """The reconciler condition, a table of jobs and the manifest problems, as text."""
    reconciler = tree.reconciler
    ready = _condition(reconciler, "Ready")
    applied = str(reconciler.get("applied_revision") or "-")[:REVISION_CHARS]
    lines = [
        f"reconciler: Ready={ready.get('status')} {ready.get('reason', '')}: "
        f"{ready.get('message', '')}",
        f"heartbeat {reconciler.get('heartbeat')}, applied {applied}",
        f"{'JOB':<28} {'LAST':<10} {'NEXT RUN':<22} {'FAILS':>5}",
    ]
    lines += [_job_line(job_id, job) for job_id, job in sorted(tree.jobs.items())]
    lines += [
        f"problem: {p['path']}:{p['line']}: {p['field']}: {p['message']}"
        for p in reconciler.get("problems", [])
    ]
    return "\n".join(lines)


def _condition(reconciler: dict[str, Any], kind: str) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = reconciler.get("conditions", [])
    return next((c for c in conditions if c.get("type") == kind), {})


def _job_line(job_id: str, job: dict[str, Any]) -> str:
    last = (job.get("last_run") or {}).get("status", "-")
    next_run = str(job.get("next_run") or "-")
    return f"{job_id:<28} {last:<10} {next_run:<22} {job.get('consecutive_failures', 0):>5}"
