"""Settling one container, as a table of rules (the docstring of reconciler/settle.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.interfaces import ObservedRun
from reconciler.manifests import parse_job
from reconciler.model import JobSpec, RunRecord
from reconciler.settle import Action, classify, vanished

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
STARTED = NOW - timedelta(seconds=100)


def make_job(timeout: int | None = None) -> JobSpec:
    resources = f"resources: {{timeout: {timeout}}}\n" if timeout else ""
    text = (
        "id: job\nname: Job\ntype: docker\nimage: busybox\n"
        f"schedule: {{type: interval, every: 1m}}\n{resources}"
    )
    job, problems = parse_job("jobs/job.yaml", text.encode())
    assert job is not None and not problems, problems
    return job


def record(status: str) -> RunRecord:
    return RunRecord(
        run_id="job-1", job_id="job", trigger="schedule", status=status, started_at=STARTED
    )  # type: ignore[arg-type]


def container(state: str) -> ObservedRun:
    return ObservedRun(run_id="job-1", job_id="job", state=state, started_at=STARTED)  # type: ignore[arg-type]


WITHIN = make_job(timeout=3600)
PAST = make_job(timeout=60)

# (book record, container state, job, config loaded) -> (adopt, action)
RULES = [
    pytest.param(None, "running", WITHIN, True, True, Action.KEEP, id="unknown-running-adopt"),
    pytest.param(None, "exited", WITHIN, True, True, Action.FINISH, id="unknown-exited-adopt"),
    pytest.param(None, "created", WITHIN, True, True, Action.FINISH, id="unknown-created-adopt"),
    pytest.param(None, "running", None, True, True, Action.STOP_REMOVED, id="unknown-removed"),
    pytest.param(None, "running", PAST, True, True, Action.TIME_OUT, id="unknown-timed-out"),
    pytest.param("running", "running", WITHIN, True, False, Action.KEEP, id="keep"),
    pytest.param("succeeded", "running", WITHIN, True, False, Action.LEAVE, id="stop-asked"),
    pytest.param("cancelled", "running", None, True, False, Action.LEAVE, id="final-removed"),
    pytest.param("running", "running", None, True, False, Action.STOP_REMOVED, id="job-removed"),
    pytest.param("running", "running", None, False, False, Action.KEEP, id="no-config-yet"),
    pytest.param("running", "running", PAST, True, False, Action.TIME_OUT, id="timed-out"),
    pytest.param("running", "exited", WITHIN, True, False, Action.FINISH, id="finish"),
    pytest.param("running", "exited", None, True, False, Action.FINISH, id="finish-removed"),
    pytest.param("running", "dead", WITHIN, True, False, Action.FINISH, id="finish-dead"),
    pytest.param("running", "created", WITHIN, True, False, Action.FINISH, id="never-started"),
    pytest.param("failed", "exited", WITHIN, True, False, Action.RECORDED, id="recorded"),
    pytest.param("succeeded", "dead", None, True, False, Action.RECORDED, id="recorded-removed"),
]


@pytest.mark.parametrize(("status", "state", "job", "loaded", "adopt", "action"), RULES)
def test_each_rule(
    status: str | None,
    state: str,
    job: JobSpec | None,
    loaded: bool,
    adopt: bool,
    action: Action,
) -> None:
    known = record(status) if status else None
    settlement = classify(known, container(state), job, config_loaded=loaded, now=NOW)
    assert (settlement.adopt, settlement.action) == (adopt, action)
    assert settlement.removable == (action is not Action.LEAVE)


def test_every_action_is_reachable_in_the_table() -> None:
    reached = {param.values[-1] for param in RULES}
    assert reached == set(Action)


def test_runs_without_a_container_have_vanished() -> None:
    first, second = record("running"), record("running").with_changes(run_id="job-2")
    seen = container("running")  # job-1's container
    assert vanished([first, second], [seen]) == [second]
    assert vanished([first, second], [seen, ObservedRun("job-2", "job", "exited")]) == []
