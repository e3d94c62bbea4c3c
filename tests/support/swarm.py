"""A one-node Docker Swarm for tests, on the engine every test shares, left as it was found.

``one_node_swarm`` makes the engine a swarm manager (``docker swarm init --advertise-addr
127.0.0.1``) unless it already is one, and at the end leaves the swarm only if it made it and
no service but its own is left (another session may be using the swarm it made; plain
containers of other tests keep working in swarm mode either way). ``remove_runs`` removes the
services, secrets and configs carrying an instance label with the given prefix, and nothing
else.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import docker
import pytest
from docker.errors import APIError, NotFound

MANAGED = "agent-oven.managed=true"
INSTANCE = "agent-oven.instance"


def _state(client: docker.DockerClient) -> tuple[str, bool]:
    swarm = client.info().get("Swarm") or {}
    return str(swarm.get("LocalNodeState", "inactive")), bool(swarm.get("ControlAvailable"))


@contextlib.contextmanager
def one_node_swarm(client: docker.DockerClient, instance_prefix: str) -> Iterator[bool]:
    """Yield whether this call made the swarm; clean up this prefix's objects at the end."""
    state, manager = _state(client)
    made = False
    if state == "inactive":
        result = subprocess.run(
            ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0 and _state(client) != ("active", True):
            pytest.fail(f"docker swarm init failed: {result.stderr.strip()}")
        made = result.returncode == 0
    elif not (state == "active" and manager):
        pytest.skip(f"the engine is in a swarm it does not manage (state {state})")
    try:
        yield made
    finally:
        remove_runs(client, instance_prefix)
        if made and not client.api.services():
            subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True, timeout=60)


def remove_runs(client: docker.DockerClient, instance_prefix: str) -> None:
    """Remove the services, then the secrets and configs, of instances with this prefix."""
    if _state(client) != ("active", True):
        # not a swarm (manager) any more: another session that made the swarm on this shared
        # engine left it once it saw no service; a swarm that is gone holds nothing of ours
        return
    api = client.api

    def mine(obj: dict) -> bool:
        found = (obj.get("Spec") or {}).get("Labels") or {}
        return str(found.get(INSTANCE, "")).startswith(instance_prefix)

    for service in api.services(filters={"label": MANAGED}):
        if mine(service):
            with contextlib.suppress(NotFound):
                api.remove_service(service["ID"])
    for listing, remove in (
        (api.secrets, api.remove_secret),
        (api.configs, api.remove_config),
    ):
        for obj in listing(filters={"label": MANAGED}):
            if mine(obj):
                with contextlib.suppress(NotFound, APIError):
                    remove(obj["ID"])
