"""Helpers for the git-fault and two-daemon chaos tests: real `oven run` processes, the real
Docker engine, and a record of every container the engine created for an instance.

Every container these tests start carries an instance label beginning with ``PREFIX``; the
``engine`` fixture removes them all at the end of the session.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from scenarios.harness import ROOT, Daemon, StatusBranch, push_files, wait_until

PREFIX = f"gitchaos-{uuid.uuid4().hex[:8]}"
TAG = PREFIX.rsplit("-", 1)[1][:6]
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "missed", "skipped"}


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # the message is the point
        pytest.fail(f"no Docker engine answers ({exc}); run scripts/ensure-docker.sh first")
    subprocess.run(["bash", str(ROOT / "scripts/build-images.sh")], check=True,
                   capture_output=True)
    yield client
    for container in client.containers.list(
        all=True, filters={"label": "agent-oven.managed=true"}, ignore_removed=True
    ):
        if container.labels.get("agent-oven.instance", "").startswith(PREFIX):
            container.remove(force=True)
    client.close()


def new_instance() -> str:
    return f"{PREFIX}-{uuid.uuid4().hex[:6]}"


def ours(job_id: str) -> str:
    """``job_id`` made this session's own. A container's name comes from its run id, made of
    the job id and the schedule time: another session on the same engine running the same jobs
    every two seconds would take the names of half of them (RunIdTaken: its runs fail)."""
    return f"{job_id}-{TAG}"


class Creations:
    """Every container the engine creates and starts for one instance, streamed live."""

    def __init__(self, client: docker.DockerClient, instance: str) -> None:
        self.events: list[tuple[str, str]] = []  # (action, run id)
        self._stream = client.events(
            decode=True,
            filters={"type": "container", "event": ["create", "start"],
                     "label": f"agent-oven.instance={instance}"},
        )
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            for event in self._stream:
                attributes = event.get("Actor", {}).get("Attributes", {})
                self.events.append((event.get("Action", ""), attributes["agent-oven.run"]))
        except Exception:  # the stream ends when stop() closes it
            return

    def stop(self) -> Counter[str]:
        """How often each run id was started."""
        self._stream.close()
        self._thread.join(timeout=10)
        return Counter(run_id for action, run_id in self.events if action == "start")


def run_records(status: StatusBranch, jobs: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {run["run_id"]: run for job_id in jobs for run in status.runs(job_id)}


def assert_no_record_lost(
    started: Counter[str], status: StatusBranch, jobs: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Every started container has exactly one final run file; no run id started twice."""
    twice = {run_id: n for run_id, n in started.items() if n > 1}
    assert not twice, f"run ids started more than once: {twice}"
    records = run_records(status, jobs)
    missing = sorted(set(started) - set(records))
    assert not missing, f"containers without a run file: {missing}"
    unfinished = sorted(r for r in started if records[r]["status"] not in FINAL)
    assert not unfinished, f"runs never recorded as finished: {unfinished}"
    return records


def alive(*daemons: Daemon) -> None:
    for daemon in daemons:
        assert daemon.process is not None and daemon.process.poll() is None, (
            f"the daemon exited:\n{daemon.output()[-3000:]}"
        )


def daemon(repo: str, state: Path, instance: str, *extra: str) -> Daemon:
    """An `oven run` process on ``repo`` with its own state dir and log beside it."""
    state.parent.mkdir(parents=True, exist_ok=True)
    return Daemon(repo, state, instance, "--keep-runs", "1000", *extra)


class HostDaemon(Daemon):
    """`oven run` in a UTS namespace of its own, named ``host``: to the lease it is another
    machine (as a daemon in a container is). ``unshare`` and ``sh`` exec the daemon, so the
    process the test signals is the daemon itself."""

    def __init__(self, repo: str, state: Path, instance: str, host: str, *extra: str) -> None:
        super().__init__(repo, state, instance, "--keep-runs", "1000", *extra)
        self.host = host

    def start(self) -> Daemon:
        command = [
            "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', self.host,
            sys.executable, "-m", "reconciler", "run", "--repo", self.repo,
            "--listen", f"127.0.0.1:{self.port}", "--interval", "1", "--tick", "0.3",
            "--heartbeat", "5", "--state-dir", str(self.state_dir), "--instance", self.instance,
            *self.extra,
        ]  # as scenarios.harness.Daemon.start, inside the namespace
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        return self


def wind_down(
    bare: Path, status: StatusBranch, jobs: Iterable[str], client: docker.DockerClient,
    instance: str,
) -> None:
    """Remove the jobs; wait until that revision is applied, every run is recorded as final
    and every container of the instance is gone (removed only after its result is committed).
    """
    jobs = list(jobs)
    head = push_files(bare, "main", {f"jobs/{job_id}.yaml": None for job_id in jobs}, "done")

    def settled() -> bool:
        if status.reconciler().get("applied_revision") != head:
            return False
        runs = run_records(status, jobs).values()
        left = client.containers.list(
            all=True, filters={"label": f"agent-oven.instance={instance}"}, ignore_removed=True
        )
        return bool(runs) and all(r["status"] in FINAL for r in runs) and not left

    wait_until(settled, 90, "the jobs removed, every run final and every container gone")
