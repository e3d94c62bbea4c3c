"""What issue 9 adds to the pages and probes: dead notification targets as warnings on the
overview, the process metrics beside the snapshot's, and run throughput in the health API."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from reconciler.model import RunRecord
from reconciler.status.health import run_health
from reconciler.status.view import Snapshot
from reconciler.telemetry import Telemetry
from reconciler.web.app import create_app

DEAD = "notification target team-slack is not answering: HTTP 400: invalid_payload <b>"


def test_a_dead_target_is_a_warning_on_the_overview(box, sample: Snapshot) -> None:  # type: ignore[no-untyped-def]
    box.set(replace(sample, reconciler=dict(sample.reconciler, warnings=[DEAD])))
    page = TestClient(create_app(box)).get("/").text
    assert '<ul id="cond-warnings" class="cond-warnings">' in page
    assert (
        "<li>notification target team-slack is not answering: "
        "HTTP 400: invalid_payload &lt;b&gt;</li>" in page
    )


def test_no_warnings_no_list(box, sample: Snapshot) -> None:  # type: ignore[no-untyped-def]
    box.set(replace(sample, reconciler=dict(sample.reconciler, warnings=[])))
    assert "cond-warnings" not in TestClient(create_app(box)).get("/").text


def test_metrics_carry_the_process_counters_and_the_applied_revision(box, sample: Snapshot) -> None:  # type: ignore[no-untyped-def]
    telemetry = Telemetry()
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    telemetry.observe_run(
        RunRecord(
            "backup-1",
            "backup",
            "schedule",
            "succeeded",
            scheduled_for=start,
            started_at=start + timedelta(seconds=2),
            finished_at=start + timedelta(seconds=32),
        )
    )
    telemetry.status_push_failures.inc()
    app = create_app(box, process_metrics=telemetry.registry)
    text = TestClient(app).get("/metrics").text
    assert 'oven_runs_finished_total{job="backup",outcome="succeeded"} 1.0' in text
    assert 'oven_run_duration_seconds_sum{job="backup"} 30.0' in text
    assert 'oven_schedule_lateness_seconds_bucket{job="backup",le="2.0"} 1.0' in text
    assert 'oven_schedule_lateness_seconds_bucket{job="backup",le="1.0"} 0.0' in text
    assert "oven_status_push_failures_total 1.0" in text
    revision = sample.reconciler["applied_revision"]
    assert f'oven_applied_revision_info{{revision="{revision}"}} 1.0' in text
    assert text.count("# TYPE oven_runs ") == 1, "one family per name"


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def run(
    job: str, hours_ago: float, duration: float, status: str = "succeeded"
) -> dict[str, object]:
    end = NOW - timedelta(hours=hours_ago)
    return {"job_id": job, "status": status, "finished_at": end.isoformat(), "duration_s": duration}


def test_run_health_counts_the_last_day_and_the_rate_over_a_week() -> None:
    runs = [
        run("hourly", h, 10.0)
        for h in range(0, 48)  # 48 kept runs over two days: 24 a day
    ] + [run("daily", 24 * d + 1, 100.0 + d) for d in range(3)]  # 3 over three days
    runs += [run("old", 24 * 9, 999.0), {"job_id": "x", "status": "running", "duration_s": None}]
    health = run_health(runs, NOW)
    assert health["runs_last_24h"] == 26  # hourly at hours 0..24 (both ends count), daily at 1
    assert health["runs_per_day"] == round(48 / (47 / 24) + 3 / ((24 * 2 + 1) / 24), 2)
    durations = sorted([10.0] * 48 + [100.0, 101.0, 102.0])
    assert health["p95_duration_s"] == durations[49 - 1]  # nearest rank of 51: the 49th


def test_run_health_without_runs() -> None:
    assert run_health([], None) == {"runs_last_24h": 0, "runs_per_day": 0.0, "p95_duration_s": None}
    assert run_health([run("a", 1, 5.0)], None)["runs_per_day"] == 1.0
