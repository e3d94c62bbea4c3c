"""Fixtures for the chaos tests: the scenario fixtures (engine, instance, bare repo), a daemon
process for the containment tests, and a second Docker engine the test owns and may kill.

The second engine is a ``dockerd`` of its own — socket, ``--data-root``, ``--exec-root``,
pidfile under one temporary directory, ``--bridge none`` and no iptables rules — so killing
it never touches the engine other tests (and other people) use. It runs in a network
namespace of its own (``unshare --net``): a dockerd started with ``--bridge none`` deletes the
``docker0`` interface of the namespace it runs in, which in the host's namespace is the main
engine's bridge. Its ``containerd`` is started
by the fixture, not by dockerd, as a service manager would: a containerd that dockerd starts
dies with it, and where PID 1 reaps no orphans (as in many containers) it stays a zombie that
the next dockerd mistakes for a running containerd and waits on. Tests that cannot start the
engine are skipped with its own words.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scenarios.conftest import bare, daemons, docker_client, instance  # noqa: F401  (fixtures)
from scenarios.harness import IMAGE, Daemon

START_SECONDS = 60


@pytest.fixture
def containment_daemon(daemons: Callable[..., Daemon]) -> Callable[..., Daemon]:  # noqa: F811
    """``oven run`` on a repo URL with this test's instance, stopped at the end."""
    return daemons


CONTAINERD_CONFIG = """version = 2
root = "{root}/containerd/root"
state = "{root}/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{root}/containerd.sock"
[debug]
  address = "{root}/containerd-debug.sock"
"""


class SecondEngine:
    """A dockerd (and its containerd) on its own socket and directories; ``kill`` and ``start``
    the dockerd at will."""

    def __init__(self) -> None:
        # a short path: unix socket paths are limited to 108 bytes
        self.root = Path(tempfile.mkdtemp(prefix="oven-d2-", dir="/tmp"))
        self.url = f"unix://{self.root}/docker.sock"
        self.log = self.root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.containerd: subprocess.Popen[bytes] | None = None

    def start_containerd(self) -> None:
        config = self.root / "containerd.toml"
        config.write_text(CONTAINERD_CONFIG.format(root=self.root))
        with (self.root / "containerd.log").open("ab") as out:
            self.containerd = subprocess.Popen(
                ["containerd", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while not (self.root / "containerd.sock").exists():
            if self.containerd.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "containerd.log").read_text()[-2000:]
                raise RuntimeError(f"containerd did not start: {log}")
            time.sleep(0.1)

    def start(self) -> None:
        if self.containerd is None:
            self.start_containerd()
        command = [
            "unshare", "--net",  # never the host's docker0: see the module docstring
            "dockerd",
            "--containerd", str(self.root / "containerd.sock"),
            "--host", self.url,
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "docker.pid"),
            "--bridge", "none",
            "--iptables=false",
            "--ip-masq=false",
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_SECONDS
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def answers(self) -> bool:
        return self.docker("info", check=False).returncode == 0

    def docker(
        self, *args: str, check: bool = True, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        command = ["docker", "-H", self.url, *args]
        return subprocess.run(command, input=stdin, capture_output=True, check=check)

    def running(self, of_instance: str) -> list[str]:
        """Run ids of the instance's running containers on this engine."""
        out = self.docker(
            "ps", "--filter", f"label=agent-oven.instance={of_instance}",
            "--format", '{{.Label "agent-oven.run"}}',
        ).stdout.decode()  # fmt: skip
        return [line for line in out.splitlines() if line]

    def kill(self) -> None:
        """SIGKILL dockerd, as a crash would (containerd and the containers' shims live on)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def close(self) -> None:
        """Stop the engine, whatever it started, and delete its directories."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.CalledProcessError):
                ids = self.docker("ps", "-aq").stdout.decode().split()
                if ids:
                    self.docker("rm", "-f", *ids)
        for process in (self.process, self.containerd):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)
        for pid in self._own_processes():  # shims of containers that outlived it all
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for mount in self._own_mounts():
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _own_processes(self) -> list[int]:
        """Processes whose command line names this engine's directory."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if str(self.root).encode() in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
        return found

    def _own_mounts(self) -> list[str]:
        lines = Path("/proc/mounts").read_text().splitlines()
        mounts = [line.split()[1] for line in lines if str(self.root) in line.split()[1]]
        return sorted(mounts, key=len, reverse=True)


@pytest.fixture
def second_engine(docker_client: object) -> Iterator[SecondEngine]:  # noqa: F811
    """A second Docker engine holding the test image; stopped and deleted at the end."""
    if not (shutil.which("dockerd") and shutil.which("unshare")) or os.geteuid() != 0:
        pytest.skip("a second dockerd needs the dockerd and unshare binaries and root")
    engine = SecondEngine()
    try:
        try:
            engine.start()
        except RuntimeError as exc:
            pytest.skip(f"cannot start a second dockerd here: {exc}")
        saved = subprocess.run(["docker", "save", IMAGE], capture_output=True, check=True)
        engine.docker("load", stdin=saved.stdout)
        yield engine
    finally:
        engine.close()
