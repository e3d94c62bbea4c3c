"""Fire times of every schedule type, checked against independent brute force where possible."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter

from reconciler.clock import utc
from reconciler.errors import ScheduleError
from reconciler.model import Schedule
from reconciler.schedule import (
    count_fires_between,
    describe,
    fires_between,
    next_fire,
    parse_interval,
    previous_fire,
    recent_fires,
    validate_schedule,
)

T0 = utc("2026-03-02T00:00:00Z")  # a Monday


def cron(expr: str, zone: str = "UTC") -> Schedule:
    return Schedule("cron", cron=expr, timezone=zone)


def every(seconds: int) -> Schedule:
    return Schedule("interval", every=timedelta(seconds=seconds))


# ---------------------------------------------------------------- interval, once, manual


def test_interval_fires_at_epoch_aligned_multiples() -> None:
    times = fires_between(every(30), utc("2026-03-02T10:00:10Z"), utc("2026-03-02T10:02:00Z"))
    assert times == [utc(f"2026-03-02T10:{m}Z") for m in ("00:30", "01:00", "01:30", "02:00")]
    assert all(int(t.timestamp()) % 30 == 0 for t in times)


def test_interval_is_independent_of_where_you_start_asking() -> None:
    ten_minutes = every(600)
    for offset in range(0, 600, 37):
        start = T0 + timedelta(seconds=offset)
        assert next_fire(ten_minutes, start) == T0 + timedelta(seconds=600)
    assert next_fire(ten_minutes, T0) == T0 + timedelta(minutes=10)  # strictly after
    assert previous_fire(ten_minutes, T0) == T0  # at or before


def test_interval_counts_big_gaps_without_listing_them() -> None:
    year = timedelta(days=365)
    assert count_fires_between(every(30), T0, T0 + year) == 365 * 2880
    assert count_fires_between(every(30), T0, T0 + year, cap=101) == 101
    assert recent_fires(every(30), T0, T0 + year, 2) == [T0 + year - timedelta(seconds=30),
                                                         T0 + year]


def test_once_fires_exactly_at_its_time_and_never_again() -> None:
    once = Schedule("once", at=utc("2026-12-01T09:00:00Z"))
    assert next_fire(once, T0) == utc("2026-12-01T09:00:00Z")
    assert next_fire(once, utc("2026-12-01T09:00:00Z")) is None
    assert previous_fire(once, utc("2026-12-01T09:00:00Z")) == utc("2026-12-01T09:00:00Z")
    assert previous_fire(once, utc("2026-12-01T08:59:59Z")) is None


def test_manual_never_fires() -> None:
    manual = Schedule("manual")
    assert next_fire(manual, T0) is None
    assert previous_fire(manual, T0) is None
    assert fires_between(manual, T0, T0 + timedelta(days=400)) == []


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        next_fire(cron("0 * * * *"), datetime(2026, 1, 1))


# ---------------------------------------------------------------- cron


@pytest.mark.parametrize("alias, first", [
    ("@hourly", "2026-03-02T01:00:00Z"), ("@daily", "2026-03-03T00:00:00Z"),
    ("@midnight", "2026-03-03T00:00:00Z"), ("@weekly", "2026-03-08T00:00:00Z"),
    ("@monthly", "2026-04-01T00:00:00Z"), ("@yearly", "2027-01-01T00:00:00Z"),
    ("@annually", "2027-01-01T00:00:00Z"),
])
def test_cron_aliases(alias: str, first: str) -> None:
    assert next_fire(cron(alias), T0) == utc(first)


def test_day_of_month_and_day_of_week_are_ored_when_both_are_restricted() -> None:
    march = fires_between(cron("0 0 1 * 1"), utc("2026-02-28T00:00:00Z"),
                          utc("2026-03-31T00:00:00Z"))
    assert [t.day for t in march] == [1, 2, 9, 16, 23, 30]  # the 1st (a Sunday) + Mondays


def test_a_restricted_day_of_week_alone_is_not_ored_with_every_day() -> None:
    week = fires_between(cron("0 9 * * 1-5"), T0, T0 + timedelta(days=7))
    assert [t.strftime("%a") for t in week] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def _brute_previous(expr: str, moment: datetime) -> datetime:
    """Walk croniter forward over plain UTC wall times, from further back until one is found."""
    lookback, best = timedelta(hours=1), None
    while best is None:
        it = croniter(expr, (moment - lookback).replace(tzinfo=None))
        while True:
            candidate: datetime = it.get_next(datetime)
            if candidate > moment.replace(tzinfo=None):
                break
            best = candidate
        lookback *= 4
    return best.replace(tzinfo=UTC)


@pytest.mark.parametrize("expr", ["0 9 * * 1-5", "*/7 * * * *", "0 0 1 * 1", "5 4 * * 0",
                                  "0 0 L * *", "30 6 1,15 * *", "0 9,17 * * *"])
def test_previous_fire_is_exact_on_irregular_schedules(expr: str) -> None:
    rng = random.Random(expr)
    for _ in range(25):
        moment = T0 + timedelta(seconds=rng.randrange(0, 60 * 86_400))
        assert previous_fire(cron(expr), moment) == _brute_previous(expr, moment), moment


def test_previous_fire_includes_the_instant_itself() -> None:
    assert previous_fire(cron("0 * * * *"), utc("2026-03-02T10:00:00Z")) == \
        utc("2026-03-02T10:00:00Z")
    assert previous_fire(cron("0 * * * *"), utc("2026-03-02T09:59:59.999Z")) == \
        utc("2026-03-02T09:00:00Z")


def test_counts_recent_and_lists_agree() -> None:
    schedule = cron("*/7 * * * *")
    end = T0 + timedelta(days=2)
    listed = fires_between(schedule, T0, end)
    assert count_fires_between(schedule, T0, end) == len(listed)
    assert recent_fires(schedule, T0, end, 5) == listed[-5:]
    assert fires_between(schedule, T0, end, limit=3) == listed[:3]
    assert all(a < b for a, b in zip(listed, listed[1:], strict=False))


# ---------------------------------------------------------------- parsing and validation


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("5m", 300), ("2h", 7200),
                                           ("1d", 86_400), (" 10M ", 600)])
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["0s", "30", "s", "1.5m", "-5m", "5w", ""])
def test_parse_interval_refuses_bad_input(text: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_interval(text)
    assert err.value.hint


@pytest.mark.parametrize("schedule, message", [
    (cron("0 0 30 2 *"), "never fires"),
    (cron("0 0 31 4,6,9,11 *"), "never fires"),
    (cron("61 * * * *"), "bad cron"),
    (cron("* * * * * *"), "5 fields"),
    (cron("@reboot"), "5 fields"),
    (cron("0 * * *"), "5 fields"),
    (cron("0 2 * * *", "Europe/Atlantis"), "unknown time zone"),
    (Schedule("cron"), "5 fields"),
    (Schedule("once", at=datetime(2026, 1, 1)), "time zone"),
    (Schedule("interval", every=timedelta(milliseconds=500)), "at least 1s"),
])
def test_validate_schedule_explains_what_is_wrong(schedule: Schedule, message: str) -> None:
    with pytest.raises(ScheduleError, match=message) as err:
        validate_schedule(schedule)
    assert err.value.hint


@pytest.mark.parametrize("schedule", [
    cron("0 0 29 2 *"), cron("@weekly", "America/Los_Angeles"), cron("0 0 1 * 1"),
    every(30), Schedule("once", at=T0), Schedule("manual"),
])
def test_validate_schedule_accepts_good_schedules(schedule: Schedule) -> None:
    validate_schedule(schedule)


def test_leap_day_schedule_survives_the_skipped_leap_year_2100() -> None:
    assert next_fire(cron("0 0 29 2 *"), utc("2097-01-01T00:00:00Z")) == \
        utc("2104-02-29T00:00:00Z")


# ---------------------------------------------------------------- in words


@pytest.mark.parametrize("schedule, words", [
    (cron("0 2 * * *", "America/Los_Angeles"), "every day at 02:00 (America/Los_Angeles)"),
    (cron("@daily"), "every day at 00:00 (UTC)"),
    (cron("30 9 * * 1-5", "Europe/Berlin"),
     "every weekday (Monday to Friday) at 09:30 (Europe/Berlin)"),
    (cron("0 8 * * 1,3"), "every Monday and Wednesday at 08:00 (UTC)"),
    (cron("0 8 * * sun"), "every Sunday at 08:00 (UTC)"),
    (cron("0 3 1 * *"), "on day 1 of every month at 03:00 (UTC)"),
    (cron("0 0 24 12 *"), "every year on 24 December at 00:00 (UTC)"),
    (cron("*/5 * * * *"), "every 5 minutes"),
    (cron("* * * * *"), "every minute"),
    (cron("@hourly"), "every hour"),
    (cron("15 * * * *"), "every hour at minute 15"),
    (cron("0 */6 * * *"), "every 6 hours at minute 0"),
    (cron("0 9 1-7 * 1"), "At 09:00, between day 1 and 7 of the month, or on Monday (UTC)"),
    (cron("0 9-17 * * 1-5", "Europe/Berlin"), "At 0 minutes past the hour, between 09:00 and "
     "17:59, Monday through Friday (Europe/Berlin)"),
    (every(30), "every 30 seconds"),
    (every(60), "every minute"),
    (every(600), "every 10 minutes"),
    (every(90), "every 90 seconds"),
    (every(86_400), "every day"),
    (Schedule("once", at=utc("2026-12-01T09:00:00Z")), "once at 2026-12-01 09:00 UTC"),
    (Schedule("once", at=utc("2026-12-01T10:00:05+01:00")), "once at 2026-12-01 09:00:05 UTC"),
    (Schedule("manual"), "manual"),
    (Schedule("webhook"), "webhook-triggered"),
])
def test_describe(schedule: Schedule, words: str) -> None:
    assert describe(schedule) == words
