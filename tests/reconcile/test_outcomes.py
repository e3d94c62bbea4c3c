"""outcome() as a table: how what a container did becomes a run status and an error class.

The same classes on the real engine (a container really killed for memory, one created and
never started) are in tests/scenarios/test_run_outcomes.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.interfaces import ContainerState, ObservedRun
from reconciler.model import JobSpec, Resources, Schedule
from reconciler.outcomes import outcome

STARTED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LIMITED = JobSpec(
    "limited", "limited", "docker", Schedule("manual"), resources=Resources(60, "16m")
)


@dataclass(frozen=True)
class Case:
    name: str
    exit_code: int | None
    status: str
    error: str | None
    state: ContainerState = "exited"
    lived: float = 5.0  # seconds between start and finish
    oom_killed: bool = False
    job: JobSpec | None = LIMITED


CASES = [
    Case("exit code 0 succeeds", 0, "succeeded", None),
    Case("a nonzero exit fails with NonZeroExit", 3, "failed", "NonZeroExit"),
    Case(
        "killed by the kernel for memory fails with OutOfMemory",
        137,
        "failed",
        "OutOfMemory",
        oom_killed=True,
    ),
    Case(
        "out of memory is OutOfMemory even when the job left the config",
        137,
        "failed",
        "OutOfMemory",
        oom_killed=True,
        job=None,
    ),
    Case("137 without the engine's OOM flag is a plain NonZeroExit", 137, "failed", "NonZeroExit"),
    Case(
        "killed after living past the timeout is timed_out, even if it was also OOM",
        137,
        "timed_out",
        "Timeout",
        lived=61,
        oom_killed=True,
    ),
    Case(
        "a container created but never started fails with NeverStarted",
        None,
        "failed",
        "NeverStarted",
        state="created",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_outcome(case: Case) -> None:
    observed = ObservedRun(
        run_id="limited-1",
        job_id="limited",
        state=case.state,
        exit_code=case.exit_code,
        started_at=None if case.state == "created" else STARTED,
        finished_at=None if case.state == "created" else STARTED + timedelta(seconds=case.lived),
        oom_killed=case.oom_killed,
    )
    status, error = outcome(case.job, observed)
    assert (status, error.cls if error else None) == (case.status, case.error)
    if error is not None:
        assert error.message and error.hint, "every error says what happened and what to do"


def test_out_of_memory_names_the_limit_and_how_to_raise_it() -> None:
    observed = ObservedRun("limited-1", "limited", "exited", exit_code=137, oom_killed=True)
    _, error = outcome(LIMITED, observed)
    assert error is not None and "16m" in error.message
    assert "resources.memory" in error.hint
