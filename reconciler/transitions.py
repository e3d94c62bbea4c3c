"""Which events a committed cycle produces (pure): run outcomes and the reconciler's trouble.

Notifications and run metrics fire on transitions only. The recorder hands every record
step to its listeners with reconciler.yaml as it was before it; ``run_events`` and
``reconciler_events`` answer, from that alone, the events it carries:

- per job, for each run that reached an outcome in this commit, as the job's
  ``notifications`` asks: ``failed`` when the job starts failing (a failed, timed-out or
  missed run after a success, or as its first outcome; only a last attempt counts: one with a
  retry planned is not news, and later failures of the same streak are not told again),
  ``recovered`` at the first success after a failure, ``succeeded`` for every other success
  (``onSuccess``, off by default);
- for the reconciler: ``bad_commit`` when a new attempted revision has manifest problems, and
  ``stalled`` when the reconciler turns Stalled (an auth failure, an unusable config: a person
  must act).

Each event has a key that is the same whenever the same transition is seen again (a commit
retried after a failure, every run written again after the status branch was rewritten, a
restart): the outbox delivers each key once.

Both are worked out before the status commit too (the outbox holds them until it went
through); ``shown`` answers, at a restart, whether the branch's reconciler.yaml carries a
reconciler event held then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from reconciler.clock import iso
from reconciler.model import JobSpec, NotifySettings, RunRecord
from reconciler.status.changes import CycleReport

EventKind = Literal["failed", "recovered", "succeeded", "bad_commit", "stalled"]
FAILURES = frozenset({"failed", "timed_out", "missed"})
OUTCOMES = FAILURES | {"succeeded"}
MAX_EVENT_AGE = timedelta(days=7)  # a run that ended longer ago than this is not news


@dataclass(frozen=True)
class Event:
    """One thing worth telling people, with the targets it goes to."""

    key: str  # the same for the same transition, whenever it is seen
    kind: EventKind
    title: str
    text: str
    targets: tuple[str, ...]
    job_id: str | None = None
    run_id: str | None = None
    fields: tuple[tuple[str, str], ...] = ()  # label -> value, in order

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "title": self.title,
            "text": self.text,
            "targets": list(self.targets),
            "job_id": self.job_id,
            "run_id": self.run_id,
            "fields": [list(pair) for pair in self.fields],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            key=data["key"],
            kind=data["kind"],
            title=data["title"],
            text=data["text"],
            targets=tuple(data["targets"]),
            job_id=data.get("job_id"),
            run_id=data.get("run_id"),
            fields=tuple((str(a), str(b)) for a, b in data.get("fields", [])),
        )


def finished_runs(report: CycleReport) -> tuple[RunRecord, ...]:
    """The runs of this commit that have an outcome (attempts with a retry planned too)."""
    return tuple(r for r in report.dirty if r.status in OUTCOMES)


def run_events(report: CycleReport) -> tuple[Event, ...]:
    """The job events of one committed cycle (call it only when the commit went through)."""
    return tuple(event for record in finished_runs(report) for event in _run_events(report, record))


def reconciler_events(
    after: Mapping[str, Any],
    before: Mapping[str, Any],
    notify: NotifySettings | None,
    now: datetime,
) -> tuple[Event, ...]:
    """The reconciler's events between two versions of reconciler.yaml (after any record step:
    a failed status push changes what reconciler.yaml says too)."""
    if notify is None or not notify.reconciler:
        return ()
    events: list[Event] = []
    revision = str(after.get("attempted_revision") or "")
    problems = [p for p in after.get("problems") or [] if isinstance(p, Mapping)]
    if revision and revision != before.get("attempted_revision") and problems:
        events.append(_bad_commit(revision, problems, notify.reconciler))
    stalled = _stalled(after)
    if stalled is not None and _stalled(before) is None:
        reason = str(stalled.get("reason") or "Stalled")
        events.append(
            Event(
                key=_stalled_key(stalled, now),
                kind="stalled",
                title=f"Reconciler stalled: {reason}",
                text=str(stalled.get("message") or ""),
                targets=notify.reconciler,
                fields=(("reason", reason), ("instance", str(after.get("instance") or ""))),
            )
        )
    return tuple(events)


def shown(event: Event, document: Mapping[str, Any]) -> bool:
    """Whether reconciler.yaml ``document`` (as the status branch has it) shows the reconciler
    event ``event``: the status commit it was worked out for went through."""
    stalled = _stalled(document)
    if event.kind == "stalled":
        return stalled is not None and event.key == _stalled_key(stalled, None)
    revision = str(document.get("attempted_revision") or "")
    problems = bool(document.get("problems"))
    return event.kind == "bad_commit" and problems and event.key == _bad_commit_key(revision)


def _bad_commit_key(revision: str) -> str:
    return f"reconciler/revision/{revision}/problems"


def _stalled_key(stalled: Mapping[str, Any], now: datetime | None) -> str:
    reason = str(stalled.get("reason") or "Stalled")
    return f"reconciler/stalled/{reason}/{stalled.get('last_transition') or iso(now)}"


def _bad_commit(
    revision: str, problems: list[Mapping[str, Any]], targets: tuple[str, ...]
) -> Event:
    lines = [
        f"{p.get('path')}:{p.get('line')}: {p.get('field')}: {p.get('message')}"
        for p in problems[:10]
    ]
    if len(problems) > len(lines):
        lines.append(f"... and {len(problems) - len(lines)} more")
    return Event(
        key=_bad_commit_key(revision),
        kind="bad_commit",
        title=f"Revision {revision[:12]} has {len(problems)} manifest problem(s)",
        text="\n".join(lines),
        targets=targets,
        fields=(("revision", revision[:12]),),
    )


def _stalled(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for condition in document.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "Stalled":
            return condition if condition.get("status") == "True" else None
    return None


def _run_events(report: CycleReport, record: RunRecord) -> list[Event]:
    facts = report.jobs.get(record.job_id)
    job = facts.job if facts else None
    if job is None or not job.notifications.targets:
        return []
    if report.now - _finished(record) > MAX_EVENT_AGE:
        return []  # old news (every run written again after the status branch was rewritten)
    wants = job.notifications
    if record.status in FAILURES:
        if record.next_retry_at is not None or not wants.on_failure:
            return []
        if _failed_before(report, record):
            return []  # still failing: told at the first failure, told again at recovery
        return [_run_event("failed", job, record)]
    if _failed_before(report, record):
        return [_run_event("recovered", job, record)] if wants.on_recovery else []
    return [_run_event("succeeded", job, record)] if wants.on_success else []


def _failed_before(report: CycleReport, record: RunRecord) -> bool:
    """Whether the job's last outcome before ``record`` (its last attempts only) was a failure."""
    when = _finished(record)
    earlier = [
        r
        for r in report.runs.get(record.job_id, {}).values()
        if r.run_id != record.run_id
        and r.status in OUTCOMES
        and r.next_retry_at is None
        and _finished(r) <= when
    ]
    if not earlier:
        return False
    return max(earlier, key=lambda r: (_finished(r), r.run_id)).status in FAILURES


def _finished(record: RunRecord) -> datetime:
    time = record.finished_at or record.started_at or record.scheduled_for
    return time if time is not None else datetime.min.replace(tzinfo=UTC)


VERBS = {"failed": "failed", "recovered": "recovered", "succeeded": "succeeded"}


def _run_event(kind: EventKind, job: JobSpec, record: RunRecord) -> Event:
    status = record.status.replace("_", " ")
    title = f"{job.name} ({job.id}): {VERBS[kind]}"
    text = f"Run {record.run_id} {status}"
    if record.attempt > 1:
        text += f" on attempt {record.attempt}"
    if record.error is not None and kind == "failed":
        text += f": {record.error.message}"
        if record.error.hint:
            text += f" (hint: {record.error.hint})"
    fields = [("job", job.id), ("run", record.run_id), ("status", record.status)]
    if record.duration_s is not None:
        fields.append(("duration", f"{record.duration_s:.1f}s"))
    if record.exit_code is not None:
        fields.append(("exit code", str(record.exit_code)))
    if record.config_revision:
        fields.append(("revision", record.config_revision[:12]))
    return Event(
        key=f"run/{record.run_id}/{kind}",
        kind=kind,
        title=title,
        text=text,
        targets=job.notifications.targets,
        job_id=job.id,
        run_id=record.run_id,
        fields=tuple(fields),
    )
