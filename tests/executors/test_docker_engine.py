"""What only the real Docker engine can show: limits, labels, mounts and security options as the
engine stored them, real exit codes and output, and the errors of a stopped engine.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from reconciler.errors import EngineUnavailable, ExecutorError
from reconciler.executors import labels
from reconciler.executors.docker import DockerExecutor
from reconciler.interfaces import ObservedRun, RunRequest
from reconciler.runids import container_name

from .conftest import BASE_TASKS, BUSYBOX, new_run_id

pytestmark = pytest.mark.docker


def request(run_id: str, *command: str, **changes: Any) -> RunRequest:
    fields: dict[str, Any] = {"job_id": "engine", "trigger": "manual", "image": BUSYBOX}
    return RunRequest(run_id=run_id, command=command, **{**fields, **changes})


def run_to_end(
    executor: DockerExecutor, client: docker.DockerClient, req: RunRequest
) -> ObservedRun:
    executor.start(req)
    client.api.wait(container_name(req.run_id), timeout=30)
    [run] = [run for run in executor.observe() if run.run_id == req.run_id]
    return run


def inspect(client: docker.DockerClient, run_id: str) -> dict[str, object]:
    return dict(client.api.inspect_container(container_name(run_id)))


def test_a_command_exiting_3_is_recorded_with_exit_code_3(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    run = run_to_end(docker_executor, docker_client, request(new_run_id(), "sh", "-c", "exit 3"))
    assert (run.state, run.exit_code, run.oom_killed) == ("exited", 3, False)


# Fills a shell variable with 200 MiB: far past a 16 MiB limit (and its swap), in well under 1 s.
EAT_MEMORY = ("sh", "-c", 'x=$(head -c 200m /dev/zero | tr "\\0" x)')


def test_a_container_over_its_memory_limit_is_observed_oom_killed(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    run = run_to_end(
        docker_executor, docker_client, request(new_run_id(), *EAT_MEMORY, memory="16m")
    )
    assert (run.state, run.exit_code, run.oom_killed) == ("exited", 137, True)


def test_the_example_image_fails_with_the_code_it_is_given(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    req = request(new_run_id(), "fail-with", "4", image=BASE_TASKS)
    run = run_to_end(docker_executor, docker_client, req)
    assert run.exit_code == 4
    assert b"fail-with: exiting with code 4" in docker_executor.logs(req.run_id)


def test_memory_and_cpu_limits_reach_the_engine(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    run_id = new_run_id()
    docker_executor.start(request(run_id, "true", memory="64m", cpus=0.5))
    host_config = inspect(docker_client, run_id)["HostConfig"]
    assert isinstance(host_config, dict)
    assert host_config["Memory"] == 64 * 1024 * 1024
    assert host_config["NanoCpus"] == 500_000_000


def test_the_container_is_not_privileged_and_cannot_gain_privileges(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    run_id = new_run_id()
    docker_executor.start(request(run_id, "true"))
    host_config = inspect(docker_client, run_id)["HostConfig"]
    assert isinstance(host_config, dict)
    assert host_config["Privileged"] is False
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    assert not host_config.get("CapAdd")
    assert not host_config.get("AutoRemove")


def test_every_label_is_on_the_container(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    run_id, first = new_run_id(), new_run_id("first")
    req = request(
        run_id,
        "true",
        trigger="retry",
        attempt=2,
        retry_of=first,
        config_revision="c0ffee",
        idempotency_key="short-key",
    )
    docker_executor.start(req)
    found = docker_client.containers.get(container_name(run_id)).labels
    expected = {
        labels.MANAGED: "true",
        labels.INSTANCE: docker_executor.instance,
        labels.JOB: "engine",
        labels.RUN: run_id,
        labels.TRIGGER: "retry",
        labels.REVISION: "c0ffee",
        labels.ATTEMPT: "2",
        labels.RETRY_OF: first,
        labels.IDEMPOTENCY_KEY: "short-key",
    }
    assert {key: found.get(key) for key in expected} == expected
    assert labels.SCHEDULED_FOR not in found  # not set on the request, so not labelled


def test_env_reaches_the_command_with_the_run_identity(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    req = request(new_run_id(), "sh", "-c", "env", env={"GREETING": "hello there"})
    run_to_end(docker_executor, docker_client, req)
    output = docker_executor.logs(req.run_id).decode()
    assert "GREETING=hello there" in output
    assert f"OVEN_RUN_ID={req.run_id}" in output and "OVEN_JOB_ID=engine" in output


def test_stdout_and_stderr_are_written_to_the_log_file(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    req = request(new_run_id(), "sh", "-c", "echo to-stdout; echo to-stderr >&2")
    run_to_end(docker_executor, docker_client, req)
    path = docker_executor.write_log(req.run_id, "engine")
    assert path == docker_executor.state_dir / "logs" / "engine" / f"{req.run_id}.log"
    assert set(path.read_text().splitlines()) == {"to-stdout", "to-stderr"}


def test_a_read_only_bind_mount_is_readable_and_not_writable(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "input.txt").write_text("from the host\n")
    script = "cat /data/input.txt; if touch /data/new 2>/dev/null; then exit 9; fi"
    req = request(new_run_id(), "sh", "-c", script, volumes=(f"{shared}:/data:ro",))
    run = run_to_end(docker_executor, docker_client, req)
    assert run.exit_code == 0
    assert docker_executor.logs(req.run_id) == b"from the host\n"
    assert not (shared / "new").exists()


@pytest.fixture
def named_volume(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"oven-test-{uuid.uuid4().hex[:10]}"
    docker_client.volumes.create(name, labels={labels.MANAGED: "test"})
    yield name
    docker_client.volumes.get(name).remove(force=True)


def test_a_named_volume_keeps_data_between_runs(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient, named_volume: str
) -> None:
    mount = (f"{named_volume}:/cache",)
    write = request(new_run_id(), "sh", "-c", "echo kept > /cache/file", volumes=mount)
    read = request(new_run_id(), "cat", "/cache/file", volumes=mount)
    assert run_to_end(docker_executor, docker_client, write).exit_code == 0
    assert run_to_end(docker_executor, docker_client, read).exit_code == 0
    assert docker_executor.logs(read.run_id) == b"kept\n"
    docker_executor.remove(write.run_id)
    docker_executor.remove(read.run_id)


def test_a_missing_bind_source_is_refused_not_created(
    docker_executor: DockerExecutor, tmp_path: Path
) -> None:
    missing = tmp_path / "not-there"
    with pytest.raises(ExecutorError, match="not-there"):
        docker_executor.start(request(new_run_id(), "true", volumes=(f"{missing}:/data",)))
    assert not missing.exists()


def test_a_command_missing_from_the_image_fails_to_start_and_leaves_nothing(
    docker_executor: DockerExecutor,
) -> None:
    run_id = new_run_id()
    with pytest.raises(ExecutorError) as caught:
        docker_executor.start(request(run_id, "no-such-command"))
    assert "no-such-command" in caught.value.message
    assert caught.value.hint
    assert docker_executor.observe() == []


def test_a_restarted_reconciler_adopts_a_running_container(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    run_id = new_run_id()
    docker_executor.start(request(run_id, "sleep", "30"))
    restarted = DockerExecutor(
        state_dir=docker_executor.state_dir, instance=docker_executor.instance
    )
    try:
        [run] = restarted.observe()
        assert (run.run_id, run.state, run.job_id) == (run_id, "running", "engine")
        restarted.stop(run_id)
        assert restarted.observe()[0].exit_code == 137
    finally:
        restarted.close()


# docker-py leaks the socket of a failed unix connect (open upstream fix: docker/docker-py#3356);
# that ResourceWarning is the SDK's, not ours, and only this test provokes it on purpose.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_stopped_engine_is_engine_unavailable_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    executor = DockerExecutor(state_dir=tmp_path, instance="unreachable")
    hints = [
        unavailable_hint(executor.observe),
        unavailable_hint(lambda: executor.start(request(new_run_id(), "true"))),
        unavailable_hint(executor.engine_version),
    ]
    assert all("ensure-docker.sh" in hint for hint in hints)
    gc.collect()  # let the SDK's leaked sockets be reported while the filters above apply


def unavailable_hint(call: Callable[[], object]) -> str:
    with pytest.raises(EngineUnavailable) as caught:
        call()
    return caught.value.hint or ""


def test_engine_version_answers(docker_executor: DockerExecutor) -> None:
    assert docker_executor.engine_version()[0].isdigit()
