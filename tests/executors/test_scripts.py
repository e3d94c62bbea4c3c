"""scripts/build-images.sh and scripts/ensure-docker.sh.

The image script runs for real against the engine. ensure-docker.sh runs for real on its
"engine answers" and "not root" paths; its fresh-machine path (install packages, clear a stale
pid file, start dockerd, wait) runs with stand-in apt-get/docker/dockerd commands on PATH,
because the tests must not install packages or start a second engine on this host.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from reconciler.executors import labels

from .conftest import BASE_TASKS, BUSYBOX, ROOT, SESSION_INSTANCE

BUILD = ROOT / "scripts" / "build-images.sh"
ENSURE = ROOT / "scripts" / "ensure-docker.sh"


def run_in(client: docker.DockerClient, image: str, *command: str) -> tuple[int, bytes]:
    container = client.containers.create(
        image,
        list(command) or None,
        labels={labels.MANAGED: "test", labels.INSTANCE: SESSION_INSTANCE},
    )
    try:
        container.start()
        code = container.wait(timeout=30)["StatusCode"]
        return int(code), bytes(container.logs())
    finally:
        container.remove(force=True)


@pytest.mark.docker
def test_a_second_build_with_nothing_changed_rebuilds_nothing(images: dict[str, str]) -> None:
    result = subprocess.run([str(BUILD)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"{BUSYBOX} is up to date" in result.stderr
    assert f"{BASE_TASKS} is up to date" in result.stderr
    assert "building" not in result.stderr


@pytest.mark.docker
def test_the_images_carry_their_context_hash_and_base(
    images: dict[str, str], docker_client: docker.DockerClient
) -> None:
    busybox = docker_client.images.get(BUSYBOX).labels
    tasks = docker_client.images.get(BASE_TASKS).labels
    assert len(busybox["agent-oven.context-hash"]) == 32
    assert len(tasks["agent-oven.context-hash"]) == 32
    assert tasks["agent-oven.base-image"] == os.environ.get("OVEN_BASE_IMAGE", BUSYBOX)


@pytest.mark.docker
def test_the_busybox_image_has_a_shell_and_its_applets(
    images: dict[str, str], docker_client: docker.DockerClient
) -> None:
    code, output = run_in(docker_client, BUSYBOX, "sh", "-c", "echo ok; ls /bin/sh; id -un")
    assert (code, output.split()) == (0, [b"ok", b"/bin/sh", b"root"])


@pytest.mark.docker
def test_the_base_tasks_image_says_hello_with_its_environment(
    images: dict[str, str], docker_client: docker.DockerClient
) -> None:
    code, output = run_in(docker_client, BASE_TASKS)
    assert code == 0
    assert output.startswith(b"hello from agent-oven task")
    assert b"PATH=" in output


def test_ensure_docker_is_done_when_the_engine_answers(docker_client: docker.DockerClient) -> None:
    result = subprocess.run([str(ENSURE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Docker engine answers" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the script as another user")
def test_ensure_docker_tells_a_non_root_user_what_to_do() -> None:
    with tempfile.TemporaryDirectory() as home:
        os.chmod(home, 0o755)  # readable by nobody, who gets it as HOME
        env = {"PATH": os.environ["PATH"], "HOME": home}
        env["DOCKER_HOST"] = f"unix://{home}/no-engine.sock"
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        result = subprocess.run(
            [*nobody, "bash", str(ENSURE)], capture_output=True, text=True, env=env, timeout=60
        )
    assert result.returncode == 1
    assert "error: Cannot connect to the Docker daemon" in result.stderr
    assert "sudo" in result.stderr and "apt-get install docker.io" in result.stderr


FAKE_DOCKER = """#!/bin/sh
[ "$1" = info ] && [ -f "$FAKE_STATE/up" ] && exit 0
echo "Cannot connect to the Docker daemon" >&2
exit 1
"""
FAKE_DOCKERD = """#!/bin/sh
echo "$*" > "$FAKE_STATE/dockerd.args"
while [ $# -gt 0 ]; do [ "$1" = --pidfile ] && pidfile="$2"; shift; done
echo $$ > "$pidfile"
echo "fake dockerd starting"
sleep 1
touch "$FAKE_STATE/up"
while :; do sleep 1; done
"""
FAILING_DOCKERD = """#!/bin/sh
echo "fake dockerd: failed to create NAT chain DOCKER: iptables not found"
exit 1
"""
FAKE_APT = """#!/bin/sh
echo "$*" >> "$FAKE_STATE/apt.log"
case "$*" in *install*)
  cp "$FAKE_STATE/docker" "$FAKE_STATE/dockerd" "$FAKE_BIN/"
  touch "$FAKE_STATE/busybox-installed" ;;
esac
"""
FAKE_DPKG_QUERY = """#!/bin/sh
[ -f "$FAKE_STATE/busybox-installed" ] && echo "install ok installed" && exit 0
exit 1
"""
REAL_TOOLS = [
    "sh",
    "bash",
    "tr",
    "grep",
    "rm",
    "setsid",
    "nohup",
    "tail",
    "sleep",
    "cat",
    "touch",
    "cp",
]


class FreshMachine:
    """A PATH with real basic tools and stand-ins for apt-get, dpkg-query, docker and dockerd."""

    def __init__(self, root: Path, dockerd: str) -> None:
        self.bin, self.state = root / "bin", root / "state"
        self.bin.mkdir()
        self.state.mkdir()
        for tool in REAL_TOOLS:
            (self.bin / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
        self._script(self.bin / "apt-get", FAKE_APT)
        self._script(self.bin / "dpkg-query", FAKE_DPKG_QUERY)
        self._script(self.bin / "id", '#!/bin/sh\n[ "$1" = -u ] && echo 0\n')
        self._script(self.state / "docker", FAKE_DOCKER)
        self._script(self.state / "dockerd", dockerd)
        self.pidfile = self.state / "docker.pid"
        self.log = self.state / "dockerd.log"

    def _script(self, path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o755)

    def run(self) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": str(self.bin),
            "FAKE_STATE": str(self.state),
            "FAKE_BIN": str(self.bin),
            "OVEN_DOCKER_PIDFILE": str(self.pidfile),
            "OVEN_DOCKERD_LOG": str(self.log),
            "OVEN_DOCKER_WAIT": "15",
        }
        bash = shutil.which("bash") or "/bin/bash"
        return subprocess.run(
            [bash, str(ENSURE)], capture_output=True, text=True, env=env, timeout=60
        )

    def kill_fake_dockerd(self) -> None:
        """Kill the stand-in dockerd this test started (checked by its command line)."""
        if not self.pidfile.exists():
            return
        pid = int(self.pidfile.read_text().strip() or 0)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if str(self.bin).encode() in cmdline:
            os.killpg(pid, signal.SIGKILL)  # setsid made it a group leader: its sleep goes too


@pytest.fixture
def fresh_machine(tmp_path: Path) -> Iterator[FreshMachine]:
    machine = FreshMachine(tmp_path, FAKE_DOCKERD)
    try:
        yield machine
    finally:
        machine.kill_fake_dockerd()


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_on_a_fresh_machine_it_installs_clears_a_stale_pid_and_starts_dockerd(
    fresh_machine: FreshMachine,
) -> None:
    fresh_machine.pidfile.write_text(f"{dead_pid()}\n")
    result = fresh_machine.run()
    assert result.returncode == 0, result.stderr
    apt_calls = (fresh_machine.state / "apt.log").read_text().splitlines()
    assert apt_calls == [
        "update -q",
        "install -y -q --no-install-recommends docker.io ca-certificates busybox-static",
    ]
    assert "removing stale pid file" in result.stderr
    assert result.stderr.rstrip().endswith("Docker engine answers")
    assert "fake dockerd starting" in fresh_machine.log.read_text()
    pid = int(fresh_machine.pidfile.read_text())
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd"  # still running


def test_a_second_run_finds_the_engine_and_does_nothing(fresh_machine: FreshMachine) -> None:
    assert fresh_machine.run().returncode == 0
    again = fresh_machine.run()
    assert again.returncode == 0
    assert again.stderr.strip() == "ensure-docker: Docker engine answers"
    assert len((fresh_machine.state / "apt.log").read_text().splitlines()) == 2


def test_a_dockerd_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    machine = FreshMachine(tmp_path, FAILING_DOCKERD)
    result = machine.run()
    assert result.returncode == 1
    assert "dockerd exited" in result.stderr
    assert "iptables not found" in result.stderr
    assert "OVEN_DOCKERD_ARGS" in result.stderr
