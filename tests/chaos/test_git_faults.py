"""Git faults against a real `oven run` daemon, a real remote and the real Docker engine.

Each row breaks git the way people, disks and `git gc` do while short jobs run every two
seconds: the daemon stays up, reports the fault (log and status page), recovers when the
fault ends, and loses no run record (every container the engine started has a final run
file on the status branch, and none started twice).
"""

from __future__ import annotations

import random
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from chaos.gitchaos import (  # noqa: F401  (engine is a fixture)
    Creations,
    alive,
    assert_no_record_lost,
    daemon,
    engine,
    new_instance,
    ours,
    run_records,
    wind_down,
)
from scenarios.harness import StatusBranch, git, make_bare, manifest, push_files, wait_until

pytestmark = pytest.mark.docker

ECHO, FAIL = ours("fault-echo"), ours("fault-fail")
JOBS = {
    ECHO: {"schedule": {"type": "interval", "every": "2s"}},
    FAIL: {
        "schedule": {"type": "interval", "every": "3s"},
        "command": ["sh", "-c", "exit 3"],
    },
}


class World:
    """A bare config repo with the jobs, a daemon on it, and the engine's creations."""

    def __init__(
        self, tmp: Path, client: docker.DockerClient, bare: Path, url: str | None = None
    ) -> None:
        self.bare = make_bare(bare)
        push_files(self.bare, "main", {
            f"jobs/{job_id}.yaml": manifest(job_id, **spec) for job_id, spec in JOBS.items()
        }, "jobs")
        self.url = url or str(self.bare)
        self.instance = new_instance()
        self.state = tmp / "a" / "state"
        self.status = StatusBranch(self.bare)
        self.client = client
        self.creations = Creations(client, self.instance)
        self.daemon = daemon(self.url, self.state, self.instance).start()

    def recorded(self) -> int:
        return len([r for r in run_records(self.status, JOBS).values() if r["status"] != "running"])

    def wait_for_new_records(self, more: int = 2, timeout: float = 45) -> None:
        before = self.recorded()
        wait_until(lambda: self.recorded() >= before + more, timeout, f"{more} more run records")

    def health(self) -> dict:
        return dict(self.daemon.get_json("/api/v1/health"))

    def wind_down(self) -> dict[str, dict]:
        """Remove the jobs, let every run end and be recorded; check nothing was lost."""
        wind_down(self.bare, self.status, JOBS, self.client, self.instance)
        alive(self.daemon)
        self.daemon.stop()
        return assert_no_record_lost(self.creations.stop(), self.status, JOBS)


@pytest.fixture
def world(tmp_path: Path, engine: docker.DockerClient) -> Iterator[World]:  # noqa: F811
    made = World(tmp_path, engine, tmp_path / "remote.git")
    yield made
    made.daemon.stop()


def test_a_garbage_branch_on_the_remote(world: World) -> None:
    world.wait_for_new_records()
    good = git("--git-dir", str(world.bare), "rev-parse", "main")
    (world.bare / "refs" / "heads" / "main").write_text("garbage\n")

    def reported() -> bool:
        ready = next((c for c in world.health()["conditions"] if c["type"] == "Ready"), {})
        return ready.get("status") == "False" and "damaged" in ready.get("message", "")

    wait_until(reported, 30, "the page to report the damaged remote")
    assert "git fsck" in world.health()["message"]
    assert "repository there is damaged" in world.daemon.output()
    time.sleep(3)  # jobs keep running on the last good revision meanwhile
    alive(world.daemon)
    world.daemon.kill()  # a restart while the remote is broken comes up and says why
    world.daemon.start()
    wait_until(world.daemon.serving, 30, "the restarted daemon to serve its page")
    wait_until(reported, 30, "the restarted daemon to report the damaged remote")
    alive(world.daemon)

    (world.bare / "refs" / "heads" / "main").write_text(good + "\n")
    wait_until(lambda: world.health()["state"] == "Ready", 30, "Ready again")
    world.wait_for_new_records()
    records = world.wind_down()
    echo = [r for r in records.values() if r["job_id"] == ECHO]
    # a run in flight when wind_down removes the job is cancelled as JobRemoved (as in
    # test_two_daemons); every other one succeeded
    assert {r["status"] for r in echo} - {"cancelled"} == {"succeeded"}, echo
    assert all(r["error"]["class"] == "JobRemoved" for r in echo if r["status"] == "cancelled")


def test_git_gc_with_bitmaps_between_pushes(world: World) -> None:
    world.wait_for_new_records(1)
    last = ""
    for round_ in range(5):
        git("-C", str(world.bare), "-c", "repack.writeBitmaps=true", "gc", "--quiet")
        assert any(p.suffix == ".bitmap" for p in (world.bare / "objects" / "pack").iterdir())
        spec = {**JOBS[ECHO], "description": f"round {round_}"}
        last = push_files(world.bare, "main", {f"jobs/{ECHO}.yaml": manifest(ECHO,
                                                                               **spec)})
        time.sleep(2.5)  # the daemon fetches and pushes status (a pack without a bitmap)
    wait_until(
        lambda: world.status.reconciler().get("applied_revision") == last, 30,
        "the last pushed revision to be applied",
    )
    world.wait_for_new_records()
    output = world.daemon.output()
    assert ".bitmap" not in output and "FileNotFoundError" not in output
    assert "failed:" not in output, output[-3000:]
    world.wind_down()


def test_a_broken_mirror_is_recreated(world: World) -> None:
    mirror = world.state / "mirror.git"
    breakages = [
        lambda: (mirror / "refs" / "heads" / "main").write_text("garbage\n"),
        lambda: (mirror / "packed-refs").write_text("nonsense line\n"),
        lambda: [pack.write_bytes(b"\xff" * 64)
                 for pack in (mirror / "objects" / "pack").glob("*.pack")],
    ]
    for number, breakage in enumerate(breakages, start=1):
        world.wait_for_new_records(1)
        breakage()
        wait_until(lambda n=number: world.daemon.output().count("re-creating it from") >= n,
                   30, f"the mirror re-created after breakage {number}")
    world.wait_for_new_records(1)
    shutil.rmtree(mirror)  # gone altogether: simply fetched again
    world.wait_for_new_records()
    alive(world.daemon)
    world.wind_down()


def test_sigkill_during_status_pushes_over_git_daemon(
    tmp_path: Path, engine: docker.DockerClient, git_daemon  # noqa: F811
) -> None:
    """Status pushes every few hundred milliseconds; kills land before, during and after."""
    name = f"{new_instance()}.git"
    world = World(tmp_path, engine, Path(git_daemon.base) / name, git_daemon.url(name))
    rng = random.Random(6)
    try:
        for _ in range(6):
            time.sleep(rng.uniform(0.8, 3.0))
            world.daemon.signal(signal.SIGKILL)
            world.daemon.start()
        world.wait_for_new_records()
        git("--git-dir", str(world.bare), "fsck", "--strict")
        world.wind_down()
    finally:
        world.daemon.stop()


def test_a_force_push_of_the_status_branch(world: World) -> None:
    world.wait_for_new_records(3)
    before = set(run_records(world.status, JOBS))
    work = world.bare.parent / "rewrite"
    git("init", "--quiet", "--initial-branch=x", str(work))
    (work / "status").mkdir()
    (work / "status" / "by-hand.yaml").write_text("note: a person rewrote this branch\n")
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "start over", cwd=work)

    def force_push() -> bool:  # the daemon pushes status every tick: a push may meet one of
        try:  # its updates ("cannot lock ref ... expected"); a person would push again
            git("push", "--quiet", "--force", str(world.bare), "HEAD:refs/heads/oven-status",
                cwd=work)
        except AssertionError as exc:
            if "cannot lock ref" not in str(exc):
                raise
            return False
        return True

    wait_until(force_push, 30, "a force push that does not meet a push of the daemon")

    wait_until(lambda: "writing the whole current status again" in world.daemon.output(), 30,
               "the daemon to notice and say so")
    wait_until(lambda: before <= set(run_records(world.status, JOBS)), 30,
               "every run file written again")
    assert "status/by-hand.yaml" in world.status.paths()
    assert f"status/jobs/{ECHO}.yaml" in world.status.paths()
    alive(world.daemon)
    world.wind_down()
