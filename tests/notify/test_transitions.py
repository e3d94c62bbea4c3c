"""Which events a record step carries (pure; reconciler.transitions), as tables of cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.model import (
    ErrorInfo,
    JobSpec,
    Notifications,
    NotifySettings,
    NotifyTarget,
    RunRecord,
    Schedule,
)
from reconciler.status.changes import CycleReport, JobFacts, ReconcilerFacts
from reconciler.transitions import Event, reconciler_events, run_events, shown

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
JOB = JobSpec(
    id="backup",
    name="Backup",
    type="docker",
    schedule=Schedule(type="interval", every=timedelta(minutes=5)),
    notifications=Notifications(targets=("team-slack",)),
)
SETTINGS = NotifySettings(
    (NotifyTarget("team-slack", "slack", "SLACK_URL"),), reconciler=("team-slack",)
)


def run(minute: int, status: str, **changes: Any) -> RunRecord:
    start = NOW - timedelta(minutes=60 - minute)
    return RunRecord(
        run_id=f"backup-{minute:02d}",
        job_id="backup",
        trigger="schedule",
        status=status,  # type: ignore[arg-type]
        scheduled_for=start,
        started_at=start,
        finished_at=start + timedelta(seconds=30),
        **changes,
    )


def report(history: list[RunRecord], new: list[RunRecord], job: JobSpec = JOB) -> CycleReport:
    facts = JobFacts(job, NOW, None, 0, None, "", (), 1)
    runs = {r.run_id: r for r in history + new}
    return CycleReport(
        now=NOW,
        reconciler=ReconcilerFacts(None, None),
        jobs={job.id: facts},
        runs={job.id: runs},
        dirty=tuple(new),
    )


def kinds(events: tuple[Event, ...]) -> list[tuple[str, str | None]]:
    return [(e.kind, e.run_id) for e in events]


ON_SUCCESS = replace(JOB, notifications=Notifications(("team-slack",), on_success=True))
NO_RECOVERY = replace(JOB, notifications=Notifications(("team-slack",), on_recovery=False))
NO_TARGETS = replace(JOB, notifications=Notifications(()))

CASES = [
    ("a first failure is told", [], [run(1, "failed")], JOB, [("failed", "backup-01")]),
    (
        "a failure after a success is told",
        [run(1, "succeeded")],
        [run(2, "timed_out")],
        JOB,
        [("failed", "backup-02")],
    ),
    (
        "a missed run counts as a failure",
        [run(1, "succeeded")],
        [run(2, "missed")],
        JOB,
        [("failed", "backup-02")],
    ),
    ("a failure while failing is not told again", [run(1, "failed")], [run(2, "failed")], JOB, []),
    (
        "an attempt with a retry planned is not news",
        [run(1, "succeeded")],
        [run(2, "failed", next_retry_at=NOW)],
        JOB,
        [],
    ),
    (
        "an earlier attempt with a retry does not make a failure streak",
        [run(1, "succeeded"), run(2, "failed", next_retry_at=NOW)],
        [run(3, "failed", attempt=2)],
        JOB,
        [("failed", "backup-03")],
    ),
    (
        "a success after a failure is a recovery",
        [run(1, "failed")],
        [run(2, "succeeded")],
        JOB,
        [("recovered", "backup-02")],
    ),
    (
        "a success after a success is quiet by default",
        [run(1, "succeeded")],
        [run(2, "succeeded")],
        JOB,
        [],
    ),
    (
        "onSuccess tells every success",
        [run(1, "succeeded")],
        [run(2, "succeeded")],
        ON_SUCCESS,
        [("succeeded", "backup-02")],
    ),
    (
        "onSuccess still calls a recovery a recovery",
        [run(1, "failed")],
        [run(2, "succeeded")],
        ON_SUCCESS,
        [("recovered", "backup-02")],
    ),
    (
        "onRecovery false stays quiet at recovery",
        [run(1, "failed")],
        [run(2, "succeeded")],
        NO_RECOVERY,
        [],
    ),
    ("a job without targets tells nobody", [], [run(1, "failed")], NO_TARGETS, []),
    (
        "cancelled and skipped runs are not outcomes",
        [run(1, "succeeded")],
        [run(2, "cancelled"), run(3, "skipped")],
        JOB,
        [],
    ),
    (
        "two outcomes in one commit are taken in order",
        [run(1, "succeeded")],
        [run(2, "failed"), run(3, "succeeded")],
        JOB,
        [("failed", "backup-02"), ("recovered", "backup-03")],
    ),
    (
        "a run that ended more than a week ago is old news",
        [],
        [replace(run(1, "failed"), finished_at=NOW - timedelta(days=8))],
        JOB,
        [],
    ),
]


@pytest.mark.parametrize(
    ("history", "new", "job", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_run_events(
    history: list[RunRecord], new: list[RunRecord], job: JobSpec, expected: list[Any]
) -> None:
    assert kinds(run_events(report(history, new, job))) == expected


def test_a_run_event_says_what_happened_and_keys_the_transition() -> None:
    failed = run(
        1, "failed", error=ErrorInfo("ExitCode", "exited with 3", "see the log"), exit_code=3
    )
    (event,) = run_events(report([], [failed]))
    assert event.key == "run/backup-01/failed" and event.targets == ("team-slack",)
    assert event.title == "Backup (backup): failed"
    assert event.text == "Run backup-01 failed: exited with 3 (hint: see the log)"
    assert dict(event.fields)["exit code"] == "3" and dict(event.fields)["duration"] == "30.0s"
    assert Event.from_dict(event.to_dict()) == event


def doc(attempted: str, problems: int = 0, stalled: str | None = None) -> dict[str, Any]:
    conditions = [
        {
            "type": "Stalled",
            "status": "True" if stalled else "False",
            "reason": stalled or "Healthy",
            "message": "claude login expired",
            "last_transition": "2026-03-01T11:00:00Z",
        }
    ]
    return {
        "attempted_revision": attempted,
        "conditions": conditions,
        "problems": [
            {"path": "jobs/a.yaml", "line": n + 1, "field": "cron", "message": "bad"}
            for n in range(problems)
        ],
    }


REVISION = "b" * 40
RECONCILER_CASES = [
    (
        "a new revision with problems is a bad commit",
        doc("a" * 40),
        doc(REVISION, 2),
        SETTINGS,
        [f"reconciler/revision/{REVISION}/problems"],
    ),
    ("the same revision again is not", doc(REVISION, 2), doc(REVISION, 2), SETTINGS, []),
    ("a new revision without problems is not", doc("a" * 40, 1), doc(REVISION), SETTINGS, []),
    (
        "turning Stalled is told",
        doc(REVISION),
        doc(REVISION, stalled="AuthError"),
        SETTINGS,
        ["reconciler/stalled/AuthError/2026-03-01T11:00:00Z"],
    ),
    (
        "staying Stalled is not",
        doc(REVISION, stalled="AuthError"),
        doc(REVISION, stalled="AuthError"),
        SETTINGS,
        [],
    ),
    (
        "no reconciler targets: nothing",
        doc("a" * 40),
        doc(REVISION, 2),
        NotifySettings(SETTINGS.targets, ()),
        [],
    ),
    (
        "unknown targets (a broken oven.yaml from the start): nothing",
        doc("a" * 40),
        doc(REVISION, 2),
        None,
        [],
    ),
]


@pytest.mark.parametrize(
    ("before", "after", "settings", "keys"),
    [case[1:] for case in RECONCILER_CASES],
    ids=[case[0] for case in RECONCILER_CASES],
)
def test_reconciler_events(
    before: dict[str, Any], after: dict[str, Any], settings: Any, keys: list[str]
) -> None:
    events = reconciler_events(after, before, settings, NOW)
    assert [e.key for e in events] == keys
    assert all(e.targets == ("team-slack",) for e in events)


def test_a_bad_commit_lists_its_problems_as_file_line_field_message() -> None:
    (event,) = reconciler_events(doc(REVISION, 12), doc("a" * 40), SETTINGS, NOW)
    lines = event.text.splitlines()
    assert lines[0] == "jobs/a.yaml:1: cron: bad" and lines[-1] == "... and 2 more"
    assert event.title == f"Revision {REVISION[:12]} has 12 manifest problem(s)"


SHOWN_CASES = [
    ("the bad commit's revision with problems", doc(REVISION, 2), doc(REVISION, 2), True),
    ("another revision: its commit was not made", doc(REVISION, 2), doc("c" * 40, 2), False),
    ("the revision without problems", doc(REVISION, 2), doc(REVISION), False),
    ("Stalled since the same time", doc(REVISION, stalled="AuthError"), None, True),
    (
        "Stalled for another reason",
        doc(REVISION, stalled="AuthError"),
        doc(REVISION, stalled="ConfigError"),
        False,
    ),
    (
        "Stalled since another time: a later stall",
        doc(REVISION, stalled="AuthError"),
        {
            **doc(REVISION),
            "conditions": [
                {
                    "type": "Stalled",
                    "status": "True",
                    "reason": "AuthError",
                    "last_transition": "2026-03-01T11:30:00Z",
                }
            ],
        },
        False,
    ),
    ("not Stalled", doc(REVISION, stalled="AuthError"), doc(REVISION), False),
]


@pytest.mark.parametrize(
    ("told", "branch", "carried"),
    [case[1:] for case in SHOWN_CASES],
    ids=[case[0] for case in SHOWN_CASES],
)
def test_a_held_reconciler_event_is_shown_by_the_reconciler_yaml_its_commit_wrote(
    told: dict[str, Any], branch: dict[str, Any] | None, carried: bool
) -> None:
    (event,) = reconciler_events(told, doc("a" * 40), SETTINGS, NOW)
    assert shown(event, told if branch is None else branch) is carried
