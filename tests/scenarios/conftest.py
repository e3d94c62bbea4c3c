"""Fixtures for whole-product scenarios (helpers live in harness.py).

Every container carries this session's instance label and is removed at the end.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from scenarios.harness import INSTANCE_PREFIX, ROOT, Daemon, make_bare
from support import engine, swarm


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = engine.connect()
    subprocess.run(["bash", str(ROOT / "scripts/build-images.sh")], check=True, capture_output=True)
    yield client
    engine.remove_containers(client, instance_prefix=INSTANCE_PREFIX)
    client.close()


@pytest.fixture(scope="session")
def one_node_swarm(docker_client: docker.DockerClient) -> Iterator[bool]:
    """The engine as a one-node swarm manager for this session (left again if made here)."""
    with swarm.one_node_swarm(docker_client, INSTANCE_PREFIX) as made:
        yield made


@pytest.fixture(
    params=[
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("swarm", marks=[pytest.mark.docker, pytest.mark.swarm]),
    ]
)
def executor(request: pytest.FixtureRequest) -> str:
    """``oven run --executor`` of a scenario that runs on both executors."""
    if request.param == "swarm":
        request.getfixturevalue("one_node_swarm")
    return str(request.param)


@pytest.fixture
def instance(docker_client: docker.DockerClient) -> str:
    return f"{INSTANCE_PREFIX}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return make_bare(tmp_path / "config.git")


@pytest.fixture
def daemons(tmp_path: Path, instance: str) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(repo: str, *extra: str) -> Daemon:
        daemon = Daemon(repo, tmp_path / "state", instance, *extra).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()
    if os.environ.get("OVEN_SHOW_DAEMON_LOG"):
        print("\n".join(d.output() for d in started))
