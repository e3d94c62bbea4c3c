"""The manifest side of schedules: a schedule mapping becomes a ``model.Schedule`` and is checked.

``reconciler.schedule`` owns schedule semantics (cron syntax, time zones, intervals, whether a
schedule can ever fire); this module only turns the YAML mapping into the model and names the
field to blame when ``reconciler.schedule`` refuses it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.errors import ScheduleError
from reconciler.manifests.bounds import parse_time, time_problem
from reconciler.model import Schedule
from reconciler.schedule import parse_interval, validate_schedule

Finding = tuple[tuple[str | int, ...], str]
FIELD_TO_BLAME = {
    "cron": "cron",
    "once": "at",
    "interval": "every",
    "manual": "type",
    "webhook": "type",
}


def check_timezone(name: str) -> str | None:
    """None when ``name`` is a known IANA time zone, else what to write instead."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, a long name
        return f"unknown time zone {name!r}; use an IANA name like UTC or Europe/Berlin"
    return None


def model_schedule(schedule: dict[str, Any]) -> Schedule:
    """A schema-valid schedule mapping as ``model.Schedule`` (``at`` and ``every`` parsed)."""
    kind = schedule["type"]
    if kind == "cron":
        return Schedule("cron", cron=schedule["cron"], timezone=schedule.get("timezone", "UTC"))
    if kind == "once":
        return Schedule("once", at=parse_time(schedule["at"]))
    if kind == "interval":
        return Schedule("interval", every=parse_interval(schedule["every"]))
    if kind == "webhook":
        return Schedule("webhook")
    return Schedule("manual")


def schedule_findings(schedule: dict[str, Any], where: tuple[str | int, ...]) -> list[Finding]:
    """A schedule that cannot be parsed or can never fire, at the field to fix."""
    zone = schedule.get("timezone")
    if zone is not None and (message := check_timezone(zone)):
        return [((*where, "timezone"), message)]
    if schedule["type"] == "once" and (message := time_problem(schedule["at"])):
        return [((*where, "at"), message)]
    try:
        text = _refusal(model_schedule(schedule))
    except ScheduleError as exc:  # ``every`` or ``at`` that does not parse
        text = _text(exc)
    if text is not None:
        return [((*where, FIELD_TO_BLAME[schedule["type"]]), text)]
    return []


@lru_cache(maxsize=4096)
def _refusal(schedule: Schedule) -> str | None:
    """Why ``schedule`` cannot fire, or None; worked out once per schedule (many jobs of a
    repo share one, and parsing a cron expression is most of a file's checks)."""
    try:
        validate_schedule(schedule)
    except ScheduleError as exc:
        return _text(exc)
    return None


def _text(exc: ScheduleError) -> str:
    return f"{exc.message}; {exc.hint}" if exc.hint else exc.message
