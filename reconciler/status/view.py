"""The read model: one frozen ``Snapshot`` of what the reconciler knows, and the box that
publishes it.

The cycle builds a new snapshot after every record step and puts it in a ``SnapshotBox``;
readers (the web app, later notifications) call ``box.get`` or subscribe to each new one.
Nothing in here does I/O, so a page can never slow down or disturb a reconcile cycle.
Everything is plain data as it appears in the status files (times are ISO 8601 UTC strings).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import RunRecord

__all__ = ["ReadyCheck", "Snapshot", "SnapshotBox", "SnapshotBuilder", "SnapshotSource"]


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

    ``runs`` maps a run id to a run record as ``RunRecord.to_dict()`` writes it.

    ``unexpected_errors`` counts, by step, the exceptions that were bugs and were contained
    since the daemon started (``incidents.Incidents``); ``/metrics`` exports it as a counter.
    """

    reconciler: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    unexpected_errors: dict[str, int] = field(default_factory=dict)


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
    """Builds snapshots, converting each run record to its dict once (records are frozen)."""

    def __init__(self) -> None:
        self._dicts: dict[str, tuple[RunRecord, dict[str, Any]]] = {}

    def build(
        self,
        reconciler: Mapping[str, Any],
        summaries: Mapping[str, Mapping[str, Any]],
        runs: Iterable[RunRecord],
        *,
        unexpected_errors: Mapping[str, int] | None = None,
    ) -> Snapshot:
        dicts: dict[str, tuple[RunRecord, dict[str, Any]]] = {}
        for record in runs:
            cached = self._dicts.get(record.run_id)
            if cached is None or cached[0] is not record:
                cached = (record, record.to_dict())
            dicts[record.run_id] = cached
        self._dicts = dicts
        return Snapshot(
            reconciler=dict(reconciler),
            jobs={job_id: dict(summary) for job_id, summary in summaries.items()},
            runs={run_id: data for run_id, (_, data) in dicts.items()},
            unexpected_errors=dict(unexpected_errors or {}),
        )
