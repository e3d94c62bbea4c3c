"""The real Docker engine for tests: one way to connect, one way to clean up.

Tests of several files (and, on a shared machine, other test sessions) start containers on
the same engine at the same time, so clean-up lists without inspecting each container and
ignores one that another teardown removed meanwhile.
"""

from __future__ import annotations

import contextlib

import docker
import pytest
from docker.errors import NotFound

MANAGED = "agent-oven.managed=true"
INSTANCE = "agent-oven.instance"


def connect() -> docker.DockerClient:
    """The engine, or a test failure that says how to start one."""
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # the message below is the point of this helper
        pytest.fail(f"no Docker engine answers ({exc}); run scripts/ensure-docker.sh first")
    return client


def remove_containers(
    client: docker.DockerClient, label: str = MANAGED, instance_prefix: str | None = None
) -> None:
    """Remove every container carrying ``label`` (and, if given, an instance with the prefix)."""
    for container in client.containers.list(all=True, sparse=True, filters={"label": label}):
        instance = (container.attrs.get("Labels") or {}).get(INSTANCE, "")
        if instance_prefix is None or instance.startswith(instance_prefix):
            with contextlib.suppress(NotFound):
                container.remove(force=True)
