"""Fixtures for the executor tests: the local images, a unique instance label, and a harness
that lets one contract test drive the real Docker engine and the in-memory engine alike.

Every container the tests create carries ``agent-oven.instance=<this session's label>``; the
session ends by force-removing all of them, whatever happened.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import docker
import pytest
from support import engine

from reconciler.executors import labels
from reconciler.executors.docker import DockerExecutor
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
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


class Harness(Protocol):
    """What the contract tests need beyond the Executor protocol: control over a run's end."""

    executor: Any
    other: Any  # another instance on the same engine
    state_dir: Path

    def request(self, run_id: str, **changes: Any) -> RunRequest: ...
    def finish(self, run_id: str, exit_code: int) -> None: ...
    def emit(self, run_id: str, text: str) -> None: ...


class DockerHarness:
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


class MemoryHarness:
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


@pytest.fixture(params=["docker", "memory"])
def harness(request: pytest.FixtureRequest, instance: str, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "memory":
        yield MemoryHarness(instance, tmp_path)
        return
    request.getfixturevalue("images")
    client: docker.DockerClient = request.getfixturevalue("docker_client")
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
