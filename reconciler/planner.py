"""The schedule diff between two desired states: what a new revision adds, changes and removes.

Pure: ``plan(base, head, now)`` reads no clock and touches no adapter. ``oven plan`` prints it
for a pull request, and the reconcile cycle logs it whenever a new revision is applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.clock import iso
from reconciler.model import DesiredState, JobSpec, Problem
from reconciler.schedule import describe, next_fire


@dataclass(frozen=True)
class JobChange:
    """One job in the plan; ``fields`` names what changed (empty unless ``action`` is changed)."""

    action: str  # added | changed | removed | unchanged
    job_id: str
    schedule: str
    next_runs: tuple[datetime, ...] = ()
    fields: tuple[str, ...] = ()
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "job_id": self.job_id,
            "schedule": self.schedule,
            "enabled": self.enabled,
            "next_runs": [iso(t) for t in self.next_runs],
            "fields": list(self.fields),
        }


@dataclass(frozen=True)
class Plan:
    base_revision: str
    head_revision: str
    changes: tuple[JobChange, ...]
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    def of(self, action: str) -> list[JobChange]:
        return [c for c in self.changes if c.action == action]

    @property
    def has_changes(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_revision": self.base_revision,
            "head_revision": self.head_revision,
            "summary": {a: len(self.of(a)) for a in ("added", "changed", "removed", "unchanged")},
            "changes": [c.to_dict() for c in self.changes],
            "problems": [p.to_dict() for p in self.problems],
        }


def plan(base: DesiredState | None, head: DesiredState, now: datetime, runs: int = 3) -> Plan:
    """Diff ``base`` (what is applied; None for nothing) against ``head``."""
    old = base.jobs if base else {}
    changes: list[JobChange] = []
    for job_id in sorted(set(old) | set(head.jobs)):
        before, after = old.get(job_id), head.jobs.get(job_id)
        if after is None:
            assert before is not None
            changes.append(_change("removed", before, now, 0))
        elif before is None:
            changes.append(_change("added", after, now, runs))
        elif before.fingerprint != after.fingerprint:
            changes.append(_change("changed", after, now, runs, changed_fields(before, after)))
        else:
            changes.append(_change("unchanged", after, now, runs))
    return Plan(base.revision if base else "", head.revision, tuple(changes), head.problems)


def changed_fields(before: JobSpec, after: JobSpec) -> tuple[str, ...]:
    """Top-level manifest fields whose values differ, e.g. ("schedule", "resources")."""
    a, b = json.loads(before.manifest or "{}"), json.loads(after.manifest or "{}")
    return tuple(sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)))


def _change(
    action: str, job: JobSpec, now: datetime, runs: int, fields: tuple[str, ...] = ()
) -> JobChange:
    return JobChange(
        action=action,
        job_id=job.id,
        schedule=describe(job.schedule),
        next_runs=_next_runs(job, now, runs) if job.enabled else (),
        fields=fields,
        enabled=job.enabled,
    )


def _next_runs(job: JobSpec, now: datetime, count: int) -> tuple[datetime, ...]:
    times: list[datetime] = []
    after = now
    while len(times) < count:
        nxt = next_fire(job.schedule, after)
        if nxt is None:
            break
        times.append(nxt)
        after = nxt
    return tuple(times)


def format_plan(result: Plan) -> str:
    """Markdown-friendly text for a pull request comment."""
    base = result.base_revision[:12] or "(nothing applied)"
    lines = [f"Plan {base} -> {result.head_revision[:12]}"]
    symbols = {"added": "+", "changed": "~", "removed": "-"}
    for change in result.changes:
        if change.action == "unchanged":
            continue
        line = f"  {symbols[change.action]} {change.job_id}: {change.schedule}"
        if change.fields:
            line += f" (changed: {', '.join(change.fields)})"
        if not change.enabled and change.action != "removed":
            line += " [disabled]"
        elif change.next_runs:
            line += f"; next {iso(change.next_runs[0])}"
        lines.append(line)
    counts = result.to_dict()["summary"]
    lines.append(
        f"{counts['added']} to add, {counts['changed']} to change, "
        f"{counts['removed']} to remove, {counts['unchanged']} unchanged."
    )
    for problem in result.problems:
        lines.append(f"problem: {problem}")
    return "\n".join(lines)
