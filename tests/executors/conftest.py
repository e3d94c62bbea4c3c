"""Fixtures for the executor tests: the local images, a unique instance label, and a harness
that lets one contract test drive the real Docker engine, a one-node Docker Swarm and the
in-memory engine alike.

Every container (and Swarm service, secret, config) the tests create carries
``agent-oven.instance=<this session's label>``; the session ends by force-removing all of
them, whatever happened. The swarm is made by the test session if the engine is not one
already, and left again at its end (``support.swarm``).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import docker
import pytest
from support import engine, swarm

from reconciler.executors import labels
from reconciler.executors.docker import DockerExecutor
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.executors.swarm import SwarmExecutor, service_name
from reconciler.interfaces import RunRequest
from reconciler.runids import container_name

ROOT = Path(__file__).resolve().parents[2]
BUSYBOX = "agent-oven/busybox:latest"
BASE_TASKS = "agent-oven/base-tasks:latest"
SESSION_INSTANCE = f"test-{uuid.uuid4().hex[:10]}"

# Runs until the test writes an exit code to /tmp/finish (see DockerHarness.finish).
WAIT_FOR_FINISH = (
    "sh",
    "-c",
    'while [ ! -f /tmp/finish ]; do sleep 0.05; done; exit "$(cat /tmp/finish)"',
)


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def remove_instance_containers(client: docker.DockerClient, instance_prefix: str) -> None:
    engine.remove_containers(client, labels.MANAGED, instance_prefix)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = engine.connect()
    yield client
    remove_instance_containers(client, SESSION_INSTANCE)
    client.close()


@pytest.fixture(scope="session")
def images(docker_client: docker.DockerClient) -> dict[str, str]:
    """Build (or confirm up to date) the local images once per session."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "build-images.sh")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"build-images.sh failed:\n{result.stderr}"
    return {"busybox": BUSYBOX, "base-tasks": BASE_TASKS, "build-output": result.stderr}


@pytest.fixture
def instance() -> str:
    """An instance label unique to one test, inside this session's label space."""
    return f"{SESSION_INSTANCE}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def one_node_swarm(docker_client: docker.DockerClient) -> Iterator[bool]:
    """The engine as a swarm manager for this session (made here, and left, if it was not)."""
    with swarm.one_node_swarm(docker_client, SESSION_INSTANCE) as made:
        yield made


class Harness(Protocol):
    """What the contract tests need beyond the Executor protocol: control over a run's end."""

    executor: Any
    other: Any  # another instance on the same engine
    state_dir: Path
    runs_commands: bool  # the run's command really runs (not the memory engine)

    def request(self, run_id: str, **changes: Any) -> RunRequest: ...
    def finish(self, run_id: str, exit_code: int) -> None: ...
    def emit(self, run_id: str, text: str) -> None: ...
    def restarted(self) -> Any: ...  # a new executor of the same instance (a restarted daemon)
    def wait_running(self, run_id: str) -> None: ...


class DockerHarness:
    runs_commands = True

    def __init__(self, client: docker.DockerClient, instance: str, state_dir: Path) -> None:
        self.client = client
        self.state_dir = state_dir
        self.executor = DockerExecutor(client, state_dir=state_dir, instance=instance)
        self.other = DockerExecutor(client, state_dir=state_dir, instance=instance + "-other")

    def request(self, run_id: str, **changes: Any) -> RunRequest:
        fields: dict[str, Any] = {"job_id": "contract", "trigger": "manual", "image": BUSYBOX}
        fields["command"] = WAIT_FOR_FINISH
        return RunRequest(run_id=run_id, **{**fields, **changes})

    def _exec(self, run_id: str, script: str, *args: str) -> None:
        container = self.client.containers.get(container_name(run_id))
        code, output = container.exec_run(["sh", "-c", script, "sh", *args])
        assert code == 0, output

    def finish(self, run_id: str, exit_code: int) -> None:
        self._exec(run_id, 'echo "$1" > /tmp/f && mv /tmp/f /tmp/finish', str(exit_code))
        self.client.api.wait(container_name(run_id), timeout=30)

    def emit(self, run_id: str, text: str) -> None:
        self._exec(run_id, 'printf "%s\\n" "$1" > /proc/1/fd/1', text)

    def restarted(self) -> DockerExecutor:
        return DockerExecutor(self.client, state_dir=self.state_dir, instance=self.instance)

    @property
    def instance(self) -> str:
        return self.executor.instance

    def wait_running(self, run_id: str) -> None:
        """A container started by ``start`` is running when it returns."""


class SwarmHarness(DockerHarness):
    """The contract on a one-node swarm: a run's task container is on this engine, so the test
    reaches into it like into a plain container, once the swarm has placed and started it."""

    def __init__(self, client: docker.DockerClient, instance: str, state_dir: Path) -> None:
        self.client = client
        self.state_dir = state_dir
        self.executor = SwarmExecutor(client, state_dir=state_dir, instance=instance)
        self.other = SwarmExecutor(client, state_dir=state_dir, instance=instance + "-other")

    def container(self, run_id: str, timeout: float = 60) -> str:
        """The id of the run's task container once it runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tasks = self.client.api.tasks(filters={"service": service_name(run_id)})
            for task in tasks:
                if task["Status"]["State"] == "running":
                    return str(task["Status"]["ContainerStatus"]["ContainerID"])
            time.sleep(0.05)
        raise AssertionError(f"the task of run {run_id} did not start in {timeout}s: {tasks}")

    def _exec(self, run_id: str, script: str, *args: str) -> None:
        container = self.client.containers.get(self.container(run_id))
        code, output = container.exec_run(["sh", "-c", script, "sh", *args])
        assert code == 0, output

    def finish(self, run_id: str, exit_code: int) -> None:
        self._exec(run_id, 'echo "$1" > /tmp/f && mv /tmp/f /tmp/finish', str(exit_code))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the swarm hears of the end from the node
            runs = [run for run in self.executor.observe() if run.run_id == run_id]
            if runs and not runs[0].is_running:
                return
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not end on the swarm")

    def restarted(self) -> SwarmExecutor:
        return SwarmExecutor(self.client, state_dir=self.state_dir, instance=self.instance)

    def wait_running(self, run_id: str) -> None:
        self.container(run_id)


class MemoryHarness:
    runs_commands = False

    def __init__(self, instance: str, state_dir: Path) -> None:
        engine = MemoryEngine(
            images=[BUSYBOX, BASE_TASKS],
            labels={BUSYBOX: {"org.opencontainers.image.title": "agent-oven/busybox"}},
        )
        self.state_dir = state_dir
        self.executor = MemoryExecutor(engine, state_dir=state_dir, instance=instance)
        self.other = MemoryExecutor(engine, state_dir=state_dir, instance=instance + "-other")

    def request(self, run_id: str, **changes: Any) -> RunRequest:
        fields: dict[str, Any] = {"job_id": "contract", "trigger": "manual", "image": BUSYBOX}
        return RunRequest(run_id=run_id, **{**fields, **changes})

    def finish(self, run_id: str, exit_code: int) -> None:
        self.executor.finish(run_id, exit_code)

    def emit(self, run_id: str, text: str) -> None:
        self.executor.emit(run_id, text + "\n")

    def restarted(self) -> MemoryExecutor:
        return MemoryExecutor(
            self.executor.engine, state_dir=self.state_dir, instance=self.executor.instance
        )

    def wait_running(self, run_id: str) -> None:
        """Runs in memory are running from their start."""


@pytest.fixture(
    params=[
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("swarm", marks=[pytest.mark.docker, pytest.mark.swarm]),
        "memory",
    ]
)
def harness(request: pytest.FixtureRequest, instance: str, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "memory":
        yield MemoryHarness(instance, tmp_path)
        return
    request.getfixturevalue("images")
    client: docker.DockerClient = request.getfixturevalue("docker_client")
    if request.param == "swarm":
        request.getfixturevalue("one_node_swarm")
        try:
            yield SwarmHarness(client, instance, tmp_path)
        finally:
            swarm.remove_runs(client, instance)
        return
    try:
        yield DockerHarness(client, instance, tmp_path)
    finally:
        remove_instance_containers(client, instance)


@pytest.fixture
def docker_executor(
    images: dict[str, str], docker_client: docker.DockerClient, instance: str, tmp_path: Path
) -> Iterator[DockerExecutor]:
    """A DockerExecutor on the real engine whose containers are removed after the test."""
    try:
        yield DockerExecutor(docker_client, state_dir=tmp_path / "state", instance=instance)
    finally:
        remove_instance_containers(docker_client, instance)
