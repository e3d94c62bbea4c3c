"""A schedule in words, for people: "every day at 02:00 (Europe/Berlin)".

The status files, ``oven plan``, ``oven explain`` and the web pages all show schedules this
way, so the wording is decided once, here. Only common shapes are put into words; anything
else is put into words by cron-descriptor (``cron_in_words``: "0 9-17 * * 1-5" -> "At 0 minutes
past the hour, between 09:00 and 17:59, Monday through Friday"), and only an expression it cannot
read is shown as itself. Nothing here computes fire times.
"""

from __future__ import annotations

from datetime import UTC

from reconciler.errors import ScheduleError
from reconciler.model import Schedule
from reconciler.schedule.parse import cron_fields

__all__ = ["cron_in_words", "describe"]

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
    if schedule.type == "webhook":
        return "webhook-triggered"
    return "manual"


def _describe_every(seconds: int) -> str:
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds} seconds"


def _describe_cron(schedule: Schedule) -> str:
    fallback = f"{cron_in_words(schedule.cron or '')} ({schedule.timezone})"
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


def cron_in_words(expression: str) -> str:
    """Any cron expression in words, by cron-descriptor, with 24-hour times like the rest of
    this module; an expression it cannot read is answered as ``cron EXPRESSION``."""
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return str(ExpressionDescriptor(cron_fields(expression), options).get_description())
    except Exception:  # cron-descriptor raises its own exception types (and others) on bad input
        return f"cron {expression}"
