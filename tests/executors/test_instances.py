"""Two reconciler instances on one engine never touch each other's containers.

Run ids (and so container names) can collide across instances: two config repos with a job
of the same id fire at the same second. Runs on the real Docker engine, a one-node swarm and
the in-memory one (the ``harness`` fixture of conftest.py).
"""

from __future__ import annotations

import pytest
from executors.conftest import new_run_id

from reconciler.errors import ExecutorError

pytestmark = pytest.mark.docker


def test_stop_remove_and_logs_leave_another_instances_container_alone(harness) -> None:
    theirs = new_run_id("shared")
    harness.other.start(harness.request(theirs))

    harness.executor.stop(theirs)
    harness.executor.remove(theirs)
    with pytest.raises(ExecutorError, match="no container"):
        harness.executor.logs(theirs)

    [run] = harness.other.observe()
    assert (run.run_id, run.state) == (theirs, "running")
    assert harness.executor.observe() == []
    harness.other.stop(theirs)
    harness.other.remove(theirs)
    assert harness.other.observe() == []


def test_each_instance_sees_and_ends_only_its_own_runs(harness) -> None:
    ours, theirs = new_run_id("ours"), new_run_id("theirs")
    harness.executor.start(harness.request(ours))
    harness.other.start(harness.request(theirs))

    assert [run.run_id for run in harness.executor.observe()] == [ours]
    assert [run.run_id for run in harness.other.observe()] == [theirs]
    harness.executor.stop(ours)
    harness.executor.remove(ours)

    assert harness.executor.observe() == []
    assert [run.state for run in harness.other.observe()] == ["running"]
    harness.other.stop(theirs)
    harness.other.remove(theirs)
