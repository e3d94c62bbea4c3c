"""When a schedule fires: the fire-time queries the rest of the reconciler asks.

``decide``, ``dispatch``, ``planner`` and ``explain`` only ever ask these questions (next,
previous, between, how many, the most recent few), always with timezone-aware datetimes, and
get timezone-aware UTC datetimes back. Intervals are plain arithmetic on microseconds since
the epoch; cron schedules walk wall times through ``reconciler.schedule.dst``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice

from reconciler.model import Schedule
from reconciler.schedule.dst import cron_backward, cron_forward
from reconciler.schedule.parse import cron_spec, every_us

__all__ = [
    "count_fires_between",
    "fires_between",
    "next_fire",
    "previous_fire",
    "recent_fires",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=8192)
def next_fire(schedule: Schedule, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after``, or None if there is none."""
    return next(_forward(schedule, after), None)


@lru_cache(maxsize=8192)
def previous_fire(schedule: Schedule, at_or_before: datetime) -> datetime | None:
    """The most recent fire time at or before ``at_or_before`` (exact), or None."""
    return next(_backward(schedule, at_or_before), None)


def fires_between(
    schedule: Schedule, after: datetime, until: datetime, limit: int | None = None
) -> list[datetime]:
    """Fire times t with after < t <= until, oldest first, at most ``limit`` of them."""
    times = _until(_forward(schedule, after), until)
    return list(islice(times, limit) if limit is not None else times)


def count_fires_between(
    schedule: Schedule, after: datetime, until: datetime, cap: int | None = None
) -> int:
    """How many fire times t with after < t <= until (counting stops at ``cap``)."""
    if until <= after:
        return 0
    if schedule.type == "interval":
        every = every_us(schedule)
        count = _us(until) // every - _us(after) // every
        return count if cap is None else min(count, cap)
    return len(fires_between(schedule, after, until, limit=cap))


def recent_fires(schedule: Schedule, after: datetime, until: datetime, n: int) -> list[datetime]:
    """The ``n`` most recent fire times t with after < t <= until, oldest first."""
    newest_first = [t for t in islice(_backward(schedule, until), n) if t > after]
    return newest_first[::-1]


def _until(times: Iterator[datetime], until: datetime) -> Iterator[datetime]:
    for when in times:
        if when > until:
            return
        yield when


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{when!r} has no time zone; fire-time queries take aware datetimes")
    return when.astimezone(UTC)


def _forward(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    after = _utc(after)
    if schedule.type == "cron":
        return cron_forward(cron_spec(schedule), after)
    if schedule.type == "interval":
        every = every_us(schedule)
        return (_at_us(k * every) for k in _count_from(_us(after) // every + 1))
    if schedule.type == "once" and schedule.at is not None and schedule.at > after:
        return iter([schedule.at.astimezone(UTC)])
    return iter([])


def _backward(schedule: Schedule, at_or_before: datetime) -> Iterator[datetime]:
    until = _utc(at_or_before)
    if schedule.type == "cron":
        return cron_backward(cron_spec(schedule), until)
    if schedule.type == "interval":
        every = every_us(schedule)
        return (_at_us(k * every) for k in _count_from(_us(until) // every, step=-1))
    if schedule.type == "once" and schedule.at is not None and schedule.at <= until:
        return iter([schedule.at.astimezone(UTC)])
    return iter([])


def _count_from(start: int, step: int = 1) -> Iterator[int]:
    while True:
        yield start
        start += step


def _us(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1)


def _at_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)
