"""The bounds on every time, duration, count and size a manifest may hold, in one place.

After validation, the daemon does arithmetic on these values: fire times (``now`` plus a few
periods), ``now - startingDeadline``, retry delays (``backoff * 2^9``), the Docker API's int64
memory and NanoCpus. Bounding them at the gate keeps every later computation far inside
``datetime``'s and the engine's range, so what ``oven validate`` accepts is what the daemon can
run. The JSON Schema states the bounds it can express (``minimum``, ``maximum``,
``maxLength``) so editors show them; this module checks the ones it cannot — a time, a size in
Docker notation — and holds every number. docs/manifests.md ("Bounds") is the table for people;
``tests/manifests/test_bounds.py`` checks that schema, constants and table agree.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from reconciler.manifests.text import show
from reconciler.schedule import MAX_INTERVAL

# times: a once schedule's `at`; 2200 leaves centuries of room to datetime's year 9999
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)
# durations, in seconds (JSON Schema "maximum" carries the same numbers)
MAX_EVERY = int(MAX_INTERVAL.total_seconds())  # schedule.every: 366 days
MAX_DEADLINE = 366 * 86_400  # policy.startingDeadline: a year of lateness is "no deadline"
MAX_TIMEOUT = 7 * 86_400  # resources.timeout: one week per attempt
MAX_BACKOFF = 86_400  # retries.backoff: the 10th retry waits at most 512 days
# counts
MAX_RETRIES = 10  # retries.limit
MAX_CATCH_UP = 1000  # policy.maxCatchUp
# sizes
MIN_MEMORY = 6 * 1024**2  # the Docker engine refuses less
MAX_MEMORY = 1024**4  # 1024g: the engine takes an int64; a larger limit is no limit
MIN_CPUS = 0.01  # the Docker engine refuses less (NanoCpus < 10^7)
MAX_CPUS = 1024

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z", re.IGNORECASE
)
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([kmg]?)b?\Z", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_MAX_DIGITS = 40  # a size written with more digits is out of range whatever it says


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time (``T`` and an offset, any case) as UTC; None if it is not one.

    Times outside ``EARLIEST``..``LATEST`` are returned too (``time_problem`` says why they are
    refused); only a time that cannot be an instant at all, like ``9999-12-31T23:59:59-14:00``
    (past datetime's year 9999 in UTC), gives None.
    """
    if not RFC3339.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def time_problem(text: str) -> str | None:
    """Why a schema-valid ``at`` cannot be used, or None."""
    when = parse_time(text)
    if when is None or not EARLIEST <= when <= LATEST:
        return f"must be between {_iso(EARLIEST)} and {_iso(LATEST)} (got {show(text)})"
    return None


def memory_bytes(text: str) -> int | None:
    """``512m`` -> bytes (powers of 1024, exact); None if it is not a size or absurdly long."""
    match = _MEMORY.match(text)
    if not match or len(match.group(1)) > _MAX_DIGITS:
        return None
    return int(Decimal(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()])


def memory_problem(text: str) -> str | None:
    """Why a schema-valid memory limit cannot be used, or None."""
    size = memory_bytes(text)
    if size is not None and size < MIN_MEMORY:
        return f"must be at least 6m, Docker's minimum (got {show(text)})"
    if size is None or size > MAX_MEMORY:
        return f"must be at most {MAX_MEMORY // 1024**3}g (got {show(text)})"
    return None


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
