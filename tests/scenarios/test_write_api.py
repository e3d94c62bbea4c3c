"""The write API on a real daemon (``oven run --write-api``), a real git remote and the real
Docker engine, driven by the real ``oven`` CLI and plain HTTP: a webhook job that never runs
on its own, one run per idempotency key however often and however concurrently it is asked,
cancel that stops the container and ends the run ``cancelled``, and retry that starts attempt
n+1. Local spool requests (no ``--server``) reach the same daemon.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from scenarios.harness import Daemon, StatusBranch, manifest, oven, push_files, wait_until

from reconciler.runids import container_name

pytestmark = pytest.mark.docker

JOBS = {
    "jobs/quick.yaml": manifest("quick", schedule={"type": "webhook"}),
    "jobs/sleeper.yaml": manifest(
        "sleeper",
        schedule={"type": "webhook"},
        command=["sleep", "300"],
        policy={"concurrency": "allow"},
    ),
}


def started(bare: Path, daemons: Any, tmp_path: Path) -> tuple[Daemon, str]:
    """A daemon with the write API on ``bare``, and an admin token made with the real CLI."""
    push_files(bare, "main", JOBS)
    made = oven("token", "create", "--state-dir", str(tmp_path / "state"), "--name", "ops")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    daemon = daemons(f"file://{bare}", "--write-api")
    wait_until(daemon.serving, 30, "the daemon's web server")
    wait_until(lambda: daemon.get("/readyz")[0] == 200, 60, "the daemon to load the config")
    return daemon, token


def post(daemon: Daemon, path: str, token: str, **headers: str) -> httpx.Response:
    url = f"http://127.0.0.1:{daemon.port}{path}"
    return httpx.post(url, headers={"Authorization": f"Bearer {token}", **headers}, timeout=30)


def run_of(daemon: Daemon, run_id: str) -> dict[str, Any] | None:
    status, _, _ = daemon.get(f"/api/v1/runs/{run_id}")
    return daemon.get_json(f"/api/v1/runs/{run_id}") if status == 200 else None


def ended(daemon: Daemon, run_id: str, status: str) -> dict[str, Any] | None:
    run = run_of(daemon, run_id)
    return run if run and run["status"] == status else None


def test_one_run_per_idempotency_key_and_a_webhook_job_never_runs_alone(
    bare: Path, daemons: Any, tmp_path: Path
) -> None:
    daemon, token = started(bare, daemons, tmp_path)
    server = ["--server", f"http://127.0.0.1:{daemon.port}", "--token", token]
    time.sleep(2)  # several ticks (--tick 0.3): a webhook schedule starts nothing on its own
    assert StatusBranch(bare).runs("quick") == []
    assert daemon.get_json("/api/v1/jobs/quick")["schedule"] == "webhook-triggered"

    first = oven("trigger", "quick", "--idempotency-key", "deploy-7", *server)
    again = oven("trigger", "quick", "--idempotency-key", "deploy-7", *server)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    run_id = first.stdout.strip()
    assert again.stdout.strip() == run_id and "already requested" in again.stderr
    with ThreadPoolExecutor(8) as pool:  # and the same key, concurrently, over HTTP
        answers = list(
            pool.map(
                lambda _: post(
                    daemon, "/api/v1/jobs/quick/runs", token, **{"Idempotency-Key": "deploy-7"}
                ),
                range(8),
            )
        )
    assert {a.status_code for a in answers} == {202}
    assert {a.json()["run_id"] for a in answers} == {run_id}

    done = wait_until(lambda: ended(daemon, run_id, "succeeded"), 60, "the triggered run")
    assert done["trigger"] == "webhook"
    time.sleep(1)
    runs = daemon.get_json("/api/v1/runs?job=quick")["runs"]
    assert [r["run_id"] for r in runs] == [run_id], "exactly one run for the key"
    assert "token ops requested run" in daemon.output() and token not in daemon.output()

    refused = oven("trigger", "nope", *server)
    assert refused.returncode == 1 and refused.stderr.startswith("error: ")
    assert "404" in refused.stderr and "\nhint: " in refused.stderr
    wrong = oven("trigger", "quick", "--server", server[1], "--token", "oven_wrong")
    assert wrong.returncode == 1 and "401" in wrong.stderr


def test_cancel_stops_the_container_and_retry_starts_the_next_attempt(
    bare: Path, daemons: Any, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    daemon, token = started(bare, daemons, tmp_path)
    server = ["--server", f"http://127.0.0.1:{daemon.port}", "--token", token]
    run_id = post(daemon, "/api/v1/jobs/sleeper/runs", token).json()["run_id"]
    wait_until(lambda: ended(daemon, run_id, "running"), 60, "the sleeper to run")
    container = docker_client.containers.get(container_name(run_id))
    assert container.status == "running"

    early = oven("retry", run_id, *server)
    assert early.returncode == 1 and "409" in early.stderr, early.stderr

    cancelled = oven("cancel", run_id, *server)
    assert cancelled.returncode == 0 and cancelled.stdout.strip() == run_id, cancelled.stderr
    run = wait_until(lambda: ended(daemon, run_id, "cancelled"), 60, "the run to be cancelled")
    assert run["error"]["class"] == "CancelledByRequest" and "ops" in run["error"]["message"]
    assert _stopped(docker_client, container_name(run_id))
    assert oven("cancel", run_id, *server).returncode == 1  # 409: not running any more

    retried = oven("retry", run_id, *server)
    assert retried.returncode == 0, retried.stderr
    second = retried.stdout.strip()
    assert second == f"{run_id}-a2"
    run = wait_until(lambda: ended(daemon, second, "running"), 60, "attempt 2 to run")
    assert (run["attempt"], run["retry_of"], run["trigger"]) == (2, run_id, "retry")

    local = oven("cancel", second, "--state-dir", str(daemon.state_dir))  # through the spool
    assert local.returncode == 0, local.stderr
    wait_until(lambda: ended(daemon, second, "cancelled"), 60, "attempt 2 to be cancelled")
    assert _stopped(docker_client, container_name(second))
    third = oven("retry", second, "--state-dir", str(daemon.state_dir))
    assert third.stdout.strip() == f"{run_id}-a3"
    run = wait_until(lambda: ended(daemon, f"{run_id}-a3", "running"), 60, "attempt 3 to run")
    assert run["attempt"] == 3
    assert post(daemon, f"/api/v1/runs/{run_id}-a3/cancel", token).status_code == 202
    wait_until(lambda: ended(daemon, f"{run_id}-a3", "cancelled"), 60, "attempt 3 cancelled")


def _stopped(client: docker.DockerClient, name: str) -> bool:
    try:
        container = client.containers.get(name)
    except docker.errors.NotFound:
        return True
    return container.status != "running"
