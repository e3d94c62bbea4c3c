"""What a job starts now: one pure decision, the Kubernetes CronJob controller's rules and ours.

``decide(job, last_scheduled, created, active, now)`` looks at the fire times since the last one
accounted for and returns a ``Decision``: which nominal times start, whether active runs are
stopped first, how many due times are given up, what to persist as the new last scheduled time,
a sentence saying why and when to ask again. No I/O, no clock: the caller passes ``now``.
Every rule is written down in docs/scheduling.md, with where and why it differs from Kubernetes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.clock import iso
from reconciler.errors import ScheduleError
from reconciler.model import JobSpec, Policy, Schedule
from reconciler.schedule import count_fires_between, next_fire, previous_fire, recent_fires

SKIP_LATE_LIMIT = 60  # seconds a run may be late under `missed: skip` without startingDeadline
TOO_MANY_MISSED = 100  # Kubernetes warns (TooManyMissedTimes) above this many due times
COUNT_CAP = 10_000  # due times are counted exactly up to this many per decision (~0.5 s)
WAKE_DELAY = timedelta(milliseconds=100)  # like Kubernetes: wake just after the fire time
JITTER = 0.10  # retry delays are stretched by up to +10 %, derived from the run id


@dataclass(frozen=True)
class Decision:
    """What to do for one job at one moment (docs/scheduling.md, "The decision")."""

    starts: tuple[datetime, ...]  # nominal times to start now, oldest first
    stop_active: bool  # replace: stop every active run before starting
    missed: int  # due times that will never run (dropped by policy, deadline or cap)
    record_until: datetime | None  # new last scheduled time (== input when nothing accounted)
    reason: str  # one sentence: why this start, or why none
    warnings: tuple[str, ...]  # e.g. "TooManyMissedTimes: ..."
    next_wakeup: datetime | None  # when to decide again (also: whenever a run of the job ends)

    @property
    def start(self) -> datetime | None:
        """The most recent of ``starts``, or None."""
        return self.starts[-1] if self.starts else None


@dataclass(frozen=True)
class _Due:
    """The fire times since the last accounted one, split at the lateness limit."""

    since: datetime  # fires after this and up to now are due and on time
    expired: int  # fires before ``since`` that are too late (startingDeadline / skip limit)
    newest_expired: datetime | None
    due: int  # how many on-time fires are due (capped at COUNT_CAP)
    newest: datetime | None  # the most recent due fire (exact)
    following: datetime | None  # the first fire after now


def decide(
    job: JobSpec, last_scheduled: datetime | None, created: datetime, active: int, now: datetime
) -> Decision:
    """Decide what ``job`` starts at ``now`` (pure; see the module docstring)."""
    if job.schedule.type == "manual":
        return _idle(last_scheduled, "manual schedule: runs only when triggered (CLI or API)")
    if job.schedule.type == "webhook":
        return _idle(
            last_scheduled,
            "webhook schedule: runs only when POST /api/v1/jobs/<id>/runs triggers it",
        )
    if not job.enabled:
        return _idle(
            last_scheduled,
            "suspended (enabled: false): nothing starts and active "
            "runs are left alone; after resume the missed-run policy applies",
        )
    try:
        if _once_is_over(job.schedule, last_scheduled, created):
            return _idle(last_scheduled, _once_over_reason(job.schedule, last_scheduled, created))
        due = _due(job.schedule, job.policy, last_scheduled or created, now)
    except ScheduleError as exc:
        return _idle(
            last_scheduled, f"nothing starts: {exc.message}", (f"InvalidSchedule: {exc.message}",)
        )
    if job.policy.concurrency == "forbid" and active > 0:
        return _blocked(job.policy, due, last_scheduled, active)
    return _start(job.policy, job.schedule, due, last_scheduled, active)


def retry_delay(backoff: float, attempt: int, run_id: str) -> float:
    """Seconds to wait before ``attempt`` (>= 2) after the previous attempt failed.

    backoff * 2^(attempt-2) * (1 + jitter), jitter in [0, 0.1) derived from ``run_id`` (the
    first attempt's id) and the attempt number: deterministic, yet spread across jobs.
    """
    if attempt < 2:
        raise ValueError(f"attempt {attempt}: retries start at attempt 2")
    digest = hashlib.sha256(f"{run_id}/{attempt}".encode()).digest()
    jitter: float = int.from_bytes(digest[:8], "big") / 2**64 * JITTER
    return float(backoff) * float(2 ** (attempt - 2)) * (1.0 + jitter)


# ---------------------------------------------------------------- gathering the due times


def _late_limit(policy: Policy) -> timedelta | None:
    if policy.starting_deadline is not None:
        return timedelta(seconds=policy.starting_deadline)
    if policy.missed == "skip":
        return timedelta(seconds=SKIP_LATE_LIMIT)
    return None


def _due(schedule: Schedule, policy: Policy, base: datetime, now: datetime) -> _Due:
    first = next_fire(schedule, base)  # cached: base only moves when a time is accounted
    if first is None or first > now:
        return _Due(base, 0, None, 0, None, first)
    since, expired, newest_expired = base, 0, None
    limit = _late_limit(policy)
    if limit is not None and first <= now - limit:  # on time means less than `limit` late
        since = now - limit
        expired = count_fires_between(schedule, base, since, cap=COUNT_CAP)
        newest_expired = previous_fire(schedule, since)
        first = next_fire(schedule, since)
        if first is None or first > now:
            return _Due(since, expired, newest_expired, 0, None, first)
    second = next_fire(schedule, first)
    if second is None or second > now:  # the common case: exactly one due time
        return _Due(since, expired, newest_expired, 1, first, second)
    newest = previous_fire(schedule, now)
    due = count_fires_between(schedule, since, now, cap=COUNT_CAP)
    return _Due(since, expired, newest_expired, due, newest, next_fire(schedule, now))


def _once_is_over(schedule: Schedule, last_scheduled: datetime | None, created: datetime) -> bool:
    at = schedule.at
    return schedule.type == "once" and at is not None and at <= (last_scheduled or created)


def _once_over_reason(schedule: Schedule, last: datetime | None, created: datetime) -> str:
    if last is not None and schedule.at is not None and last >= schedule.at:
        return f"once schedule already ran (at {iso(schedule.at)}); nothing more starts"
    return (
        f"once schedule at {iso(schedule.at)} was applied later (at {iso(created)}), so it "
        "never runs on its own; trigger it manually if it is still wanted"
    )


# ---------------------------------------------------------------- the three outcomes


def _idle(last: datetime | None, reason: str, warnings: tuple[str, ...] = ()) -> Decision:
    return Decision((), False, 0, last, reason, warnings, None)


def _blocked(policy: Policy, due: _Due, last: datetime | None, active: int) -> Decision:
    """forbid with an active run: nothing starts and nothing is accounted (like Kubernetes)."""
    wake = _wake(due.following)
    if due.newest is None:
        return Decision((), False, 0, last, _nothing_due(due, count_expired=False), (), wake)
    limit = _late_limit(policy)
    expiry = f", unless it is {int(limit.total_seconds())}s late by then" if limit else ""
    reason = (
        f"JobAlreadyActive: {_plural(active, 'run')} still active and concurrency is forbid; "
        f"the run due at {iso(due.newest)} starts when it ends{expiry}"
    )
    return Decision((), False, 0, last, reason, (), wake)


def _start(
    policy: Policy, schedule: Schedule, due: _Due, last: datetime | None, active: int
) -> Decision:
    if due.newest is None:
        record = due.newest_expired or last
        return Decision((), False, due.expired, record, _nothing_due(due), (), _wake(due.following))
    chosen = _chosen(policy, schedule, due)
    dropped = due.due - len(chosen)
    one_at_a_time = policy.missed == "all" and policy.concurrency == "forbid"
    starts = chosen[:1] if one_at_a_time else chosen  # the next decision continues after it
    stop = policy.concurrency == "replace" and active > 0
    reason = _start_reason(
        policy, due, starts, len(chosen) - len(starts), dropped, active if stop else 0
    )
    return Decision(
        starts,
        stop,
        due.expired + dropped,
        starts[-1],
        reason,
        _warnings(policy, due, dropped),
        _wake(due.following),
    )


def _chosen(policy: Policy, schedule: Schedule, due: _Due) -> tuple[datetime, ...]:
    assert due.newest is not None
    if policy.missed != "all" or due.due == 1:
        return (due.newest,)
    cap = max(1, policy.max_catch_up)
    return tuple(recent_fires(schedule, due.since, due.newest, min(cap, due.due)))


# ---------------------------------------------------------------- words


def _nothing_due(due: _Due, count_expired: bool = True) -> str:
    upcoming = f"next run at {iso(due.following)}" if due.following else "no future fire time"
    if due.expired and count_expired:
        return (
            f"MissSchedule: {_plural(due.expired, 'start time')} up to "
            f"{iso(due.newest_expired)} passed the lateness limit, counted missed; {upcoming}"
        )
    return f"nothing due; {upcoming}"


def _start_reason(
    policy: Policy,
    due: _Due,
    starts: tuple[datetime, ...],
    pending: int,
    dropped: int,
    replaced: int,
) -> str:
    prefix = f"replacing {_plural(replaced, 'active run')}: " if replaced else ""
    if len(starts) > 1:
        text = (
            f"catching up {_plural(len(starts), 'run')}, oldest first "
            f"({iso(starts[0])} to {iso(starts[-1])})"
        )
    elif pending:
        text = (
            f"catching up one run at a time (concurrency forbid): the run due at "
            f"{iso(starts[0])} starts, {pending} more pending"
        )
    else:
        text = f"the run due at {iso(starts[0])} starts"
    if dropped and policy.missed == "all":
        text += (
            f"; {_plural(dropped, 'older due time')} beyond maxCatchUp "
            f"{policy.max_catch_up} counted missed"
        )
    elif dropped:
        text += f"; {_plural(dropped, 'older due time')} counted missed (missed: {policy.missed})"
    if due.expired:
        text += f"; {_plural(due.expired, 'start time')} past the lateness limit counted missed"
    return prefix + text


def _warnings(policy: Policy, due: _Due, dropped: int) -> tuple[str, ...]:
    found: list[str] = []
    if due.due > TOO_MANY_MISSED:
        count = f"at least {COUNT_CAP}" if due.due >= COUNT_CAP else str(due.due)
        found.append(
            f"TooManyMissedTimes: {count} start times were due since {iso(due.since)}; "
            "check that the reconciler keeps running, or set startingDeadline"
        )
    if policy.missed == "all" and dropped:
        found.append(
            f"CatchUpCapped: {_plural(dropped, 'missed run')} dropped by maxCatchUp "
            f"{policy.max_catch_up}"
        )
    return tuple(found)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("s" if count != 1 else "")


def _wake(when: datetime | None) -> datetime | None:
    return when + WAKE_DELAY if when is not None else None
