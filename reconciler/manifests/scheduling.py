"""The manifest side of schedules: a schedule mapping becomes a ``model.Schedule`` and is checked.

``reconciler.schedule`` owns schedule semantics (it is the only module that imports croniter).
Loading manifests must keep working while that module is absent (an install that is being
built up piece by piece), so it is imported lazily and a minimal check written here stands in:
five-field cron expressions that croniter can parse and that fire at least once, and intervals
written as ``<n>s|m|h|d``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.clock import utc
from reconciler.errors import ScheduleError
from reconciler.model import Schedule

INTERVAL = re.compile(r"^([0-9]+)([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CRON_PROBE_START = datetime(2000, 1, 1, tzinfo=UTC)  # fixed, so validation never reads a clock


def check_timezone(name: str) -> str | None:
    """None when ``name`` is a known IANA time zone, else what to write instead."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}; use an IANA name like UTC or Europe/Berlin"
    return None


def model_schedule(schedule: dict[str, Any]) -> Schedule:
    """A schema-valid schedule mapping as ``model.Schedule`` (``at`` and ``every`` parsed)."""
    kind = schedule["type"]
    if kind == "cron":
        return Schedule("cron", cron=schedule["cron"], timezone=schedule.get("timezone", "UTC"))
    if kind == "once":
        return Schedule("once", at=utc(schedule["at"]))
    if kind == "interval":
        return Schedule("interval", every=parse_interval(schedule["every"]))
    return Schedule("manual")


def parse_interval(text: str) -> timedelta:
    """``30s`` / ``5m`` / ``2h`` / ``1d`` -> timedelta; ScheduleError otherwise."""
    shared = _shared("parse_interval")
    if shared is not None:
        return cast(timedelta, shared(text))
    match = INTERVAL.match(text.strip())
    if not match:
        raise ScheduleError(f"interval {text!r} is not understood", hint="write it like 30s, 5m, 2h or 1d")
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if seconds < 1:
        raise ScheduleError(f"interval {text!r} must be at least 1s")
    return timedelta(seconds=seconds)


def validate_schedule(schedule: Schedule) -> None:
    """Raise ScheduleError if ``schedule`` cannot be parsed or can never fire."""
    shared = _shared("validate_schedule")
    if shared is not None:
        shared(schedule)
    elif schedule.type == "cron":
        _check_cron(schedule.cron or "")


def _shared(name: str) -> Callable[..., Any] | None:
    """``reconciler.schedule.<name>`` when that module exists, else None."""
    try:
        module = importlib.import_module("reconciler.schedule")
    except ModuleNotFoundError as exc:
        if exc.name != "reconciler.schedule":
            raise
        return None
    return cast("Callable[..., Any] | None", getattr(module, name, None))


def _check_cron(expression: str) -> None:
    from croniter import CroniterBadCronError, CroniterBadDateError, croniter

    if len(expression.split()) != 5:
        raise ScheduleError(f"cron {expression!r} must have 5 fields: minute hour day month weekday")
    try:
        croniter(expression, _CRON_PROBE_START).get_next(datetime)
    except CroniterBadDateError as exc:
        raise ScheduleError(f"cron {expression!r} can never fire") from exc
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise ScheduleError(f"cron {expression!r} is not valid: {exc}") from exc
