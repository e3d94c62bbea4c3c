"""A cron in a time zone as one UTC cron, for schedulers that run cron in UTC (GitHub Actions).

The job's wall-clock fire times over a year ahead (oven's own DST rules) are mapped to UTC with
each offset the zone has in that year, the offset most runs happen under first; when one UTC
cron gives exactly those times under an offset it is used, and when the zone has more than one
offset (daylight saving) the warning says at what local time the runs happen in the other part
of the year. ``Refused`` when runs are under 5 minutes apart or no single UTC cron fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from reconciler.model import Schedule
from reconciler.schedule.cron import wall_next
from reconciler.schedule.fires import fires_between
from reconciler.schedule.parse import cron_fields, zone_named

MIN_INTERVAL = timedelta(minutes=5)  # GitHub runs a schedule at most every 5 minutes
YEAR = timedelta(days=366)


@dataclass(frozen=True)
class UtcCron:
    expr: str
    warning: str | None = None


class Refused(Exception):
    """One thing the target scheduler cannot do for this job (the message says why)."""


def utc_cron(text: str, timezone: str, now: datetime) -> UtcCron:
    """One UTC cron for the cron ``text`` in ``timezone``, with a warning when DST moves it.

    Computes the fire times of a year from ``now`` and tries each UTC offset the zone has in
    that year; ``Refused`` when no single UTC cron gives the job's wall times under any of them.
    """
    expr = cron_fields(text)
    zone = zone_named(timezone)
    start = now.astimezone(UTC)

    schedule = Schedule("cron", cron=expr, timezone=timezone)
    _minutes_apart(fires_between(schedule, start, start + YEAR, limit=2000), text)
    if expr.split()[1:] == ["*"] * 4 and _whole_hours(zone, start):
        return UtcCron(expr)  # every hour of every day: an offset of whole hours moves nothing
    fires = fires_between(schedule, start, start + YEAR)
    if not fires:
        raise Refused(f"schedule.cron: {text!r} does not fire in the coming year")
    _minutes_apart(fires, text)
    offsets: dict[timedelta, int] = {}
    for fire in fires:
        offset = fire.astimezone(zone).utcoffset() or timedelta(0)
        offsets[offset] = offsets.get(offset, 0) + 1
    local_start = start.astimezone(zone).replace(tzinfo=None)
    walls = _walls(expr, local_start, local_start + YEAR)
    # the offset most of the year's runs happen under first
    if set(offsets) == {timedelta(0)}:
        return UtcCron(expr)  # UTC all year: the manifest's own cron
    for offset in sorted(offsets, key=lambda o: -offsets[o]):
        shifted = [w - offset for w in walls]
        candidate = _candidate(expr, shifted)
        if candidate and _walls(candidate, shifted[0], shifted[-1], inclusive=True) == shifted:
            if _same_instants(shifted, fires):
                return UtcCron(candidate)
            return UtcCron(candidate, _dst_warning(text, timezone, zone, offset, offsets))
    raise Refused(
        f"schedule.cron: {text!r} in {timezone} is no single UTC cron (its days change "
        "with the hour in UTC); split it into several jobs or use timezone: UTC"
    )


def _whole_hours(zone: ZoneInfo, start: datetime) -> bool:
    """Whether every UTC offset ``zone`` has in the year from ``start`` is whole hours."""
    days = (start + timedelta(days=d) for d in range(367))
    return all(
        (day.astimezone(zone).utcoffset() or timedelta(0)) % timedelta(hours=1) == timedelta(0)
        for day in days
    )


def _same_instants(shifted: list[datetime], fires: list[datetime]) -> bool:
    """Whether the UTC cron's times are the job's own, away from the ends of the year."""
    low, high = fires[0] + timedelta(days=2), fires[-1] - timedelta(days=2)
    utc_fires = {f.replace(tzinfo=None) for f in fires if low <= f <= high}
    ours = {s for s in shifted if low.replace(tzinfo=None) <= s <= high.replace(tzinfo=None)}
    return ours == utc_fires


def _minutes_apart(fires: list[datetime], text: str) -> None:
    gaps = [b - a for a, b in zip(fires, fires[1:], strict=False)]
    if gaps and min(gaps) < MIN_INTERVAL:
        raise Refused(
            f"schedule.cron: {text!r} fires {int(min(gaps).total_seconds() // 60)} minute(s) "
            "apart; GitHub runs a schedule at most every 5 minutes"
        )


def _walls(expr: str, low: datetime, high: datetime, inclusive: bool = False) -> list[datetime]:
    """Naive wall times matching ``expr`` from ``low`` up to ``high``."""
    found: list[datetime] = []
    wall = wall_next(expr, low, inclusive)
    while wall is not None and (wall < high or (inclusive and wall == high)):
        found.append(wall)
        wall = wall_next(expr, wall, False)
    return found


def _candidate(expr: str, times: list[datetime]) -> str | None:
    """A cron whose fields are the values ``times`` take, where ``expr`` restricts them."""
    if not times:
        return None
    _, _, dom, month, dow = expr.split()

    def field(values: set[int], keep_star: bool) -> str:
        return "*" if keep_star else ",".join(str(v) for v in sorted(values))

    minutes = {t.minute for t in times}
    hours = {t.hour for t in times}
    return " ".join(
        [
            field(minutes, False),
            field(hours, len(hours) == 24),
            field({t.day for t in times}, dom == "*"),
            field({t.month for t in times}, month == "*"),
            field({(t.weekday() + 1) % 7 for t in times}, dow == "*"),
        ]
    )


def _dst_warning(
    text: str, timezone: str, zone: ZoneInfo, used: timedelta, offsets: dict[timedelta, int]
) -> str | None:
    others = sorted(o for o in offsets if o != used)
    if not others:
        return None
    moves = "; ".join(
        f"while {timezone} is at UTC{_signed(o)} they run {_hours(o - used)} in local time"
        for o in others
    )
    return (
        f"daylight saving time moves this schedule: GitHub runs cron in UTC, so the UTC cron "
        f"gives the local times of {text!r} only while {timezone} is at UTC{_signed(used)}; "
        f"{moves}"
    )


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    amount = f"{abs(minutes) // 60} hour(s)" if minutes % 60 == 0 else f"{abs(minutes)} minutes"
    return f"{amount} {'later' if minutes > 0 else 'earlier'}"


def _signed(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"
