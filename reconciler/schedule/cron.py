"""The croniter boundary: the only module in the project that imports croniter.

croniter does two things for the schedule package and nothing else: it checks a 5-field
expression (does it parse, can it ever fire) and it finds the next or previous *wall time*
(a naive datetime) that matches. Its errors become ``ScheduleError`` here, with a hint. Which
instant a wall time is, across daylight saving, is decided in ``reconciler.schedule.dst``;
keeping croniter in this one file means a change of cron library touches nothing else.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from functools import lru_cache

from croniter import CroniterBadDateError, CroniterError, croniter

from reconciler.errors import ScheduleError

__all__ = [
    "LOOKAHEAD_YEARS",
    "check_expression",
    "check_fires",
    "matches_in",
    "wall_next",
    "wall_prev",
]

LOOKAHEAD_YEARS = 9  # validation: a cron must fire within this many years (Feb 29 needs 8)
_SECOND = timedelta(seconds=1)
_LOCK = threading.Lock()  # croniter objects are stateful; the cached ones are shared


def check_expression(expr: str, text: str | None) -> None:
    """Raise ScheduleError when croniter cannot read ``expr`` (``text``: as the user wrote it)."""
    try:
        croniter(expr, datetime(2000, 1, 1))
    except (CroniterError, ValueError, KeyError) as exc:
        raise ScheduleError(
            f"bad cron expression {text!r}: {exc}",
            hint="see https://crontab.guru for the syntax",
        ) from exc


def check_fires(expr: str, text: str | None) -> None:
    """Raise ScheduleError when ``expr`` matches no wall time within ``LOOKAHEAD_YEARS``."""
    start = datetime(2000, 1, 1)
    try:
        croniter(expr, start, max_years_between_matches=LOOKAHEAD_YEARS).get_next(datetime)
    except CroniterBadDateError as exc:
        raise ScheduleError(
            f"cron {text!r} never fires (no match within {LOOKAHEAD_YEARS} years)",
            hint="check day of month against month, e.g. '0 0 30 2 *' asks for February 30",
        ) from exc


def wall_next(expr: str, wall: datetime, inclusive: bool) -> datetime | None:
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


def wall_prev(expr: str, wall: datetime, inclusive: bool) -> datetime | None:
    """The last matching wall time before (or at) ``wall``; naive datetimes, whole seconds."""
    start = wall.replace(microsecond=0)
    if inclusive or start != wall:
        start += _SECOND
    with _LOCK:
        try:
            found: datetime = _iterator(expr).get_prev(datetime, start_time=start)
        except CroniterBadDateError:
            return None
    return found


def matches_in(expr: str, low: datetime, high: datetime) -> bool:
    """Whether a matching wall time lies in [low, high)."""
    found = wall_next(expr, low, inclusive=True)
    return found is not None and found < high


@lru_cache(maxsize=256)
def _iterator(expr: str) -> croniter:
    return croniter(expr, datetime(2000, 1, 1))
