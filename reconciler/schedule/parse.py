"""Reading and checking a schedule: cron fields, time zones and intervals.

Manifests (``reconciler.manifests.scheduling``) ask this module whether a schedule can be
used, and the fire-time queries ask it for the parsed, cached form of a cron schedule
(``CronSpec``). Every refusal is a ``ScheduleError`` whose hint says what to write instead.
Cron syntax itself is checked by croniter, reached only through ``reconciler.schedule.cron``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.errors import ScheduleError
from reconciler.model import Schedule
from reconciler.schedule.cron import check_expression, check_fires

__all__ = [
    "ALIASES",
    "MAX_INTERVAL",
    "CronSpec",
    "cron_fields",
    "cron_spec",
    "every_us",
    "parse_interval",
    "validate_schedule",
    "zone_named",
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
_SECOND = timedelta(seconds=1)
MAX_INTERVAL = timedelta(days=366)  # longer periods are once or cron schedules; keeps fire
# times (now + a few periods) far inside datetime's range (docs/manifests.md, "Bounds")


@dataclass(frozen=True)
class CronSpec:
    """A checked cron schedule: its five fields, its zone and how it treats daylight saving."""

    expr: str
    zone: ZoneInfo
    elapsed: bool  # minute or hour field starts with "*": follow elapsed time across DST


def parse_interval(text: str) -> timedelta:
    """``"30s"``, ``"5m"``, ``"2h"``, ``"1d"`` -> timedelta (whole seconds, at least 1 s)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    value = str(text).strip().lower()
    number, unit = value[:-1], value[-1:]
    shown = repr(text if len(text) <= 40 else text[:37] + "...")
    if unit not in units or not (number.isascii() and number.isdigit()):
        raise ScheduleError(
            f"bad interval {shown}",
            hint='write a whole number and a unit: "30s", "5m", "2h", "1d"',
        )
    digits = number.lstrip("0") or "0"
    seconds = int(digits) * units[unit] if len(digits) <= 12 else None  # 12 digits: > any bound
    if seconds is not None and seconds < 1:
        raise ScheduleError(f"interval {shown} is below one second", hint="use at least 1s")
    if seconds is None or seconds > MAX_INTERVAL.total_seconds():
        raise ScheduleError(
            f"interval {shown} is longer than {MAX_INTERVAL.days} days",
            hint="for rarer runs use a cron schedule (e.g. '0 0 1 1 *') or a once schedule",
        )
    return timedelta(seconds=seconds)


def validate_schedule(schedule: Schedule) -> None:
    """Raise ScheduleError with a hint when ``schedule`` cannot be parsed or can never fire."""
    if schedule.type == "cron":
        check_fires(cron_spec(schedule).expr, schedule.cron)
    elif schedule.type == "interval":
        every_us(schedule)
    elif schedule.type == "once":
        if schedule.at is None or schedule.at.tzinfo is None:
            raise ScheduleError(
                "a once schedule needs 'at' with a time zone",
                hint='write e.g. at: "2026-12-01T09:00:00Z"',
            )
    elif schedule.type not in ("manual", "webhook"):
        raise ScheduleError(
            f"unknown schedule type {schedule.type!r}",
            hint="use cron, interval, once, manual or webhook",
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
def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ScheduleError when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder, a long name
        raise ScheduleError(
            f"unknown time zone {name!r}", hint="use an IANA name such as Europe/Berlin or UTC"
        ) from exc


@lru_cache(maxsize=512)
def cron_spec(schedule: Schedule) -> CronSpec:
    """The checked form of a cron ``schedule`` (cached: fire-time queries ask for it often)."""
    expr = cron_fields(schedule.cron)
    check_expression(expr, schedule.cron)
    minute, hour = expr.split()[:2]
    elapsed = minute.startswith("*") or hour.startswith("*")
    return CronSpec(expr, zone_named(schedule.timezone), elapsed)


def every_us(schedule: Schedule) -> int:
    """An interval schedule's period in microseconds; ScheduleError unless whole seconds >= 1."""
    every = schedule.every
    if every is None or every < _SECOND or every % _SECOND or every > MAX_INTERVAL:
        raise ScheduleError(
            f"interval {every} must be a whole number of seconds, at least 1s and at most "
            f"{MAX_INTERVAL.days}d",
            hint='write every: "30s", "5m", "2h" or "1d"',
        )
    return every // timedelta(microseconds=1)
