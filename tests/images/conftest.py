"""Fixtures for the runner image tests: the images built through scripts/build-images.sh, and
containers that carry this session's label and are always removed.

`agent-oven/pipeline-runner:standin` has the stand-in (packed with the real `npm pack`),
`agent-oven/pipeline-runner:no-pipeline` has no Agent Pipeline. Both share every layer but the
last few with `:latest`, so after `make images` they take seconds.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from support import engine
from support.standin import NO_PIPELINE_IMAGE, STANDIN_IMAGE, build_runner, pack_standin

SESSION = f"images-{uuid.uuid4().hex[:10]}"
TEST_LABEL = "agent-oven.test"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = engine.connect()
    yield client
    engine.remove_containers(client, f"{TEST_LABEL}={SESSION}")
    client.close()


@pytest.fixture(scope="session")
def standin_build(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    tarball = pack_standin(tmp_path_factory.mktemp("standin-pack"))
    done = build_runner("standin", tarball)
    assert done.returncode == 0, f"building {STANDIN_IMAGE} failed:\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="session")
def standin_image(standin_build: subprocess.CompletedProcess[str]) -> str:
    return STANDIN_IMAGE


@pytest.fixture(scope="session")
def no_pipeline_build(
    docker_client: docker.DockerClient, standin_build: subprocess.CompletedProcess[str]
) -> subprocess.CompletedProcess[str]:
    done = build_runner("no-pipeline", None)
    assert done.returncode == 0, f"building {NO_PIPELINE_IMAGE} failed:\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="session")
def no_pipeline_image(no_pipeline_build: subprocess.CompletedProcess[str]) -> str:
    return NO_PIPELINE_IMAGE


class Run:
    """One finished container: exit code, stdout, stderr, and the container (until cleanup)."""

    def __init__(self, container: Any, code: int) -> None:
        self.container = container
        self.code = code
        self.stdout = container.logs(stdout=True, stderr=False).decode()
        self.stderr = container.logs(stdout=False, stderr=True).decode()


class Containers:
    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.created: list[Any] = []

    def create(self, image: str, command: list[str] | None = None, **options: Any) -> Any:
        options.setdefault("network_mode", "none")
        container = self.client.containers.create(
            image, command, labels={TEST_LABEL: SESSION}, **options
        )
        self.created.append(container)
        return container

    def run(self, image: str, command: list[str] | None = None, **options: Any) -> Run:
        container = self.create(image, command, **options)
        container.start()
        code = int(container.wait(timeout=120)["StatusCode"])
        return Run(container, code)

    def remove_all(self) -> None:
        for container in self.created:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


@pytest.fixture
def containers(docker_client: docker.DockerClient) -> Iterator[Containers]:
    made = Containers(docker_client)
    yield made
    made.remove_all()


def give_to_container_user(path: Path) -> None:
    """Make PATH (recursively) writable by the image's user, uid 1000."""
    for root, dirs, files in os.walk(path):
        for name in [
            root,
            *(os.path.join(root, d) for d in dirs),
            *(os.path.join(root, f) for f in files),
        ]:
            if os.geteuid() == 0:
                os.chown(name, 1000, 1000, follow_symlinks=False)
            elif not os.path.islink(name):
                os.chmod(name, os.stat(name).st_mode | (0o777 if os.path.isdir(name) else 0o666))
