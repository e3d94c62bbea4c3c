"""The schedule diff between two desired states: what a new revision adds, changes and removes.

Pure: ``plan(base, head, now)`` reads no clock and touches no adapter. ``oven plan`` prints it
for a pull request, and the reconcile cycle logs it whenever a new revision is applied. Both
go through ``apply_revision``, so a review sees exactly what the daemon will run: the last-good
rule (``manifests.keep_last_good``) keeps a broken file's job, duplicates and defaults are the
loader's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from reconciler.clock import iso
from reconciler.explain import next_fire_times
from reconciler.manifests import keep_last_good
from reconciler.model import DesiredState, JobSpec, Problem, Schedule
from reconciler.schedule import describe


@dataclass(frozen=True)
class FieldChange:
    """One top-level manifest field of a changed job, before and after (None: not set)."""

    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class JobChange:
    """One job in the plan; ``diffs`` says what changed (empty unless ``action`` is changed).

    ``next_runs`` are UTC; ``next_local`` the same instants in the job's zone.
    """

    action: str  # added | changed | removed | unchanged
    job_id: str
    schedule: str
    next_runs: tuple[datetime, ...] = ()
    diffs: tuple[FieldChange, ...] = ()
    enabled: bool = True
    path: str = ""
    timezone: str = "UTC"
    next_local: tuple[datetime, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """The top-level manifest fields that changed, e.g. ("resources", "schedule")."""
        return tuple(sorted({d.field.split(".")[0] for d in self.diffs}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "job_id": self.job_id,
            "schedule": self.schedule,
            "enabled": self.enabled,
            "path": self.path,
            "timezone": self.timezone,
            "next_runs": [iso(t) for t in self.next_runs],
            "next_runs_local": [t.isoformat() for t in self.next_local],
            "fields": list(self.fields),
            "diffs": [d.to_dict() for d in self.diffs],
        }


@dataclass(frozen=True)
class Plan:
    """The jobs a revision adds, changes and removes (``moved``), and, worked out only when
    read (``changes``), a row for every job it leaves as it was."""

    base_revision: str
    head_revision: str
    moved: tuple[JobChange, ...]
    now: datetime  # what the fire times count from
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    jobs: Mapping[str, JobSpec] = field(default_factory=dict)  # the head's, moved or not
    runs: int = 3

    @cached_property
    def changes(self) -> tuple[JobChange, ...]:
        """Every job of either revision, by id: the moved ones and the unchanged ones."""
        when = _Times(self.now)
        moved = {c.job_id for c in self.moved}
        rows = [
            _change("unchanged", job, when, self.runs)
            for job_id, job in self.jobs.items()
            if job_id not in moved
        ]
        return tuple(sorted([*self.moved, *rows], key=lambda c: c.job_id))

    def of(self, action: str) -> list[JobChange]:
        rows = self.changes if action == "unchanged" else self.moved
        return [c for c in rows if c.action == action]

    def count(self, action: str) -> int:
        if action == "unchanged":
            return len(self.jobs) - sum(1 for c in self.moved if c.action != "removed")
        return sum(1 for c in self.moved if c.action == action)

    @property
    def has_changes(self) -> bool:
        return bool(self.moved)

    def summary(self) -> dict[str, int]:
        return {a: self.count(a) for a in ("added", "changed", "removed", "unchanged")}

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_revision": self.base_revision,
            "head_revision": self.head_revision,
            "summary": self.summary(),
            "changes": [c.to_dict() for c in self.changes],
            "problems": [p.to_dict() for p in self.problems],
        }


def apply_revision(
    previous: DesiredState | None, loaded: DesiredState, now: datetime, runs: int = 3
) -> tuple[DesiredState, Plan]:
    """What the daemon runs after ``loaded`` replaces ``previous``, and the plan between them.

    The one code path for the daemon and ``oven plan``: broken files keep the job they defined
    in ``previous`` (the last-good rule), then the result is diffed against ``previous``.
    """
    desired = keep_last_good(loaded, previous)
    return desired, plan(previous, desired, now, runs)


def plan(base: DesiredState | None, head: DesiredState, now: datetime, runs: int = 3) -> Plan:
    """Diff ``base`` (what is applied; None for nothing) against ``head``.

    A job is unchanged when its spec is the very object the base has (the loader hands on
    the same parsed job for an unchanged file) or its manifest is the same; the rows of
    unchanged jobs, with their fire times, are worked out only when read (``Plan.changes``)."""
    old = base.jobs if base else {}
    new = head.jobs
    times = _Times(now)
    moved: list[JobChange] = []
    for job_id in [i for i, job in new.items() if old.get(i) is not job]:
        before, after = old.get(job_id), new[job_id]
        if before is None:
            moved.append(_change("added", after, times, runs))
        elif before.manifest != after.manifest:
            moved.append(_change("changed", after, times, runs, changed_fields(before, after)))
    if len(old) > len(new) - sum(1 for c in moved if c.action == "added"):  # some job is gone
        moved += [_change("removed", job, times, 0) for i, job in old.items() if i not in new]
    moved.sort(key=lambda c: c.job_id)
    revision = base.revision if base else ""
    return Plan(revision, head.revision, tuple(moved), now, head.problems, new, runs)


Fires = tuple[tuple[datetime, ...], tuple[datetime, ...]]  # UTC, local


class _Times:
    """Fire times and descriptions per schedule, each worked out once per plan: many jobs of
    a large repo share a schedule, and the times depend on nothing else."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._fires: dict[tuple[Schedule, int], Fires] = {}
        self._words: dict[Schedule, str] = {}

    def next(self, job: JobSpec, runs: int) -> Fires:
        """The next ``runs`` fire times, in UTC and in the job's zone."""
        key = (job.schedule, runs)
        if key not in self._fires:
            times = next_fire_times(job, runs, self.now) if runs else []
            self._fires[key] = tuple(u for u, _ in times), tuple(local for _, local in times)
        return self._fires[key]

    def describe(self, schedule: Schedule) -> str:
        if schedule not in self._words:
            self._words[schedule] = describe(schedule)
        return self._words[schedule]


def changed_fields(before: JobSpec, after: JobSpec) -> tuple[FieldChange, ...]:
    """Manifest fields whose values differ, with old and new values; nested mappings are
    compared key by key (``schedule.cron``), so a reviewer sees the value that moved."""
    a, b = json.loads(before.manifest or "{}"), json.loads(after.manifest or "{}")
    return tuple(_diff(a, b, ""))


def _diff(a: dict[str, Any], b: dict[str, Any], prefix: str) -> list[FieldChange]:
    found: list[FieldChange] = []
    for key in sorted(set(a) | set(b)):
        old, new = a.get(key), b.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            found += _diff(old, new, f"{prefix}{key}.")
        else:
            found.append(FieldChange(prefix + key, old, new))
    return found


def _change(
    action: str, job: JobSpec, when: _Times, runs: int, diffs: tuple[FieldChange, ...] = ()
) -> JobChange:
    utc, local = when.next(job, runs) if job.enabled else ((), ())
    return JobChange(
        action=action,
        job_id=job.id,
        schedule=when.describe(job.schedule),
        next_runs=utc,
        diffs=diffs,
        enabled=job.enabled,
        path=job.path,
        timezone=job.schedule.timezone,
        next_local=local,
    )


def show(value: Any) -> str:
    """A field value on one line: JSON, ``(unset)`` for a missing field."""
    if value is None:
        return "(unset)"
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _when(change: JobChange) -> str:
    if not change.enabled:
        return "disabled"
    clock = "%H:%M:%S" if any(t.second for t in change.next_local) else "%H:%M"
    stamps = [t.strftime(f"%Y-%m-%d {clock} %Z") for t in change.next_local]
    return ", ".join(stamps) if stamps else "no upcoming fire times"


def _summary(result: Plan) -> str:
    counts = result.summary()
    return (
        f"{counts['added']} to add, {counts['changed']} to change, "
        f"{counts['removed']} to remove, {counts['unchanged']} unchanged."
    )


def format_plan(result: Plan, problems: bool = True) -> str:
    """Plain text: one line per added, changed or removed job, its field changes (old -> new)
    and next fire times in the job's zone, then (unless ``problems`` is False: the daemon logs
    each new one by itself) the problems as ``FILE:LINE: FIELD: message``."""
    base = result.base_revision[:12] or "(nothing applied)"
    lines = [f"Plan {base} -> {result.head_revision[:12]}"]
    symbols = {"added": "+", "changed": "~", "removed": "-"}
    for change in result.moved:
        lines.append(f"  {symbols[change.action]} {change.job_id}: {change.schedule}")
        for diff in change.diffs:
            lines.append(f"      {diff.field}: {show(diff.old)} -> {show(diff.new)}")
        if change.action != "removed":
            lines.append(f"      next: {_when(change)}")
    lines.append(_summary(result))
    for problem in result.problems if problems else ():
        lines.append(f"problem: {problem}")
    return "\n".join(lines)


def format_markdown(result: Plan) -> str:
    """Markdown for a pull-request comment: a table of the changes, then the problems."""
    base = result.base_revision[:12] or "(nothing applied)"
    lines = [f"### Agent Oven plan `{base}` → `{result.head_revision[:12]}`", ""]
    lines.append(_summary(result))
    shown = list(result.moved)
    if shown:
        lines += [
            "",
            "| | job | schedule | changes (old → new) | next runs |",
            "|---|---|---|---|---|",
        ]
        symbols = {"added": "➕ added", "changed": "✏️ changed", "removed": "➖ removed"}
        for change in shown:
            diffs = "<br>".join(
                f"`{d.field}`: `{_cell(show(d.old))}` → `{_cell(show(d.new))}`"
                for d in change.diffs
            )
            runs = "" if change.action == "removed" else _when(change).replace(", ", "<br>")
            lines.append(
                f"| {symbols[change.action]} | `{change.job_id}` | {_cell(change.schedule)} "
                f"| {diffs} | {runs} |"
            )
    if result.problems:
        lines += [
            "",
            f"**{len(result.problems)} problem(s)** — the daemon keeps the last good "
            "definition of a broken file's job:",
            "",
        ]
        lines += [f"- `{_cell(str(p))}`" for p in result.problems]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell and code span."""
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")
