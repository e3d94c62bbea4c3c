"""The executor contract: every executor (the real Docker engine, a one-node Docker Swarm, the
in-memory one) passes it.

Each test runs once per implementation through the ``harness`` fixture; a run ends when the
test says so (``harness.finish``), on a real engine by an exit code the container reads. A run
on a swarm counts as running from its start, while the swarm still places its task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from reconciler.errors import ExecutorError, RunAlreadyExists
from reconciler.executors.logfiles import read_log
from reconciler.interfaces import ObservedRun
from reconciler.secrets import Redactor

from .conftest import Harness, new_run_id


def observed(harness: Harness, run_id: str) -> ObservedRun | None:
    matches = [run for run in harness.executor.observe() if run.run_id == run_id]
    assert len(matches) <= 1
    return matches[0] if matches else None


@pytest.mark.parametrize("exit_code", [0, 3])
def test_a_started_run_is_observed_running_then_exited_with_its_code(
    harness: Harness, exit_code: int
) -> None:
    run_id = new_run_id()
    nominal = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    started = harness.executor.start(
        harness.request(run_id, trigger="schedule", scheduled_for=nominal, config_revision="abc1")
    )
    assert (started.run_id, started.job_id, started.state) == (run_id, "contract", "running")
    running = observed(harness, run_id)
    assert running is not None and running.is_running
    assert (running.trigger, running.scheduled_for, running.config_revision) == (
        "schedule",
        nominal,
        "abc1",
    )
    assert running.exit_code is None and running.finished_at is None

    harness.finish(run_id, exit_code)

    done = observed(harness, run_id)
    assert done is not None and done.state == "exited" and not done.is_running
    assert done.exit_code == exit_code
    assert done.started_at is not None and done.finished_at is not None
    assert done.finished_at >= done.started_at


def test_the_same_run_id_twice_raises_run_already_exists(harness: Harness) -> None:
    run_id = new_run_id()
    harness.executor.start(harness.request(run_id))
    with pytest.raises(RunAlreadyExists) as caught:
        harness.executor.start(harness.request(run_id))
    assert run_id in caught.value.message
    running = observed(harness, run_id)
    assert running is not None and running.is_running


def test_a_run_id_is_unique_across_instances_of_one_engine(harness: Harness) -> None:
    run_id = new_run_id()
    harness.executor.start(harness.request(run_id))
    with pytest.raises(RunAlreadyExists):
        harness.other.start(harness.request(run_id))


def test_stop_kills_a_running_run_and_is_quiet_afterwards(harness: Harness) -> None:
    run_id = new_run_id()
    harness.executor.start(harness.request(run_id))
    harness.executor.stop(run_id)
    stopped = observed(harness, run_id)
    assert stopped is not None and stopped.state == "exited"
    assert stopped.exit_code == 137  # 128 + SIGKILL
    harness.executor.stop(run_id)  # already stopped: no error
    harness.executor.stop(new_run_id("never-started"))  # never existed: no error


def test_remove_forgets_the_run_and_is_quiet_when_gone(harness: Harness) -> None:
    run_id = new_run_id()
    harness.executor.start(harness.request(run_id))
    harness.finish(run_id, 0)
    harness.executor.remove(run_id)
    assert observed(harness, run_id) is None
    harness.executor.remove(run_id)
    with pytest.raises(ExecutorError, match="no container for run"):
        harness.executor.logs(run_id)


def test_observe_sees_only_its_own_instance(harness: Harness) -> None:
    mine, theirs = new_run_id("mine"), new_run_id("theirs")
    harness.executor.start(harness.request(mine))
    harness.other.start(harness.request(theirs))
    assert [run.run_id for run in harness.executor.observe()] == [mine]
    assert [run.run_id for run in harness.other.observe()] == [theirs]


def test_labels_carry_the_run_identity_back(harness: Harness) -> None:
    run_id, first = new_run_id(), new_run_id("first")
    long_key = "k" * 200
    harness.executor.start(
        harness.request(
            run_id, trigger="retry", attempt=2, retry_of=first, idempotency_key=long_key
        )
    )
    run = observed(harness, run_id)
    assert run is not None
    assert (run.trigger, run.attempt, run.retry_of) == ("retry", 2, first)
    assert run.idempotency_key is not None and run.idempotency_key.startswith("sha256:")
    assert run.image == "agent-oven/busybox:latest"


def test_logs_are_captured_and_written_redacted(harness: Harness) -> None:
    run_id = new_run_id()
    harness.executor.start(harness.request(run_id))
    harness.emit(run_id, "token=hunter2 and more")
    harness.finish(run_id, 0)
    assert b"token=hunter2 and more" in harness.executor.logs(run_id)

    path = harness.executor.write_log(
        run_id, "contract", redact=lambda s: s.replace("hunter2", "***")
    )

    assert path == harness.state_dir / "logs" / "contract" / f"{run_id}.log"
    assert "token=*** and more" in path.read_text()
    assert "hunter2" not in path.read_text()


def test_logs_since_gives_only_the_output_after_an_offset(harness: Harness) -> None:
    run_id = new_run_id()
    harness.executor.start(harness.request(run_id))
    harness.emit(run_id, "Stage: one - STARTED")
    first = harness.executor.logs_since(run_id, 0)
    assert first == b"Stage: one - STARTED\n"
    harness.emit(run_id, "Stage: two - STARTED")
    assert harness.executor.logs_since(run_id, len(first)) == b"Stage: two - STARTED\n"
    harness.finish(run_id, 0)
    whole = harness.executor.logs(run_id)
    assert harness.executor.logs_since(run_id, len(whole)) == b""


def test_image_labels_are_read_without_starting_anything(harness: Harness) -> None:
    found = harness.executor.image_labels("agent-oven/busybox")
    assert found["org.opencontainers.image.title"] == "agent-oven/busybox"
    with pytest.raises(ExecutorError) as caught:
        harness.executor.image_labels("agent-oven/no-such-image:latest")
    assert "agent-oven/no-such-image" in caught.value.message
    assert caught.value.hint is not None and "make images" in caught.value.hint


def test_a_missing_image_is_an_executor_error_with_a_hint(harness: Harness) -> None:
    run_id = new_run_id()
    with pytest.raises(ExecutorError) as caught:
        harness.executor.start(harness.request(run_id, image="agent-oven/no-such-image:latest"))
    assert "agent-oven/no-such-image" in caught.value.message
    assert caught.value.hint is not None and "make images" in caught.value.hint
    assert observed(harness, run_id) is None


@pytest.mark.parametrize(
    "change",
    [
        {"volumes": ("relative/dir:/data",)},
        {"volumes": ("/srv:/data:rx",)},
        {"memory": "lots"},
        {"cpus": 0.0},
    ],
    ids=["relative-bind-source", "unknown-volume-mode", "bad-memory", "zero-cpus"],
)
def test_bad_requests_are_refused_before_anything_starts(
    harness: Harness, change: dict[str, object]
) -> None:
    run_id = new_run_id()
    with pytest.raises(ExecutorError) as caught:
        harness.executor.start(harness.request(run_id, **change))
    assert caught.value.hint
    assert observed(harness, run_id) is None


def test_stop_kills_a_run_that_is_running_and_keeps_its_output(harness: Harness) -> None:
    run_id = new_run_id()
    harness.executor.start(harness.request(run_id))
    harness.wait_running(run_id)
    harness.emit(run_id, "before the kill")
    harness.executor.stop(run_id)
    stopped = observed(harness, run_id)
    assert stopped is not None and (stopped.state, stopped.exit_code) == ("exited", 137)
    assert b"before the kill" in harness.executor.logs(run_id)


def test_a_restarted_executor_adopts_a_running_run_and_can_end_it(harness: Harness) -> None:
    run_id = new_run_id()
    harness.executor.start(harness.request(run_id, trigger="schedule", attempt=1))
    harness.wait_running(run_id)
    restarted = harness.restarted()
    try:
        [run] = [run for run in restarted.observe() if run.run_id == run_id]
        assert (run.state, run.job_id, run.trigger) == ("running", "contract", "schedule")
        restarted.stop(run_id)
        [run] = [run for run in restarted.observe() if run.run_id == run_id]
        assert (run.state, run.exit_code) == ("exited", 137)
        restarted.remove(run_id)
        assert observed(harness, run_id) is None
    finally:
        restarted.close()


def test_a_secret_reaches_the_command_and_no_saved_log(harness: Harness) -> None:
    if not harness.runs_commands:
        pytest.skip("the memory engine runs no command")
    run_id = new_run_id()
    value = "s3cret-" + run_id
    request = harness.request(
        run_id,
        command=("sh", "-c", 'echo "token=$TOKEN plain=$PLAIN"'),
        env={"TOKEN": value, "PLAIN": "visible"},
        secret_env=("TOKEN",),
    )
    harness.executor.start(request)
    wait_ended(harness, run_id)
    assert f"token={value} plain=visible".encode() in harness.executor.logs(run_id)
    path = harness.executor.write_log(run_id, "contract", redact=lambda s: s.replace(value, "***"))
    assert "token=*** plain=visible" in path.read_text()
    assert value not in path.read_text()


def wait_ended(harness: Harness, run_id: str, timeout: float = 60) -> ObservedRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = observed(harness, run_id)
        if run is not None and not run.is_running:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end in {timeout}s")
def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_follow_log_streams_redacted_output_while_the_run_runs(harness: Harness) -> None:
    run_id = new_run_id()
    harness.executor.start(harness.request(run_id))
    redact = Redactor(["hunter2-secret"])
    harness.executor.follow_log(run_id, "contract", redact)
    harness.executor.follow_log(run_id, "contract", redact)  # idempotent: one follower
    harness.emit(run_id, "first line token=hunter2-secret")
    _wait_for(lambda: b"first line" in read_log(harness.state_dir, "contract", run_id, 0).data)
    chunk = read_log(harness.state_dir, "contract", run_id, 0)
    assert not chunk.final and b"hunter2" not in chunk.data
    harness.emit(run_id, "second line")
    _wait_for(lambda: read_log(harness.state_dir, "contract", run_id, chunk.offset).data != b"")
    assert read_log(harness.state_dir, "contract", run_id, chunk.offset).data.startswith(b"second")

    harness.finish(run_id, 0)
    harness.executor.followers.wait(run_id, 20)
    harness.executor.write_log(run_id, "contract", redact)
    done = read_log(harness.state_dir, "contract", run_id, 0)
    assert done.final and done.data == b"first line token=***\nsecond line\n"
    assert not (harness.state_dir / "logs" / "contract" / f"{run_id}.live").exists()
