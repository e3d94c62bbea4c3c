"""Cron wall times -> instants across daylight saving (docs/scheduling.md, "Daylight saving").

croniter (through ``reconciler.schedule.cron``) only matches *wall times*; this module decides
which real instants they are, one constant-offset stretch of time at a time, so the DST rule
lives in one place and can be read and tested on its own:

- a cron that names its hours ("fixed time": neither minute nor hour field starts with ``*``)
  runs a wall time that does not exist once, at the instant the clocks jump to, and a wall
  time that happens twice once, at its first occurrence;
- a cron whose minute or hour field starts with ``*`` (``@hourly``, ``*/5 * * * *``) follows
  elapsed time instead, as in cronie: it fires at every real instant whose wall time matches,
  so a skipped hour has no fires and a repeated hour fires again.

Transitions are found by probing the zone's UTC offset a day apart and bisecting to the second.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from reconciler.schedule.cron import matches_in, wall_next, wall_prev
from reconciler.schedule.parse import CronSpec

__all__ = ["cron_backward", "cron_forward"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_PROBE = 86_400  # seconds between offset probes when looking for a DST transition


def cron_forward(cron: CronSpec, after: datetime) -> Iterator[datetime]:
    """Fire instants > after, ascending, one constant-offset stretch at a time."""
    start, offset = after, _offset(cron.zone, after)
    wall, inclusive = _naive(after + offset), False
    while (found := wall_next(cron.expr, wall, inclusive)) is not None:
        candidate = _instant(found, offset)
        change = _next_change(cron.zone, start, candidate)
        if change is None:
            if not cron.elapsed and candidate.astimezone(cron.zone).fold:
                wall, inclusive = _repeat_end(cron.zone, candidate), True  # ran at first pass
                continue
            yield candidate
            start, wall, inclusive = candidate, found, False
            continue
        new_offset = _offset(cron.zone, change)
        old_wall, new_wall = _naive(change + offset), _naive(change + new_offset)
        sprang = new_wall > old_wall  # spring forward: walls in [old_wall, new_wall) never happen
        start, offset, inclusive = change, new_offset, True
        wall = new_wall if cron.elapsed or sprang else old_wall  # fixed: skip a repeated hour
        if sprang and not cron.elapsed and matches_in(cron.expr, old_wall, new_wall):
            yield change  # a skipped wall time runs once, when the clocks jump
            inclusive = False


def cron_backward(cron: CronSpec, until: datetime) -> Iterator[datetime]:
    """Fire instants <= until, descending (the mirror image of ``cron_forward``)."""
    end, offset = until, _offset(cron.zone, until)
    wall, inclusive, last = _naive(until + offset), True, None
    while (found := wall_prev(cron.expr, wall, inclusive)) is not None:
        candidate = _instant(found, offset)
        change = _segment_start(cron.zone, end, candidate, offset)
        if change is None:
            if cron.elapsed or not candidate.astimezone(cron.zone).fold:
                if candidate != last:
                    yield candidate
                last = candidate
            end, wall, inclusive = candidate, found, False
            continue
        old_offset = _offset(cron.zone, change - _SECOND)
        old_wall, new_wall = _naive(change + old_offset), _naive(change + offset)
        gap_fire = new_wall > old_wall and not cron.elapsed
        if gap_fire and change != last and matches_in(cron.expr, old_wall, new_wall):
            yield change
            last = change
        end, offset, wall, inclusive = change, old_offset, old_wall, False


def _offset(zone: ZoneInfo, when: datetime) -> timedelta:
    return when.astimezone(zone).utcoffset() or timedelta(0)


def _naive(when: datetime) -> datetime:
    return when.replace(tzinfo=None)


def _instant(wall: datetime, offset: timedelta) -> datetime:
    return (wall - offset).replace(tzinfo=UTC)


def _next_change(zone: ZoneInfo, start: datetime, limit: datetime) -> datetime | None:
    """The first whole second in (start, limit] whose UTC offset differs from start's."""
    base = _offset(zone, start)
    low = high = int(start.timestamp() // 1)
    end = int(limit.timestamp() // 1)
    while high < end:
        low, high = high, min(high + _PROBE, end)
        if _offset(zone, _at_s(high)) != base:
            return _at_s(_bisect(zone, low, high, base))
    return None


def _segment_start(
    zone: ZoneInfo, end: datetime, limit: datetime, base: timedelta
) -> datetime | None:
    """Where the stretch with offset ``base`` ending at ``end`` starts, if in (limit, end]."""
    high = low = -int(-end.timestamp() // 1)
    floor = int(limit.timestamp() // 1)
    while low > floor:
        high, low = low, max(low - _PROBE, floor)
        if _offset(zone, _at_s(low)) != base:
            return _at_s(_bisect(zone, low, high, _offset(zone, _at_s(low))))
    return None


def _repeat_end(zone: ZoneInfo, second_pass: datetime) -> datetime:
    """The wall time that ends the repeated hour ``second_pass`` lies in (fall back)."""
    base = _offset(zone, second_pass)
    start = _segment_start(zone, second_pass, second_pass - timedelta(days=1), base)
    assert start is not None, "an instant with fold=1 follows a transition"
    return _naive(start + _offset(zone, start - _SECOND))


def _bisect(zone: ZoneInfo, low: int, high: int, base: timedelta) -> int:
    """Smallest second in (low, high] whose offset differs from ``base`` (low has ``base``)."""
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, _at_s(middle)) == base:
            low = middle
        else:
            high = middle
    return high


def _at_s(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)
