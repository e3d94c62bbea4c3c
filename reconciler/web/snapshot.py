"""The read model the web app shows: one frozen ``Snapshot`` per request.

The reconciler keeps its state in process and hands the app a zero-argument callable that
returns the current ``Snapshot``; the app never reads git or the engine itself, so a page
can never slow down or disturb a reconcile cycle. Everything in here is plain data as it
appears in the status files (times are ISO 8601 UTC strings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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
    """

    reconciler: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)


SnapshotSource = Callable[[], Snapshot]
ReadyCheck = Callable[[], bool]
