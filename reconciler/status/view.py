"""The read model: one frozen ``Snapshot`` of what the reconciler knows, and the box that
publishes it.

The cycle builds a new snapshot after every record step and puts it in a ``SnapshotBox``;
readers (the web app, later notifications) call ``box.get`` or subscribe to each new one.
Nothing in here does I/O, so a page can never slow down or disturb a reconcile cycle.
Everything is plain data as it appears in the status files (times are ISO 8601 UTC strings).

The ``SnapshotBuilder`` keeps the read model up to date per change: ``update`` looks only at
the jobs whose runs changed since the last version (the book counts changes per job), turns
each changed record into its dict once and moves it in the run index (``status.index``), so a
quiet tick with 100k runs costs next to nothing. Each version is immutable: readers holding an
older one keep a consistent view while the next is built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeVar

from reconciler.model import RunRecord
from reconciler.status.index import RunIndex, RunIndexer

__all__ = [
    "ReadyCheck",
    "RunArchive",
    "Snapshot",
    "SnapshotBox",
    "SnapshotBuilder",
    "SnapshotSource",
]

T = TypeVar("T")


class RunArchive(Protocol):
    """Runs the reconciler does not hold in memory, read from the status branch on demand.

    Both do I/O: call them off the event loop."""

    def find(self, run_id: str) -> dict[str, Any] | None:
        """The run with this id, or None."""
        ...

    def for_job(self, job_id: str) -> list[dict[str, Any]]:
        """The job's runs not in ``Snapshot.runs``, newest first."""
        ...


@dataclass(frozen=True)
class Snapshot:
    """What the reconciler knows right now.

    ``reconciler`` is the content of ``status/reconciler.yaml``: ``applied_revision``,
    ``attempted_revision``, ``conditions`` [{type, status, reason, message}], ``problems``
    [{path, line, field, message}], ``heartbeat``, ``started_at``, ``next_wakeup``.

    ``jobs`` maps a job id to its summary: ``job_id``, ``name``, ``type``, ``schedule``
    (text in words), ``enabled``, ``next_run``, ``last_scheduled``, ``last_run``
    {run_id, status, finished_at, exit_code} or None, ``last_success``,
    ``consecutive_failures``, ``success_rate`` (0..1 or None), ``p95_duration_s``,
    ``active_runs`` [run ids], ``config_path``, ``description``, ``owner``.

    ``runs`` maps a run id to a run record as ``RunRecord.to_dict()`` writes it: the runs the
    reconciler holds. Runs it has not loaded from the status branch (after a restart) are
    read on demand through ``archive`` (``RunArchive``), which does I/O.

    ``unexpected_errors`` counts, by step, the exceptions that were bugs and were contained
    since the daemon started (``incidents.Incidents``); ``/metrics`` exports it as a counter.

    ``version`` grows with each snapshot a builder makes; ``index`` sorts ``runs`` (built on
    first use when the snapshot was made by hand). ``memo`` holds values derived from this
    version (pages, API and metrics share them; see ``derived``): a copy made with
    ``dataclasses.replace`` starts with an empty one.
    """

    reconciler: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    unexpected_errors: dict[str, int] = field(default_factory=dict)
    version: int = 0
    index: RunIndex | None = field(default=None, compare=False, repr=False)
    archive: RunArchive | None = field(default=None, compare=False, repr=False)
    memo: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @cached_property
    def run_index(self) -> RunIndex:
        """The runs sorted newest first, by status and by job (``status.index``)."""
        return self.index if self.index is not None else RunIndex.of(self.runs)

    def derived(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per version (a race computes it twice, harmlessly)."""
        try:
            value: T = self.memo[key]
        except KeyError:
            value = self.memo[key] = compute()
        return value


SnapshotSource = Callable[[], Snapshot]
ReadyCheck = Callable[[], bool]
Subscriber = Callable[[Snapshot], None]


class SnapshotBox:
    """The current snapshot, safe to read from any thread; subscribers see every new one."""

    def __init__(self, first: Snapshot | None = None) -> None:
        self._lock = threading.Lock()
        self._current = first or Snapshot()
        self._subscribers: list[Subscriber] = []

    def get(self) -> Snapshot:
        with self._lock:
            return self._current

    def publish(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._current = snapshot
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber(snapshot)

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)


class SnapshotBuilder:
    """Builds snapshot versions, converting each run record to its dict once per change."""

    def __init__(self, archive: RunArchive | None = None) -> None:
        self.archive = archive
        self._records: dict[str, RunRecord] = {}
        self._dicts: dict[str, dict[str, Any]] = {}
        self._job_runs: dict[str, set[str]] = {}
        self._seen: dict[str, int] = {}  # job id -> its change count at the last update
        self._indexer = RunIndexer()
        self._runs: dict[str, dict[str, Any]] | None = None  # the last version's runs
        self._jobs: dict[str, dict[str, Any]] = {}
        self._version = 0

    def build(
        self,
        reconciler: Mapping[str, Any],
        summaries: Mapping[str, Mapping[str, Any]],
        runs: Iterable[RunRecord],
        *,
        unexpected_errors: Mapping[str, int] | None = None,
    ) -> Snapshot:
        """A version holding exactly ``runs`` (compares every record: O(runs))."""
        self._seen.clear()
        given = {record.run_id: record for record in runs}
        changed = [r for r in given.values() if self._records.get(r.run_id) is not r]
        self._apply(changed, [run_id for run_id in self._records if run_id not in given])
        return self._snapshot(reconciler, summaries, unexpected_errors)

    def update(
        self,
        reconciler: Mapping[str, Any],
        summaries: Mapping[str, Mapping[str, Any]],
        runs: Mapping[str, Mapping[str, RunRecord]],
        changes: Mapping[str, int],
        *,
        unexpected_errors: Mapping[str, int] | None = None,
    ) -> Snapshot:
        """A version from every job's runs (``runs``: job id -> run id -> record), looking
        only at the jobs whose count in ``changes`` moved since the last update."""
        changed: list[RunRecord] = []
        removed: list[str] = []
        for job_id in [job for job in self._job_runs if job not in runs]:
            removed.extend(self._job_runs[job_id])
            self._seen.pop(job_id, None)
        for job_id, job_runs in runs.items():
            count = changes.get(job_id, 0)
            if self._seen.get(job_id) == count and job_id in self._seen:
                continue
            self._seen[job_id] = count
            removed.extend(self._job_runs.get(job_id, set()) - job_runs.keys())
            changed.extend(r for r in job_runs.values() if self._records.get(r.run_id) is not r)
        self._apply(changed, removed)
        return self._snapshot(reconciler, summaries, unexpected_errors)

    def _apply(self, changed: list[RunRecord], removed: list[str]) -> None:
        if not changed and not removed:
            return
        for run_id in removed:
            record = self._records.pop(run_id, None)
            self._dicts.pop(run_id, None)
            if record is not None:
                self._job_runs.get(record.job_id, set()).discard(run_id)
        dicts = []
        for record in changed:
            data = record.to_dict()
            self._records[record.run_id] = record
            self._dicts[record.run_id] = data
            self._job_runs.setdefault(record.job_id, set()).add(record.run_id)
            dicts.append(data)
        self._indexer.update(dicts, removed)
        self._runs = None

    def _snapshot(
        self,
        reconciler: Mapping[str, Any],
        summaries: Mapping[str, Mapping[str, Any]],
        unexpected_errors: Mapping[str, int] | None,
    ) -> Snapshot:
        if self._runs is None:
            self._runs = dict(self._dicts)  # one copy per changed version, shared after
        if summaries != self._jobs:  # a summary left unchanged stays the same object
            before = self._jobs
            self._jobs = {
                job_id: before[job_id] if before.get(job_id) == summary else dict(summary)
                for job_id, summary in summaries.items()
            }
        self._version += 1
        return Snapshot(
            reconciler=dict(reconciler),
            jobs=self._jobs,
            runs=self._runs,
            unexpected_errors=dict(unexpected_errors or {}),
            version=self._version,
            index=self._indexer.freeze(),
            archive=self.archive,
        )
