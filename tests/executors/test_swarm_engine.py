"""What only a real swarm can show: the service spec as the swarm stored it (limits, labels,
capabilities, secrets kept out of it), OOM kills and failed starts read from tasks, the stop of
a run on another node (a tombstone), and the clean-up of secrets a crash left behind.

The swarm is this engine made a one-node swarm by the session (``one_node_swarm``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from support import swarm

from reconciler.errors import EngineUnavailable, ExecutorError, RunAlreadyExists
from reconciler.executors import labels
from reconciler.executors import swarm as swarm_executor
from reconciler.executors.swarm import SwarmExecutor, service_name
from reconciler.interfaces import ObservedRun, RunRequest

from .conftest import BUSYBOX, WAIT_FOR_FINISH, SwarmHarness, new_run_id

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

# Fills a shell variable with 200 MiB: far past a 16 MiB limit, in well under 1 s.
EAT_MEMORY = ("sh", "-c", 'x=$(head -c 200m /dev/zero | tr "\\0" x)')


@pytest.fixture
def harness(
    images: dict[str, str],
    docker_client: docker.DockerClient,
    one_node_swarm: bool,
    instance: str,
    tmp_path: Path,
) -> Iterator[SwarmHarness]:
    try:
        yield SwarmHarness(docker_client, instance, tmp_path)
    finally:
        swarm.remove_runs(docker_client, instance)


def request(run_id: str, *command: str, **changes: Any) -> RunRequest:
    fields: dict[str, Any] = {"job_id": "engine", "trigger": "manual", "image": BUSYBOX}
    return RunRequest(run_id=run_id, command=command, **{**fields, **changes})


def run_to_end(harness: SwarmHarness, req: RunRequest, timeout: float = 60) -> ObservedRun:
    harness.executor.start(req)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [run for run in harness.executor.observe() if run.run_id == req.run_id]
        if runs and not runs[0].is_running:
            return runs[0]
        time.sleep(0.05)
    raise AssertionError(f"run {req.run_id} did not end")


def spec(client: docker.DockerClient, run_id: str) -> dict[str, Any]:
    return dict(client.api.inspect_service(service_name(run_id))["Spec"])


def test_limits_labels_and_capabilities_reach_the_service(harness: SwarmHarness) -> None:
    run_id = new_run_id()
    harness.executor.start(
        request(run_id, "true", memory="64m", cpus=0.5, pids=77, capabilities=("CHOWN",))
    )
    found = spec(harness.client, run_id)
    limits = found["TaskTemplate"]["Resources"]["Limits"]
    assert (limits["MemoryBytes"], limits["NanoCPUs"], limits["Pids"]) == (64 << 20, 5 * 10**8, 77)
    container = found["TaskTemplate"]["ContainerSpec"]
    assert (container["CapabilityDrop"], container["CapabilityAdd"]) == (["ALL"], ["CHOWN"])
    assert found["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    assert found["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
    for where in (found["Labels"], container["Labels"]):
        assert where[labels.RUN] == run_id and where[labels.INSTANCE] == harness.executor.instance


def test_a_secret_is_a_swarm_secret_of_the_run_and_never_in_the_spec(
    harness: SwarmHarness,
) -> None:
    run_id = new_run_id()
    value = "hunter2-" + run_id
    req = request(
        run_id,
        "sh",
        "-c",
        'printf "%s|" "$TOKEN"; env | grep -c OVEN_SECRET_ENV || true',
        env={"TOKEN": value + "\n"},
        secret_env=("TOKEN",),
    )
    run = run_to_end(harness, req)
    assert run.exit_code == 0
    # the value arrives whole (trailing newline kept); the shim's own variable is gone
    assert harness.executor.logs(run_id) == (value + "\n|0\n").encode()
    assert value not in str(harness.client.api.inspect_service(service_name(run_id)))
    mine = [f"{labels.RUN}={run_id}", f"{labels.INSTANCE}={harness.executor.instance}"]
    assert len(harness.client.api.secrets(filters={"label": mine})) == 1
    harness.executor.remove(run_id)
    assert harness.client.api.secrets(filters={"label": mine}) == []


def test_a_container_over_its_memory_limit_is_observed_oom_killed(harness: SwarmHarness) -> None:
    run = run_to_end(harness, request(new_run_id(), *EAT_MEMORY, memory="16m"))
    assert (run.state, run.exit_code, run.oom_killed) == ("exited", 137, True)


def test_a_command_missing_from_the_image_ends_the_run_failed(harness: SwarmHarness) -> None:
    run = run_to_end(harness, request(new_run_id(), "no-such-command"))
    assert not run.is_running and run.exit_code not in (0, None)


def test_network_none_is_refused_with_a_hint(harness: SwarmHarness) -> None:
    run_id = new_run_id()
    with pytest.raises(ExecutorError) as caught:
        harness.executor.start(request(run_id, "true", network="none"))
    assert "none" in caught.value.message and "bridge" in (caught.value.hint or "")
    assert harness.executor.observe() == []


def test_bind_mounts_are_confined_to_the_allow_list(harness: SwarmHarness, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "input.txt").write_text("from the host\n")
    executor = SwarmExecutor(
        harness.client,
        state_dir=tmp_path,
        instance=harness.executor.instance,
        volume_allowlist=[str(allowed)],
    )
    harness.executor = executor
    req = request(new_run_id(), "cat", "/data/input.txt", volumes=(f"{allowed}:/data:ro",))
    assert run_to_end(harness, req).exit_code == 0
    assert executor.logs(req.run_id) == b"from the host\n"
    with pytest.raises(ExecutorError, match="outside the volume allow-list"):
        executor.start(request(new_run_id(), "true", volumes=(f"{tmp_path}:/data",)))


def test_a_run_on_another_node_is_stopped_with_a_tombstone(
    harness: SwarmHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = new_run_id()
    harness.executor.start(request(run_id, *WAIT_FOR_FINISH))
    harness.emit(run_id, "said before the stop")
    monkeypatch.setattr(harness.executor, "_node", "a-node-elsewhere")  # as seen from a manager
    deadline = time.monotonic() + 30
    while b"said before" not in harness.executor.logs(run_id):  # service logs lag a little
        assert time.monotonic() < deadline, "the service log never showed the line"
        time.sleep(0.1)

    harness.executor.stop(run_id)

    [run] = harness.executor.observe()
    assert (run.run_id, run.state, run.exit_code) == (run_id, "exited", 137)
    assert run.finished_at is not None and run.started_at is not None
    assert b"said before the stop" in harness.executor.logs(run_id)
    with pytest.raises(RunAlreadyExists):
        harness.executor.start(request(run_id, "true"))
    harness.executor.remove(run_id)
    assert harness.executor.observe() == []
    with pytest.raises(ExecutorError, match="no container"):
        harness.executor.logs(run_id)


def test_secrets_of_a_start_cut_short_are_swept(
    harness: SwarmHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = new_run_id("crashed")
    req = request(run_id, "true", env={"TOKEN": "x"}, secret_env=("TOKEN",))
    harness.executor._create_secrets(req)  # the daemon died before the service was created
    mine = [f"{labels.RUN}={run_id}", f"{labels.INSTANCE}={harness.executor.instance}"]
    assert len(harness.client.api.secrets(filters={"label": mine})) == 1
    monkeypatch.setattr(swarm_executor, "SWEEP_EVERY", 0.0)
    harness.executor.observe()
    assert harness.client.api.secrets(filters={"label": mine}) == []


def test_remove_leaves_no_service_and_no_container(harness: SwarmHarness) -> None:
    run_id = new_run_id()
    assert run_to_end(harness, request(run_id, "true")).exit_code == 0
    mine = {"label": f"{labels.RUN}={run_id}"}
    assert len(harness.client.containers.list(all=True, filters=mine)) == 1
    harness.executor.remove(run_id)
    assert harness.client.api.services(filters=mine) == []
    # the swarm itself keeps a finished task's container after its service is gone
    assert harness.client.containers.list(all=True, filters=mine) == []


def test_a_container_whose_service_went_first_is_observed_and_removed(
    harness: SwarmHarness,
) -> None:
    """A removal cut short between the service and its container (a SIGKILL), or a service
    removed by hand: the swarm keeps the container, so the run is still observed from it and
    ``remove`` finds it by its labels (CI once waited forever on such a container)."""
    run_id = new_run_id()
    assert run_to_end(harness, request(run_id, "sh", "-c", "exit 4")).exit_code == 4
    harness.client.api.remove_service(service_name(run_id))  # the daemon died right here
    mine = {"label": f"{labels.RUN}={run_id}"}
    assert len(harness.client.containers.list(all=True, filters=mine)) == 1

    [run] = harness.restarted().observe()
    assert (run.run_id, run.state, run.exit_code) == (run_id, "exited", 4)
    harness.restarted().remove(run_id)
    assert harness.client.containers.list(all=True, filters=mine) == []
    assert harness.executor.observe() == []


def test_a_running_container_whose_service_went_is_observed_and_stopped(
    harness: SwarmHarness,
) -> None:
    run_id = new_run_id()
    harness.executor.start(request(run_id, *WAIT_FOR_FINISH))
    harness.wait_running(run_id)
    harness.client.api.remove_service(service_name(run_id))  # by hand; the container may run on
    harness.executor.stop(run_id)
    [run] = harness.executor.observe()
    assert (run.run_id, run.state) == (run_id, "exited") and run.exit_code in (137, 143)
    harness.executor.remove(run_id)
    assert harness.executor.observe() == []


def test_a_service_removed_while_observed_is_no_error(
    harness: SwarmHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine answers 404 to a task list naming a service removed since it was listed (as
    a removal on the reconciler's worker threads does meanwhile): observe goes on without it."""
    done, running = new_run_id(), new_run_id()
    run_to_end(harness, request(done, "true"))
    harness.executor.start(request(running, *WAIT_FOR_FINISH))
    api = harness.executor._api()
    listed = api.services

    def services_then_remove(*args: Any, **kwargs: Any) -> Any:
        found = listed(*args, **kwargs)
        harness.executor.remove(done)  # between the list of services and that of their tasks
        return found

    monkeypatch.setattr(api, "services", services_then_remove)
    observed = harness.executor.observe()
    monkeypatch.undo()
    assert [(run.run_id, run.state) for run in observed] == [(running, "running")]
    harness.executor.stop(running)


# docker-py leaks the socket of a failed unix connect (docker/docker-py#3356), as in
# test_docker_engine.py; only this test provokes it on purpose.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_no_engine_is_engine_unavailable_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    executor = SwarmExecutor(state_dir=tmp_path, instance="unreachable")
    with pytest.raises(EngineUnavailable) as caught:
        executor.observe()
    assert "ensure-docker.sh" in (caught.value.hint or "")
    executor.close()
    del executor, caught
    gc.collect()  # let the SDK's leaked socket be reported while the filters above apply
