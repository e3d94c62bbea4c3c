"""The daemon's own image (`agent-oven/oven`, images/oven/) runs the demo config against the
host's engine through the mounted socket, as docs/deploy.md and deploy/compose.yaml run it.

Built through scripts/build-images.sh like every image (a rerun with nothing changed is a
no-op). The daemon container uses the host network so the test reaches its page on loopback;
the config repo and the state dir are mounted at the same paths as on the host, as the deploy
docs ask. A manual run is triggered inside the container with `oven trigger`, the run's job
container is started by the host's engine, and its result lands on the status branch of the
host's bare repo.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from support import engine
from support.gitutil import free_port, git, make_bare

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "agent-oven/oven:latest"
INSTANCE = f"daemon-image-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def daemon_image() -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-images.sh"), "oven"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, f"building {IMAGE} failed:\n{done.stderr[-4000:]}"
    return IMAGE


@pytest.fixture
def demo_remote(tmp_path: Path) -> Path:
    work = tmp_path / "config-work"
    shutil.copytree(ROOT / "config-example", work)
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Example jobs", cwd=work)
    bare = make_bare(tmp_path / "config.git")
    git("push", "-q", str(bare), "main", cwd=work)
    return bare


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    client = engine.connect()
    yield client
    # the daemon container, then the job containers it started (labelled with its instance)
    engine.remove_containers(client, f"agent-oven.test={INSTANCE}")
    engine.remove_containers(client, instance_prefix=INSTANCE)
    client.close()


def _get_json(url: str) -> object | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait(probe, timeout: float, what: str, logs) -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; daemon log:\n{logs()[-4000:]}")


def test_daemon_image_runs_the_demo_config_through_the_socket(
    daemon_image: str, demo_remote: Path, tmp_path: Path, client: docker.DockerClient
) -> None:
    port = free_port()
    state = tmp_path / "state"
    state.mkdir()
    container = client.containers.run(
        daemon_image,
        ["run", "--interval", "2"],
        detach=True,
        network_mode="host",
        labels={"agent-oven.test": INSTANCE},
        environment={
            "OVEN_REPO": f"file://{demo_remote}",
            "OVEN_STATE_DIR": str(state),
            "OVEN_LISTEN": f"127.0.0.1:{port}",
            "OVEN_INSTANCE": INSTANCE,
        },
        volumes={
            "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
            str(tmp_path): {"bind": str(tmp_path), "mode": "rw"},
        },
    )

    def logs() -> str:
        return container.logs().decode(errors="replace")

    _runs_a_manual_job(
        f"http://127.0.0.1:{port}",
        lambda: _exec(container, ["oven", "trigger", "manual-report"]),
        demo_remote,
        logs,
    )


def _exec(container, command: list[str]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    done = container.exec_run(command)
    return done.exit_code, done.output.decode(errors="replace")


def _runs_a_manual_job(base: str, trigger, remote: Path, logs) -> None:  # type: ignore[no-untyped-def]
    """Ready, the demo's jobs listed, a manual run triggered inside the container succeeds and
    its status file lands on the host's repo."""
    _wait(lambda: _ready(f"{base}/readyz"), 120, "the daemon in its image to be ready", logs)
    _wait(
        lambda: "manual-report" in json.dumps(_get_json(f"{base}/api/v1/jobs")),
        60,
        "the demo's jobs on the API",
        logs,
    )

    code, output = trigger()
    assert code == 0, output

    def succeeded() -> dict | None:
        runs = _get_json(f"{base}/api/v1/runs?job=manual-report")
        items = runs.get("runs", runs) if isinstance(runs, dict) else runs
        for run in items or []:
            if run.get("job_id") == "manual-report" and run.get("status") == "succeeded":
                return run
        return None

    run = _wait(succeeded, 120, "the manual run to succeed", logs)
    assert isinstance(run, dict)

    # its result is committed to the status branch of the host's repo
    def committed_success() -> str:
        try:
            names = git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", "oven-status")
        except BaseException:  # noqa: BLE001 - the branch may not exist yet
            return ""
        for name in names.splitlines():
            if name.startswith("status/runs/manual-report/"):
                text = git("--git-dir", str(remote), "show", f"oven-status:{name}")
                if "succeeded" in text:
                    return text
        return ""

    record = _wait(committed_success, 60, "the run's status file on the host's repo", logs)
    assert run["run_id"] in record
    assert "Traceback" not in logs()


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="needs docker-compose")
def test_compose_file_runs_the_daemon_image(
    daemon_image: str, demo_remote: Path, tmp_path: Path, client: docker.DockerClient
) -> None:
    """deploy/compose.yaml as docs/deploy.md uses it: a published port, the socket, the state
    dir at the same path. The config repo lives inside the state dir here only so the one
    mount the file declares carries it (a real set-up fetches over the network)."""
    port = free_port()
    state = tmp_path / "state"
    state.mkdir()
    remote = state / "config.git"
    shutil.move(str(demo_remote), remote)
    env_file = tmp_path / "oven.env"
    env_file.write_text(f"OVEN_REPO=file://{remote}\nOVEN_INTERVAL=2\nOVEN_INSTANCE={INSTANCE}\n")
    project = INSTANCE.replace("-", "")
    env = {
        **os.environ,
        "OVEN_STATE_DIR": str(state),
        "OVEN_ENV_FILE": str(env_file),
        "OVEN_PUBLISH": f"127.0.0.1:{port}",
    }
    compose = ["docker-compose", "-f", str(ROOT / "deploy" / "compose.yaml"), "-p", project]

    def run(*args: str) -> tuple[int, str]:
        done = subprocess.run(
            [*compose, *args], env=env, capture_output=True, text=True, timeout=300
        )
        return done.returncode, done.stdout + done.stderr

    code, output = run("up", "-d")
    try:
        assert code == 0, output
        _runs_a_manual_job(
            f"http://127.0.0.1:{port}",
            lambda: run("exec", "-T", "oven", "oven", "trigger", "manual-report"),
            remote,
            lambda: run("logs", "--no-color")[1],
        )
    finally:
        run("down", "--timeout", "20")
