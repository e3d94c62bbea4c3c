"""The recorder tells its listeners of every record step, once, with reconciler.yaml as it was
before; a listener's bug never fails the record step (in-memory ledger: pure bookkeeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.ledger.memory import MemoryLedger
from reconciler.model import JobSpec, Notifications, RunRecord, Schedule
from reconciler.recorder import Recorded, Recorder
from reconciler.status.changes import CycleReport, JobFacts, ReconcilerFacts
from reconciler.telemetry import Telemetry
from reconciler.transitions import run_events

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
JOB = JobSpec(
    id="backup",
    name="Backup",
    type="docker",
    schedule=Schedule(type="interval", every=timedelta(minutes=5)),
    notifications=Notifications(targets=("team-slack",)),
)


def report(*dirty: RunRecord, attempted: str = "a" * 40) -> CycleReport:
    facts = JobFacts(JOB, NOW, None, 0, None, "", (), len(dirty))
    return CycleReport(
        now=NOW,
        reconciler=ReconcilerFacts(attempted, attempted),
        jobs={"backup": facts},
        runs={"backup": {r.run_id: r for r in dirty}},
        dirty=dirty,
    )


FAILED = RunRecord(
    "backup-1",
    "backup",
    "schedule",
    "failed",
    scheduled_for=NOW,
    started_at=NOW,
    finished_at=NOW + timedelta(seconds=5),
    exit_code=1,
)


def test_listeners_hear_each_record_step_with_the_document_before_it() -> None:
    heard: list[tuple[bool, str | None, list[str]]] = []

    def listener(rep: CycleReport, recorded: Recorded, before: Any) -> None:
        heard.append(
            (
                recorded.committed,
                before.get("attempted_revision"),
                [e.key for e in run_events(rep)] if recorded.committed else [],
            )
        )

    recorder = Recorder(MemoryLedger(), heartbeat=60)
    recorder.listeners.append(listener)
    recorder.record(report(FAILED), "a" * 40)
    recorder.record(report(attempted="b" * 40), "b" * 40)
    assert heard == [
        (True, None, ["run/backup-1/failed"]),
        (True, "a" * 40, []),  # a new attempted revision: heard with the one before
    ]


def test_a_failing_listener_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    telemetry = Telemetry()

    def broken(*args: Any) -> None:
        raise RuntimeError("a bug in a listener")

    recorder = Recorder(MemoryLedger(), heartbeat=60)
    recorder.listeners += [broken, telemetry.listen]
    recorded = recorder.record(report(FAILED), None)
    recorder.record(report(FAILED), None)  # written again: the run is counted once
    assert recorded.committed and recorded.error is None
    assert "a status commit listener failed" in caplog.text
    value = telemetry.registry.get_sample_value(
        "oven_runs_finished_total", {"job": "backup", "outcome": "failed"}
    )
    assert value == 1.0
    assert telemetry.registry.get_sample_value("oven_status_commits_total") == 2.0


def test_a_status_push_that_fails_is_counted_and_its_runs_are_not() -> None:
    telemetry = Telemetry()
    ledger = MemoryLedger(attempts=1)
    ledger.reject_next(lambda: ledger.external_write({"status/other.yaml": b"x"}))
    recorder = Recorder(ledger, heartbeat=60)
    recorder.listeners.append(telemetry.listen)
    failed = recorder.record(report(FAILED), None)
    assert failed.error is not None and not failed.committed
    assert telemetry.registry.get_sample_value("oven_status_push_failures_total") == 1.0
    counted = {"job": "backup", "outcome": "failed"}
    assert telemetry.registry.get_sample_value("oven_runs_finished_total", counted) is None
    assert recorder.record(report(FAILED), None).committed  # the next try goes through
    assert telemetry.registry.get_sample_value("oven_runs_finished_total", counted) == 1.0
    assert telemetry.registry.get_sample_value("oven_status_push_failures_total") == 1.0
