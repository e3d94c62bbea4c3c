"""When a job fires: the one module that knows cron, time zones and intervals.

Everything else asks this module for fire times as timezone-aware UTC datetimes. Schedule types:

- ``manual`` never fires on its own; ``once`` fires exactly at ``at``;
- ``interval`` fires at the instants whose unix time is a multiple of ``every`` (UTC, epoch
  aligned), so fire times do not depend on when the reconciler started;
- ``cron`` (5 fields or ``@hourly``/``@daily``/``@weekly``/``@monthly``/``@yearly``) is read in
  the IANA ``timezone``; day-of-month and day-of-week are ORed when both are restricted.

Daylight saving (docs/scheduling.md, "Daylight saving"): croniter only matches *wall times*
here; this module maps them to instants, one constant-offset stretch of time at a time.
A cron that names its hours ("fixed time": neither minute nor hour field starts with ``*``)
runs a wall time that does not exist once, at the instant the clocks jump to, and a wall time
that happens twice once, at its first occurrence. A cron whose minute or hour field starts
with ``*`` (``@hourly``, ``*/5 * * * *``) follows elapsed time instead, as in cronie: it fires
at every real instant whose wall time matches, so a skipped hour has no fires and a repeated
hour fires again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from reconciler.errors import ScheduleError
from reconciler.model import Schedule

__all__ = [
    "count_fires_between",
    "describe",
    "fires_between",
    "next_fire",
    "parse_interval",
    "previous_fire",
    "recent_fires",
    "validate_schedule",
]

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
LOOKAHEAD_YEARS = 9  # validation: a cron must fire within this many years (Feb 29 needs 8)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_PROBE = 86_400  # seconds between offset probes when looking for a DST transition
_LOCK = threading.Lock()  # croniter objects are stateful; the cached ones are shared


@dataclass(frozen=True)
class _Cron:
    expr: str
    zone: ZoneInfo
    elapsed: bool  # minute or hour field starts with "*": follow elapsed time across DST


# ---------------------------------------------------------------- parsing and validation


def parse_interval(text: str) -> timedelta:
    """``"30s"``, ``"5m"``, ``"2h"``, ``"1d"`` -> timedelta (whole seconds, at least 1 s)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    value = str(text).strip().lower()
    number, unit = value[:-1], value[-1:]
    if unit not in units or not number.isdigit():
        raise ScheduleError(
            f"bad interval {text!r}",
            hint='write a whole number and a unit: "30s", "5m", "2h", "1d"',
        )
    seconds = int(number) * units[unit]
    if seconds < 1:
        raise ScheduleError(f"interval {text!r} is below one second", hint="use at least 1s")
    return timedelta(seconds=seconds)


def validate_schedule(schedule: Schedule) -> None:
    """Raise ScheduleError with a hint when ``schedule`` cannot be parsed or can never fire."""
    if schedule.type == "cron":
        cron = _cron(schedule)
        start = datetime(2000, 1, 1)
        try:
            croniter(cron.expr, start, max_years_between_matches=LOOKAHEAD_YEARS).get_next(datetime)
        except CroniterBadDateError as exc:
            raise ScheduleError(
                f"cron {schedule.cron!r} never fires (no match within {LOOKAHEAD_YEARS} years)",
                hint="check day of month against month, e.g. '0 0 30 2 *' asks for February 30",
            ) from exc
    elif schedule.type == "interval":
        _every_us(schedule)
    elif schedule.type == "once":
        if schedule.at is None or schedule.at.tzinfo is None:
            raise ScheduleError(
                "a once schedule needs 'at' with a time zone",
                hint='write e.g. at: "2026-12-01T09:00:00Z"',
            )
    elif schedule.type != "manual":
        raise ScheduleError(
            f"unknown schedule type {schedule.type!r}", hint="use cron, interval, once or manual"
        )


def cron_fields(text: str | None) -> str:
    """The five cron fields of ``text``, with ``@daily`` and friends expanded."""
    expr = " ".join((text or "").split())
    expr = ALIASES.get(expr.lower(), expr)
    if len(expr.split()) != 5:
        raise ScheduleError(
            f"cron {text!r} must have 5 fields (minute hour day-of-month month day-of-week)",
            hint="for seconds use an interval schedule (every: 30s); @hourly, @daily, "
            "@weekly, @monthly and @yearly are accepted",
        )
    return expr


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(
            f"unknown time zone {name!r}", hint="use an IANA name such as Europe/Berlin or UTC"
        ) from exc


@lru_cache(maxsize=512)
def _cron(schedule: Schedule) -> _Cron:
    expr = cron_fields(schedule.cron)
    try:
        croniter(expr, datetime(2000, 1, 1))
    except (CroniterError, ValueError, KeyError) as exc:
        raise ScheduleError(
            f"bad cron expression {schedule.cron!r}: {exc}",
            hint="see https://crontab.guru for the syntax",
        ) from exc
    minute, hour = expr.split()[:2]
    return _Cron(expr, _zone(schedule.timezone), minute.startswith("*") or hour.startswith("*"))


def _every_us(schedule: Schedule) -> int:
    every = schedule.every
    if every is None or every < _SECOND or every % _SECOND:
        raise ScheduleError(
            f"interval {every} must be a whole number of seconds, at least 1s",
            hint='write every: "30s", "5m", "2h" or "1d"',
        )
    return every // timedelta(microseconds=1)


# ---------------------------------------------------------------- public fire-time queries


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
        every = _every_us(schedule)
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
        return _cron_forward(_cron(schedule), after)
    if schedule.type == "interval":
        every = _every_us(schedule)
        return (_at_us(k * every) for k in _count_from(_us(after) // every + 1))
    if schedule.type == "once" and schedule.at is not None and schedule.at > after:
        return iter([schedule.at.astimezone(UTC)])
    return iter([])


def _backward(schedule: Schedule, at_or_before: datetime) -> Iterator[datetime]:
    until = _utc(at_or_before)
    if schedule.type == "cron":
        return _cron_backward(_cron(schedule), until)
    if schedule.type == "interval":
        every = _every_us(schedule)
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


# ---------------------------------------------------------------- cron walls -> instants


def _cron_forward(cron: _Cron, after: datetime) -> Iterator[datetime]:
    """Fire instants > after, ascending, one constant-offset stretch at a time."""
    start, offset = after, _offset(cron.zone, after)
    wall, inclusive = _naive(after + offset), False
    while (found := _wall_next(cron.expr, wall, inclusive)) is not None:
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
        if sprang and not cron.elapsed and _matches_in(cron.expr, old_wall, new_wall):
            yield change  # a skipped wall time runs once, when the clocks jump
            inclusive = False


def _cron_backward(cron: _Cron, until: datetime) -> Iterator[datetime]:
    """Fire instants <= until, descending (the mirror image of ``_cron_forward``)."""
    end, offset = until, _offset(cron.zone, until)
    wall, inclusive, last = _naive(until + offset), True, None
    while (found := _wall_prev(cron.expr, wall, inclusive)) is not None:
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
        if gap_fire and change != last and _matches_in(cron.expr, old_wall, new_wall):
            yield change
            last = change
        end, offset, wall, inclusive = change, old_offset, old_wall, False


def _wall_next(expr: str, wall: datetime, inclusive: bool) -> datetime | None:
    """The first matching wall time after (or at) ``wall``; naive datetimes, whole seconds."""
    start = wall.replace(microsecond=0)
    if inclusive and start == wall:
        start -= _SECOND
    with _LOCK:
        try:
            found: datetime = _iterator(expr).get_next(datetime, start_time=start)
        except CroniterBadDateError:
            return None
    return found


def _wall_prev(expr: str, wall: datetime, inclusive: bool) -> datetime | None:
    start = wall.replace(microsecond=0)
    if inclusive or start != wall:
        start += _SECOND
    with _LOCK:
        try:
            found: datetime = _iterator(expr).get_prev(datetime, start_time=start)
        except CroniterBadDateError:
            return None
    return found


def _matches_in(expr: str, low: datetime, high: datetime) -> bool:
    """Whether a matching wall time lies in [low, high)."""
    found = _wall_next(expr, low, inclusive=True)
    return found is not None and found < high


@lru_cache(maxsize=256)
def _iterator(expr: str) -> croniter:
    return croniter(expr, datetime(2000, 1, 1))


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


# ---------------------------------------------------------------- in words


_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def describe(schedule: Schedule) -> str:
    """The schedule in words for people: "every day at 02:00 (Europe/Berlin)"."""
    if schedule.type == "once" and schedule.at is not None:
        at = schedule.at.astimezone(UTC)
        return f"once at {at:%Y-%m-%d %H:%M}{at.strftime(':%S') if at.second else ''} UTC"
    if schedule.type == "interval" and schedule.every is not None:
        return _describe_every(int(schedule.every.total_seconds()))
    if schedule.type == "cron":
        return _describe_cron(schedule)
    return "manual"


def _describe_every(seconds: int) -> str:
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds} seconds"


def _describe_cron(schedule: Schedule) -> str:
    fallback = f"cron {schedule.cron} ({schedule.timezone})"
    try:
        minute, hour, dom, month, dow = cron_fields(schedule.cron).split()
    except ScheduleError:
        return fallback
    if dom == month == dow == "*":
        if minute == hour == "*":
            return "every minute"
        if hour == "*" and minute.startswith("*/") and minute[2:].isdigit():
            return f"every {int(minute[2:])} minutes"
        if hour == "*" and minute.isdigit():
            return "every hour" + (f" at minute {int(minute)}" if int(minute) else "")
        if hour.startswith("*/") and hour[2:].isdigit() and minute.isdigit():
            return f"every {int(hour[2:])} hours at minute {int(minute)}"
    days = _describe_days(dom, month, dow)
    if minute.isdigit() and hour.isdigit() and days:
        return f"{days} at {int(hour):02d}:{int(minute):02d} ({schedule.timezone})"
    return fallback


def _describe_days(dom: str, month: str, dow: str) -> str | None:
    if dom == "*" and month == "*":
        if dow == "*":
            return "every day"
        if dow in ("1-5", "MON-FRI", "mon-fri"):
            return "every weekday (Monday to Friday)"
        names = [_day_name(part) for part in dow.split(",")]
        if all(names):
            return "every " + _join([name for name in names if name])
        return None
    if dom.isdigit() and dow == "*" and month == "*":
        return f"on day {int(dom)} of every month"
    if dom.isdigit() and dow == "*" and month.isdigit() and 1 <= int(month) <= 12:
        return f"every year on {int(dom)} {_MONTH_NAMES[int(month) - 1]}"
    return None


def _day_name(field: str) -> str | None:
    if field.isdigit() and int(field) <= 7:
        return _DAY_NAMES[int(field) % 7]
    matches = [name for name in _DAY_NAMES if name[:3].lower() == field.lower()]
    return matches[0] if matches else None


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
