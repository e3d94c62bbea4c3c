"""What the in-memory executor adds for unit tests: a controllable clock, finishing on command,
and an engine that can be switched off. Its Docker-like behaviour is in test_contract.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.clock import FakeClock
from reconciler.errors import EngineUnavailable, ExecutorError
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.interfaces import RunRequest

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def executor(clock: FakeClock, tmp_path: Path) -> MemoryExecutor:
    return MemoryExecutor(MemoryEngine(clock), state_dir=tmp_path)


def start(executor: MemoryExecutor, run_id: str = "job-1") -> None:
    executor.start(RunRequest(run_id, "job", "schedule", "agent-oven/busybox"))


def test_times_come_from_the_injected_clock(executor: MemoryExecutor, clock: FakeClock) -> None:
    start(executor)
    clock.advance(90)
    run = executor.finish("job-1", 0)
    assert (run.started_at, run.finished_at) == (T0, T0 + timedelta(seconds=90))


def test_finish_takes_an_explicit_time_and_an_oom_kill(executor: MemoryExecutor) -> None:
    start(executor)
    at = datetime(2026, 3, 1, 2, 5, tzinfo=UTC)
    run = executor.finish("job-1", 137, at, oom_killed=True)
    assert (run.finished_at, run.exit_code, run.oom_killed) == (at, 137, True)


def test_finishing_a_run_that_is_not_running_is_refused(executor: MemoryExecutor) -> None:
    start(executor)
    executor.finish("job-1", 0)
    with pytest.raises(ExecutorError, match="not running"):
        executor.finish("job-1", 1)
    with pytest.raises(ExecutorError, match="no container"):
        executor.finish("never-started", 1)


def test_a_stopped_engine_fails_every_call_until_it_is_back(executor: MemoryExecutor) -> None:
    start(executor)
    executor.engine.available = False
    for call in (
        executor.observe,
        lambda: start(executor, "job-2"),
        lambda: executor.stop("job-1"),
    ):
        with pytest.raises(EngineUnavailable) as caught:
            call()
        assert caught.value.hint and "ensure-docker.sh" in caught.value.hint
    executor.engine.available = True
    assert [run.run_id for run in executor.observe()] == ["job-1"]


def test_without_an_image_list_every_image_is_accepted(tmp_path: Path) -> None:
    executor = MemoryExecutor(state_dir=tmp_path)
    executor.start(RunRequest("r", "j", "manual", "anything/at-all:v1"))
    assert executor.observe()[0].image == "anything/at-all:v1"


def test_an_untagged_image_name_means_latest(clock: FakeClock) -> None:
    executor = MemoryExecutor(MemoryEngine(clock, images=["agent-oven/busybox"]))
    executor.start(RunRequest("r1", "j", "manual", "agent-oven/busybox:latest"))
    with pytest.raises(ExecutorError, match="not on this engine"):
        executor.start(RunRequest("r2", "j", "manual", "agent-oven/busybox:v2"))


def test_write_log_needs_a_state_dir() -> None:
    executor = MemoryExecutor()
    executor.start(RunRequest("r", "j", "manual", "img"))
    with pytest.raises(ExecutorError, match="state_dir"):
        executor.write_log("r", "j")
