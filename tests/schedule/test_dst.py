"""Daylight saving: the stated rule (docs/scheduling.md) in four zones, both transitions.

Two kinds of check: readable expectations for the common cases, and a brute force that walks
every minute of real time around each transition and applies the rule's definition directly:

- fixed-time crons (minute and hour fields do not start with ``*``): an instant fires when its
  wall time matches and it is that wall time's first occurrence; and the instant the clocks
  jump forward fires when any matching wall time lies inside the skipped stretch;
- elapsed-time crons (minute or hour field starts with ``*``): an instant fires when its wall
  time matches, whichever occurrence it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from reconciler.clock import utc
from reconciler.model import Schedule
from reconciler.schedule import cron_fields, fires_between, next_fire, previous_fire

LA, BERLIN, SYDNEY, LORD_HOWE = (
    "America/Los_Angeles", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe")

# (zone, a day before a transition in 2026, the kind of transition)
TRANSITIONS = [
    (LA, "2026-03-07", "spring forward 02:00 -> 03:00"),
    (LA, "2026-10-31", "fall back 02:00 -> 01:00"),
    (BERLIN, "2026-03-28", "spring forward 02:00 -> 03:00"),
    (BERLIN, "2026-10-24", "fall back 03:00 -> 02:00"),
    (SYDNEY, "2026-10-03", "spring forward 02:00 -> 03:00"),
    (SYDNEY, "2026-04-04", "fall back 03:00 -> 02:00"),
    (LORD_HOWE, "2026-10-03", "spring forward 02:00 -> 02:30"),
    (LORD_HOWE, "2026-04-04", "fall back 02:00 -> 01:30"),
]
CRONS = ["30 2 * * *", "0 2 * * *", "15 1 * * *", "45 1,2 * * *", "0 3 * * *",
         "0 * * * *", "30 * * * *", "*/20 * * * *", "* 2 * * *", "10 */2 * * *"]


def _local(zone: str, text: str, expr: str) -> list[str]:
    """Three days of fire times from local ``text``, as "DD HH:MM+offset" in the zone."""
    return [f"{t.astimezone(ZoneInfo(zone)):%d %H:%M%z}" for t in _fires(zone, text, expr)]


def _fires(zone: str, text: str, expr: str) -> list[datetime]:
    start = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return fires_between(Schedule("cron", cron=expr, timezone=zone), start,
                         start + timedelta(days=3))


def test_la_spring_forward_daily_0230_runs_once_when_the_clocks_jump() -> None:
    expr = "30 2 * * *"
    assert _local(LA, "2026-03-07T12:00", expr) == [
        "08 03:00-0700", "09 02:30-0700", "10 02:30-0700"]


def test_la_fall_back_daily_0130_runs_once_at_the_first_0130() -> None:
    expr = "30 1 * * *"
    assert _local(LA, "2026-10-31T12:00", expr) == [
        "01 01:30-0700", "02 01:30-0800", "03 01:30-0800"]


def test_berlin_spring_forward_and_fall_back_daily_0230() -> None:
    expr = "30 2 * * *"
    assert _local(BERLIN, "2026-03-28T12:00", expr) == [
        "29 03:00+0200", "30 02:30+0200", "31 02:30+0200"]
    assert _local(BERLIN, "2026-10-24T12:00", expr) == [
        "25 02:30+0200", "26 02:30+0100", "27 02:30+0100"]


def test_hourly_follows_elapsed_time_one_run_per_real_hour() -> None:
    berlin_fall = _fires(BERLIN, "2026-10-25T00:00", "0 * * * *")[:5]
    assert [f"{t:%H:%M}" for t in berlin_fall] == ["23:00", "00:00", "01:00", "02:00", "03:00"]
    la_spring = _fires(LA, "2026-03-08T00:00", "0 * * * *")[:4]
    assert [f"{t.astimezone(ZoneInfo(LA)):%H:%M%z}" for t in la_spring] == [
        "01:00-0800", "03:00-0700", "04:00-0700", "05:00-0700"]
    assert all(b - a == timedelta(hours=1) for a, b in zip(la_spring, la_spring[1:],
                                                            strict=False))


def test_sydney_spring_forward_daily_0230_runs_at_0300() -> None:
    expr = "30 2 * * *"
    assert _local(SYDNEY, "2026-10-03T12:00", expr) == [
        "04 03:00+1100", "05 02:30+1100", "06 02:30+1100"]


# ---------------------------------------------------------------- the definition, minute by minute


def _expected(expr: str, zone_name: str, low: datetime, high: datetime) -> list[datetime]:
    zone = ZoneInfo(zone_name)
    fields = cron_fields(expr)
    minute, hour = fields.split()[:2]
    elapsed = minute.startswith("*") or hour.startswith("*")
    walls: set[datetime] = set()
    it = croniter(fields, (low - timedelta(days=1)).astimezone(zone).replace(tzinfo=None))
    while (wall := it.get_next(datetime)) < (high + timedelta(days=1)).replace(tzinfo=None):
        walls.add(wall)
    fires, moment = [], low + timedelta(minutes=1)
    while moment <= high:
        here, before = moment.astimezone(zone), (moment - timedelta(minutes=1)).astimezone(zone)
        fires_now = here.replace(tzinfo=None) in walls and (elapsed or here.fold == 0)
        assert here.utcoffset() is not None and before.utcoffset() is not None
        if not elapsed and here.utcoffset() > before.utcoffset():  # type: ignore[operator]
            skipped_from = (moment + before.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
            skipped_to = here.replace(tzinfo=None)
            fires_now = fires_now or any(skipped_from <= w < skipped_to for w in walls)
        if fires_now:
            fires.append(moment)
        moment += timedelta(minutes=1)
    return fires


@pytest.mark.parametrize("zone, day, kind", TRANSITIONS,
                         ids=[f"{z} {k}" for z, _, k in TRANSITIONS])
@pytest.mark.parametrize("expr", CRONS)
def test_fire_times_follow_the_rule_minute_by_minute(expr: str, zone: str, day: str,
                                                     kind: str) -> None:
    low = utc(f"{day}T00:00:00Z")
    high = low + timedelta(days=2, hours=12)
    expected = _expected(expr, zone, low, high)
    schedule = Schedule("cron", cron=expr, timezone=zone)
    assert fires_between(schedule, low, high) == expected, kind
    backwards, moment = [], high
    while (found := previous_fire(schedule, moment)) is not None and found > low:
        backwards.append(found)
        moment = found - timedelta(microseconds=1)
    assert backwards[::-1] == expected, kind


def test_next_fire_asked_from_inside_the_repeated_hour() -> None:
    daily = Schedule("cron", cron="30 1 * * *", timezone=LA)
    second_pass = utc("2026-11-01T09:10:00Z")  # 01:10 PST, the second 01:10
    assert next_fire(daily, second_pass) == utc("2026-11-02T09:30:00Z")  # not 01:30 PST today
    hourly = Schedule("cron", cron="30 * * * *", timezone=LA)
    assert next_fire(hourly, second_pass) == utc("2026-11-01T09:30:00Z")  # 01:30 PST
