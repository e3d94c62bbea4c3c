"""``oven explain`` and ``oven next`` data and text, and the retry delays."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from reconciler.clock import utc
from reconciler.decide import JITTER, retry_delay
from reconciler.explain import explain, format_explain, format_next, next_fire_times
from reconciler.model import JobSpec, Policy, Schedule


def _job(schedule: Schedule, **policy: object) -> JobSpec:
    return JobSpec(id="nightly", name="Nightly", type="docker", schedule=schedule,
                   policy=Policy(**policy))  # type: ignore[arg-type]


NIGHTLY = _job(Schedule("cron", cron="0 2 * * *", timezone="America/Los_Angeles"))


def test_explain_after_downtime_names_the_run_and_the_dropped_ones() -> None:
    result = explain(NIGHTLY, utc("2026-03-05T12:00:00Z"),
                     last_scheduled=utc("2026-03-02T10:00:00Z"))
    assert result["job_id"] == "nightly"
    assert result["start"] == "2026-03-05T10:00:00Z"
    assert result["starts"] == ["2026-03-05T10:00:00Z"]
    assert result["missed"] == 2
    assert result["stop_active"] is False
    assert result["next_wakeup"] == "2026-03-06T10:00:00.100Z"
    assert "2 older due times counted missed" in result["reason"]
    assert result["schedule"] == "every day at 02:00 (America/Los_Angeles)"
    json.dumps(result)  # plain data only


def test_explain_without_history_treats_the_job_as_just_applied() -> None:
    result = explain(NIGHTLY, utc("2026-03-05T12:00:00Z"))
    assert result["created"] == "2026-03-05T12:00:00Z" and result["created_assumed"]
    assert result["start"] is None and result["starts"] == []
    assert result["reason"].startswith("nothing due; next run at 2026-03-06T10:00:00Z")


def test_explain_with_an_active_run_under_forbid() -> None:
    result = explain(NIGHTLY, utc("2026-03-05T10:00:30Z"),
                     last_scheduled=utc("2026-03-04T10:00:00Z"), active=1)
    assert result["start"] is None
    assert result["record_until"] == "2026-03-04T10:00:00Z"
    assert result["reason"].startswith("JobAlreadyActive")


def test_format_explain_shows_the_decision_and_warnings() -> None:
    job = _job(Schedule("cron", cron="* * * * *"), concurrency="replace")
    text = format_explain(explain(job, utc("2026-03-02T03:00:00Z"),
                                  last_scheduled=utc("2026-03-02T00:00:00Z"), active=1))
    assert "starts:       2026-03-02T03:00:00Z" in text
    assert "stops:        every active run first" in text
    assert "missed:       179" in text
    assert "warning:      TooManyMissedTimes: 180 start times" in text
    assert "since:        last scheduled 2026-03-02T00:00:00Z" in text


def test_next_fire_times_pair_utc_with_the_zone_across_dst() -> None:
    times = next_fire_times(NIGHTLY, 3, utc("2026-03-07T00:00:00Z"))
    assert [t.isoformat() for t, _ in times] == [
        "2026-03-07T10:00:00+00:00", "2026-03-08T10:00:00+00:00", "2026-03-09T09:00:00+00:00"]
    assert [local.strftime("%H:%M %Z") for _, local in times] == [
        "02:00 PST", "03:00 PDT", "02:00 PDT"]  # 02:00 does not exist on 8 March: runs at 03:00


def test_next_fire_times_stops_when_the_schedule_does() -> None:
    once = _job(Schedule("once", at=utc("2026-12-01T09:00:00Z")))
    assert len(next_fire_times(once, 5, utc("2026-01-01T00:00:00Z"))) == 1
    assert next_fire_times(_job(Schedule("manual")), 5, utc("2026-01-01T00:00:00Z")) == []
    assert "(no upcoming fire times)" in format_next(_job(Schedule("manual")), [])
    webhook = _job(Schedule("webhook"))
    assert next_fire_times(webhook, 5, utc("2026-01-01T00:00:00Z")) == []
    text = format_next(webhook, [])
    assert "webhook-triggered" in text and "POST /api/v1/jobs/ID/runs" in text


def test_format_next_puts_zone_time_and_utc_side_by_side() -> None:
    text = format_next(NIGHTLY, next_fire_times(NIGHTLY, 2, utc("2026-03-07T00:00:00Z")))
    lines = text.splitlines()
    assert lines[0] == "nightly: every day at 02:00 (America/Los_Angeles)"
    assert lines[1].split() == ["America/Los_Angeles", "UTC"]
    assert lines[2].startswith("2026-03-07 02:00:00 PST (Sat)")
    assert lines[2].endswith("2026-03-07T10:00:00Z")
    assert lines[3].startswith("2026-03-08 03:00:00 PDT (Sun)")


def test_interval_next_times_are_shown_in_utc() -> None:
    job = _job(Schedule("interval", every=timedelta(minutes=10)))
    times = next_fire_times(job, 2, utc("2026-03-02T10:03:00Z"))
    assert [local.strftime("%H:%M %Z") for _, local in times] == ["10:10 UTC", "10:20 UTC"]


# ---------------------------------------------------------------- retry delays


def test_retry_delays_double_with_at_most_ten_percent_jitter() -> None:
    delays = [retry_delay(30, attempt, "nightly-20260302-100000") for attempt in range(2, 9)]
    assert all(later > earlier * 1.8 for earlier, later in zip(delays, delays[1:], strict=False))
    for attempt, delay in zip(range(2, 9), delays, strict=True):
        base = 30 * 2 ** (attempt - 2)
        assert base <= delay < base * (1 + JITTER)


def test_retry_jitter_is_deterministic_per_run_and_differs_between_runs() -> None:
    assert retry_delay(30, 2, "a-20260302-100000") == retry_delay(30, 2, "a-20260302-100000")
    spread = {retry_delay(30, 2, f"job-{n}-20260302-100000") for n in range(50)}
    assert len(spread) == 50
    assert min(spread) < 30 * 1.03 and max(spread) > 30 * 1.07  # spread over the 10 %


def test_retry_delay_refuses_a_first_attempt() -> None:
    with pytest.raises(ValueError, match="attempt 2"):
        retry_delay(30, 1, "x")
    assert retry_delay(0, 3, "x") == 0.0
