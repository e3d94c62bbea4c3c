"""Run throughput and duration for the health snapshot (pure).

From the runs of the read model (the newest ``keep_runs`` of each job) and a reference time
(the reconciler's heartbeat, so the answer depends on the snapshot alone):

- ``runs_last_24h``: runs that finished in the 24 hours before it;
- ``runs_per_day``: runs that finished in the 7 days before it, per day (over fewer days when
  the oldest kept run is younger, at least one);
- ``p95_duration_s``: nearest-rank 95th percentile of those runs' durations (None without).

A job that runs more often than ``keep_runs`` per 7 days is counted over the days its kept runs
span, so its rate is not understated.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from reconciler.model import FINAL_STATUSES, optional_time

DAY = timedelta(days=1)
WINDOW = timedelta(days=7)


def run_health(runs: Iterable[Mapping[str, Any]], now: datetime | None) -> dict[str, Any]:
    """``runs_last_24h``, ``runs_per_day`` and ``p95_duration_s`` of ``runs`` as of ``now``."""
    finished = [(run, when) for run in runs if (when := _finished(run)) is not None]
    if now is None:
        now = max((when for _, when in finished), default=None)
    if now is None:
        return {"runs_last_24h": 0, "runs_per_day": 0.0, "p95_duration_s": None}
    recent = [(run, when) for run, when in finished if now - WINDOW <= when <= now]
    durations = sorted(d for run, _ in recent if (d := _duration(run)) is not None)
    return {
        "runs_last_24h": sum(1 for _, when in recent if when >= now - DAY),
        "runs_per_day": round(_per_day(recent, now), 2),
        "p95_duration_s": durations[math.ceil(0.95 * len(durations)) - 1] if durations else None,
    }


def _per_day(recent: list[tuple[Mapping[str, Any], datetime]], now: datetime) -> float:
    by_job: dict[str, list[datetime]] = defaultdict(list)
    for run, when in recent:
        by_job[str(run.get("job_id"))].append(when)
    total = 0.0
    for times in by_job.values():
        span = max(now - min(times), DAY)  # at least a day: one run today is 1/day
        total += len(times) / (span / DAY)
    return total


def _finished(run: Mapping[str, Any]) -> datetime | None:
    if run.get("status") not in FINAL_STATUSES:
        return None
    try:
        return optional_time(run.get("finished_at"))
    except ValueError:
        return None


def _duration(run: Mapping[str, Any]) -> float | None:
    value = run.get("duration_s")
    return float(value) if isinstance(value, int | float) else None
