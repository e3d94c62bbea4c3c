"""Pure logic behind the pages: query parsing, run selection, health, formats, timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.status.view import Snapshot
from reconciler.web import format as fmt
from reconciler.web import queries
from reconciler.web.timeline import stage_bars


def test_empty_query_means_all_runs_up_to_the_default_limit() -> None:
    assert queries.parse_run_query({}) == queries.RunQuery()
    assert queries.RunQuery().limit == queries.DEFAULT_LIMIT


def test_query_reads_every_parameter() -> None:
    query = queries.parse_run_query(
        {"job": "backup", "status": "failed, timed_out", "since": "2026-03-01T00:00", "limit": "5"}
    )
    assert query.job == "backup"
    assert query.statuses == {"failed", "timed_out"}
    assert query.since == datetime(2026, 3, 1, tzinfo=UTC)  # no zone means UTC
    assert query.limit == 5


def test_query_error_carries_a_hint() -> None:
    with pytest.raises(queries.QueryError) as caught:
        queries.parse_run_query({"since": "last week"})
    assert "2026-03-01T00:00:00Z" in caught.value.hint


def test_runs_sort_by_start_then_schedule_then_finish(make_run) -> None:  # type: ignore[no-untyped-def]
    started = make_run("a", 10, "succeeded")
    queued = dict(make_run("b", 5, "queued"), started_at=None)  # only scheduled_for
    unknown = dict(make_run("c", 1, "queued"), started_at=None, scheduled_for=None)
    ordered = queries.newest_first([started, unknown, queued])
    assert [run["job_id"] for run in ordered] == ["b", "a", "c"]


def test_since_excludes_runs_without_any_time(make_run) -> None:  # type: ignore[no-untyped-def]
    timeless = dict(make_run("c", 1, "queued"), started_at=None, scheduled_for=None)
    snapshot = Snapshot(runs={timeless["run_id"]: timeless})
    query = queries.RunQuery(since=datetime(2000, 1, 1, tzinfo=UTC))
    assert queries.select_runs(snapshot, query) == []


def test_active_runs_come_from_summaries_and_records(sample: Snapshot) -> None:
    jobs = dict(sample.jobs, idle=dict(sample.jobs["idle"], active_runs=["idle-manual-1"]))
    snapshot = Snapshot(reconciler=sample.reconciler, jobs=jobs, runs=sample.runs)
    assert queries.active_run_ids(snapshot) == {"backup-20260301-115500", "idle-manual-1"}


@pytest.mark.parametrize(
    ("conditions", "state"),
    [
        ([], "Unknown"),
        ([{"type": "Ready", "status": "True"}], "Ready"),
        ([{"type": "Ready", "status": "False"}], "NotReady"),
        ([{"type": "Ready", "status": "False"}, {"type": "Stalled", "status": "True"}], "Stalled"),
        ([{"type": "Reconciling", "status": "True"}], "Reconciling"),
    ],
)
def test_reconciler_state_in_one_word(conditions: list[dict[str, str]], state: str) -> None:
    snapshot = Snapshot(reconciler={"conditions": conditions})
    assert queries.reconciler_state(snapshot)["state"] == state


def test_last_success_accepts_a_time_or_a_run() -> None:
    when = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    assert queries.last_success_time({"last_success": "2026-03-01T02:00:00Z"}) == when
    as_run = {"last_success": {"finished_at": "2026-03-01T02:00:00Z"}}
    assert queries.last_success_time(as_run) == when
    assert queries.last_success_time({"last_success": None}) is None
    assert queries.last_success_time({"last_success": "garbage"}) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0.25, "0.2s"), (9.96, "10.0s"), (42, "42s"), (83, "1m 23s"), (7260, "2h 1m")],
)
def test_duration_text(seconds: float | None, text: str) -> None:
    assert fmt.duration(seconds) == text


def test_other_formats() -> None:
    assert fmt.percent(0.953) == "95%" and fmt.percent(None) == "—"
    assert fmt.short_time("2026-03-01T02:00:00.123Z") == "2026-03-01 02:00:00Z"
    assert fmt.short_rev("0123456789abcdef") == "0123456789ab" and fmt.short_rev(None) == "—"
    assert fmt.schedule_text({"type": "cron", "cron": "0 2 * * *"}) == "At 02:00"
    assert fmt.schedule_text({"type": "cron", "cron": "0 9-17 * * 1-5"}) == (
        "At 0 minutes past the hour, between 09:00 and 17:59, Monday through Friday"
    )
    assert fmt.schedule_text("every day at 02:00") == "every day at 02:00"


def test_stages_with_times_sit_at_their_start() -> None:
    run = {
        "started_at": "2026-03-01T00:00:00Z",
        "duration_s": 100.0,
        "stages": [
            {"name": "a", "status": "succeeded", "started_at": "2026-03-01T00:00:10Z",
             "duration_s": 20.0},
            {"name": "b", "status": "running", "started_at": "2026-03-01T00:00:50Z"},
        ],
    }
    bars = stage_bars(run)
    assert [(b["offset"], b["width"]) for b in bars] == [(10.0, 20.0), (50.0, 0.5)]


def test_stages_without_times_are_laid_end_to_end() -> None:
    run = {"stages": [{"name": "a", "status": "succeeded", "duration_s": 30},
                      {"name": "b", "status": "failed", "duration_s": 10}]}
    bars = stage_bars(run)
    assert [(b["offset"], b["width"]) for b in bars] == [(0.0, 75.0), (75.0, 25.0)]
