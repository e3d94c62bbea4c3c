"""Why a job does or does not start: ``decide`` and the fire times, for people and scripts.

Backs ``oven explain`` (one decision at a chosen moment, as a dict or as text) and ``oven next``
(the coming fire times, in the job's zone and in UTC side by side). Pure: the caller passes the
time; nothing here reads a clock or a file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.clock import iso
from reconciler.decide import decide
from reconciler.model import JobSpec
from reconciler.schedule import describe, next_fire


def explain(
    job: JobSpec,
    now: datetime,
    last_scheduled: datetime | None = None,
    created: datetime | None = None,
    active: int = 0,
) -> dict[str, Any]:
    """The decision for ``job`` at ``now`` as plain data (ISO UTC times).

    With neither ``last_scheduled`` nor ``created`` the job counts as just applied
    (``created = now``): the answer is what happens next, with no missed runs behind it.
    """
    assumed = created is None and last_scheduled is None
    created_at = now if created is None else created
    decision = decide(job, last_scheduled, created_at, active, now)
    return {
        "job_id": job.id,
        "schedule": describe(job.schedule),
        "now": iso(now),
        "last_scheduled": iso(last_scheduled),
        "created": iso(created_at),
        "created_assumed": assumed,
        "active": active,
        "policy": {
            "concurrency": job.policy.concurrency,
            "missed": job.policy.missed,
            "starting_deadline": job.policy.starting_deadline,
            "max_catch_up": job.policy.max_catch_up,
        },
        "start": iso(decision.start),
        "starts": [iso(t) for t in decision.starts],
        "stop_active": decision.stop_active,
        "missed": decision.missed,
        "record_until": iso(decision.record_until),
        "reason": decision.reason,
        "warnings": list(decision.warnings),
        "next_wakeup": iso(decision.next_wakeup),
    }


def format_explain(result: dict[str, Any]) -> str:
    """``explain``'s dict as a few lines of text."""
    starts = result["starts"]
    lines = [
        f"job:          {result['job_id']} ({result['schedule']})",
        f"now:          {result['now']}",
        "since:        "
        + (
            f"last scheduled {result['last_scheduled']}"
            if result["last_scheduled"]
            else f"created {result['created']}"
            + (" (assumed: just applied)" if result["created_assumed"] else "")
        ),
        f"active runs:  {result['active']}",
        "starts:       " + (", ".join(starts) if starts else "nothing"),
    ]
    if result["stop_active"]:
        lines.append("stops:        every active run first (concurrency: replace)")
    lines += [
        f"missed:       {result['missed']}",
        f"reason:       {result['reason']}",
        f"record until: {result['record_until'] or '-'}",
        f"next wakeup:  {result['next_wakeup'] or '-'}",
    ]
    lines += [f"warning:      {text}" for text in result["warnings"]]
    return "\n".join(lines)


def next_fire_times(job: JobSpec, n: int, after: datetime) -> list[tuple[datetime, datetime]]:
    """The next ``n`` fire times after ``after`` as (UTC, wall time in the job's zone) pairs."""
    zone = _zone(job.schedule.timezone)
    times: list[tuple[datetime, datetime]] = []
    when: datetime | None = after
    while len(times) < n and when is not None:
        when = next_fire(job.schedule, when)
        if when is not None:
            times.append((when, when.astimezone(zone)))
    return times


def format_next(job: JobSpec, times: list[tuple[datetime, datetime]]) -> str:
    """A table of fire times: the job's zone and UTC side by side."""
    head = f"{job.id}: {describe(job.schedule)}"
    if not times and job.schedule.type == "webhook":
        return head + "\n(no upcoming fire times: it runs when POST /api/v1/jobs/ID/runs asks)"
    if not times:
        return head + "\n(no upcoming fire times)"
    zone = job.schedule.timezone
    stamps = [f"{local:%Y-%m-%d %H:%M:%S %Z} ({local:%a})" for _, local in times]
    width = max(len(zone), *(len(stamp) for stamp in stamps))
    rows = [head, f"{zone:<{width}}  UTC"]
    rows += [
        f"{stamp:<{width}}  {iso(utc_time)}"
        for stamp, (utc_time, _) in zip(stamps, times, strict=True)
    ]
    return "\n".join(rows)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
