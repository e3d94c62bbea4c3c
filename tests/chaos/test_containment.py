"""Containment: an error in one job, one file, one request or one step never ends the daemon.

Two halves. In process, on real git (a bare repo read by ``GitSource``, status written by
``GitLedger``) with the in-memory executor and a fake clock, faults are injected where no real
input reaches yet — an executor that raises ``RuntimeError`` for one job, a parser that raises
for one file — and the page and metrics are read from a real HTTP server over the cycle's read
model. As a real ``oven run`` process on the real Docker engine: malformed request files, a
garbage status branch, a container with unreadable labels (a real input that makes the Docker
adapter raise ``ValueError``), a container removed by hand, and a second ``dockerd`` that the
test owns, killed and restarted while a job runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from scenarios.harness import (
    Daemon,
    StatusBranch,
    make_bare,
    manifest,
    oven,
    push_files,
    wait_until,
)

import reconciler.manifests.tree
from reconciler.clock import FakeClock
from reconciler.errors import BUG_HINT
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.incidents import HOLD
from reconciler.interfaces import RunRequest
from reconciler.ledger.git import GitLedger
from reconciler.loop import tick_forever
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.spool import RequestSpool
from reconciler.web.app import create_app
from reconciler.web.server import ServerHandle, serve_in_thread

T0 = datetime(2026, 11, 22, 0, 0, 0, tzinfo=UTC)


# -- in process: a real git world with injected faults -----------------------------------------
def job(job_id: str, every: str = "10s", **fields: Any) -> str:
    data = {
        "id": job_id,
        "name": job_id,
        "type": "docker",
        "image": "busybox",
        "command": ["true"],
        "schedule": {"type": "interval", "every": every},
        **fields,
    }
    return yaml.safe_dump(data)


class FaultyExecutor(MemoryExecutor):
    """The memory executor, raising what a bug would raise: for one job, or on observe."""

    def __init__(self, engine: MemoryEngine, state_dir: Path) -> None:
        super().__init__(engine, state_dir=state_dir, instance="chaos")
        self.broken_job = ""
        self.observe_raises: Exception | None = None

    def start(self, request: RunRequest) -> Any:
        if request.job_id == self.broken_job:
            raise RuntimeError(f"injected fault starting {request.run_id}")
        return super().start(request)

    def observe(self) -> Any:
        if self.observe_raises is not None:
            raise self.observe_raises
        return super().observe()


@dataclass
class GitWorld:
    bare: Path
    clock: FakeClock
    executor: FaultyExecutor
    reconciler: Reconciler
    spool: RequestSpool
    state: Path

    def push(self, files: dict[str, str | None]) -> str:
        return push_files(self.bare, "main", files)

    def tick(self, seconds: float = 0) -> None:
        self.clock.advance(seconds)
        self.reconciler.tick(fetch=True)

    def runs(self, job_id: str) -> dict[str, dict[str, Any]]:
        return {r["run_id"]: r for r in readable_runs(StatusBranch(self.bare), job_id)}

    def status(self) -> dict[str, Any]:
        return StatusBranch(self.bare).reconciler()

    def restart(self) -> Reconciler:
        self.reconciler = new_reconciler(self.bare, self.state, self.clock, self.executor)
        self.reconciler.restore()
        return self.reconciler

    def finish_running(self) -> None:
        for observed in self.executor.observe():
            if observed.is_running:
                self.executor.finish(observed.run_id, 0)


def readable_runs(status: StatusBranch, job_id: str) -> list[dict[str, Any]]:
    """The job's run files, leaving out the garbage some tests put on the branch."""
    runs = []
    for path in status.paths():
        if path.startswith(f"status/runs/{job_id}/"):
            with contextlib.suppress(yaml.YAMLError):
                data = status.read(path)
                if isinstance(data, dict) and isinstance(data.get("run_id"), str):
                    runs.append(data)
    return runs


def new_reconciler(
    bare: Path, state: Path, clock: FakeClock, executor: FaultyExecutor
) -> Reconciler:
    source = GitSource(str(bare), "main", state)
    return Reconciler(
        Settings(repo=str(bare), state_dir=state, heartbeat=3600, interval=30),
        source=source,
        executor=executor,
        ledger=GitLedger(source.mirror, "oven-status"),
        clock=clock,
        spool=RequestSpool(state),
    )


@pytest.fixture
def world(tmp_path: Path) -> GitWorld:
    clock = FakeClock(T0)
    bare = make_bare(tmp_path / "config.git")
    state = tmp_path / "state"
    executor = FaultyExecutor(MemoryEngine(clock), tmp_path)
    reconciler = new_reconciler(bare, state, clock, executor)
    return GitWorld(bare, clock, executor, reconciler, RequestSpool(state), state)


@pytest.fixture
def page(world: GitWorld) -> Iterator[httpx.Client]:
    """The daemon's web app over the world's read model, on a real HTTP server."""
    app = create_app(lambda: world.reconciler.snapshot, ready=lambda: world.reconciler.ready())
    handle: ServerHandle = serve_in_thread(app)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client
    handle.stop()


def unexpected_count(metrics: str, step: str) -> float:
    match = re.search(rf'^oven_unexpected_errors_total{{step="{step}"}} (\S+)$', metrics, re.M)
    assert match, metrics
    return float(match.group(1))


def ready_condition(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def tracebacks(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(1 for r in caplog.records if r.exc_info and text in r.getMessage())


def test_one_job_that_raises_fails_its_own_runs_and_the_others_keep_running(
    world: GitWorld, page: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    world.push({"jobs/good.yaml": job("good"), "jobs/bad.yaml": job("bad")})
    world.executor.broken_job = "bad"
    world.tick()
    for _ in range(3):
        world.tick(10)
        world.finish_running()
    world.tick(1)

    good = world.runs("good")
    assert len(good) == 3 and {r["status"] for r in good.values()} == {"succeeded"}
    bad = world.runs("bad")
    assert len(bad) == 3 and {r["status"] for r in bad.values()} == {"failed"}
    error = next(iter(bad.values()))["error"]
    assert error["class"] == "UnexpectedError" and error["hint"] == BUG_HINT
    assert "RuntimeError: injected fault starting bad-" in error["message"]
    assert tracebacks(caplog, "schedule run bad-") == 3, "one traceback per distinct message"

    ready = ready_condition(world.status())
    assert (ready["status"], ready["reason"]) == ("False", "UnexpectedError")
    assert "RuntimeError" in ready["message"] and BUG_HINT in ready["message"]
    assert unexpected_count(page.get("/metrics").text, "schedule") == 3
    assert unexpected_count(page.get("/metrics").text, "observe") == 0
    readyz = page.get("/readyz")
    assert readyz.status_code == 503 and readyz.json()["reason"] == "UnexpectedError"

    world.executor.broken_job = ""
    world.clock.advance(HOLD.total_seconds())
    world.tick(10)
    assert page.get("/readyz").status_code == 200, "ready again once the bug stops showing"


def test_a_step_that_raises_is_logged_once_backs_off_and_recovers(
    world: GitWorld, page: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    world.push({"jobs/good.yaml": job("good")})
    world.tick()
    world.executor.observe_raises = TypeError("injected: 'NoneType' is not iterable")
    attempts = []
    for _ in range(40):
        before = world.reconciler.incidents.counts()["observe"]
        world.tick(1)
        attempts.append(world.reconciler.incidents.counts()["observe"] - before)
    assert tracebacks(caplog, "observe: unexpected TypeError") == 1, "logged once, not per tick"
    assert 5 <= sum(attempts) < 20, f"backs off: {attempts}"
    snapshot = world.reconciler.snapshot
    ready = ready_condition(snapshot.reconciler)
    assert (ready["status"], ready["reason"]) == ("False", "UnexpectedError")
    stalled = next(c for c in snapshot.reconciler["conditions"] if c["type"] == "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("False", "Retrying")
    assert unexpected_count(page.get("/metrics").text, "observe") == sum(attempts)
    assert page.get("/readyz").status_code == 503

    world.executor.observe_raises = None
    world.tick(30)  # the backoff never waits longer than the fetch interval
    assert ready_condition(world.reconciler.snapshot.reconciler)["status"] == "True"
    assert page.get("/readyz").status_code == 200
    assert world.runs("good"), "jobs run again"


def test_a_tick_that_raises_never_ends_the_loop(world: GitWorld) -> None:
    world.push({"jobs/good.yaml": job("good")})
    calls = {"n": 0}
    real_tick = world.reconciler.tick

    def flaky_tick(fetch: bool = False) -> datetime:
        calls["n"] += 1
        if calls["n"] <= 5:
            raise KeyError("injected bug outside every step")
        return real_tick(fetch)

    world.reconciler.tick = flaky_tick  # type: ignore[method-assign]
    stop, waits = asyncio.Event(), []

    async def fake_wait(seconds: float, stop_: asyncio.Event, wake: asyncio.Event) -> None:
        waits.append(seconds)
        world.clock.advance(seconds)
        if calls["n"] >= 8:
            stop.set()

    settings = Settings(repo="x", interval=30, tick=60)
    asyncio.run(tick_forever(world.reconciler, settings, stop, asyncio.Event(), fake_wait))
    assert calls["n"] == 8, "the loop went on after five failed ticks"
    assert world.reconciler.incidents.counts()["tick"] == 5
    assert waits[1:4] == sorted(waits[1:4]) and waits[3] > waits[1], f"backs off: {waits}"
    assert world.reconciler.desired is not None, "and the ticks after them worked"


def test_malformed_requests_are_rejected_with_a_reason_and_good_ones_served(
    world: GitWorld,
) -> None:
    world.push({"jobs/good.yaml": job("good", every="1h")})
    world.tick()
    requests = world.state / "requests"
    bad = {
        "list.json": "[1,2]",
        "notjson.json": "{oops",
        "kind.json": '{"kind": "weird", "job_id": "good"}',
        "nojob.json": '{"kind": "manual"}',
        "numbers.json": '{"kind": "manual", "job_id": 5}',
        "window.json": '{"kind": "backfill", "job_id": "good", "from": "9999-12-31T23:59:59-14:00",'
        ' "to": "9999-12-31T23:59:59Z"}',
        "unknown.json": '{"kind": "manual", "job_id": "nosuchjob"}',
    }
    for name, text in bad.items():
        (requests / name).write_text(text)
    world.spool.submit_manual("good", "k1")
    world.tick(1)

    rejected = requests / "rejected"
    assert sorted(p.name for p in rejected.glob("*.json")) == sorted(bad)
    reasons = {p.stem: p.read_text() for p in rejected.glob("*.reason")}
    assert "a request is a JSON object, this is a list" in reasons["list"]
    assert "not JSON" in reasons["notjson"] and "kind 'weird'" in reasons["kind"]
    assert "job_id is missing" in reasons["nojob"] and "job_id" in reasons["numbers"]
    assert "'from' is not an ISO 8601 time" in reasons["window"]
    assert "no job 'nosuchjob' in the config" in reasons["unknown"]
    assert list(requests.glob("*.json")) == [], "served or rejected, nothing left to retry"
    assert [r["trigger"] for r in world.runs("good").values()] == ["manual"]
    warnings = world.reconciler.snapshot.reconciler["warnings"]
    assert any("nosuchjob" in w for w in warnings), warnings
    assert (requests / "known-jobs").read_text().splitlines()[1:] == ["good"]

    world.tick(1)  # never read again
    assert sorted(p.name for p in rejected.glob("*.json")) == sorted(bad)
    world.restart()
    world.tick(1)
    assert world.reconciler.desired is not None


def test_a_manifest_whose_parsing_raises_is_a_problem_and_the_others_load(
    world: GitWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = reconciler.manifests.tree.parse_job_file

    def parse(path: str, *args: Any) -> Any:
        if path == "jobs/cursed.yaml":
            raise RecursionError("injected: maximum recursion depth exceeded")
        return real(path, *args)

    monkeypatch.setattr(reconciler.manifests.tree, "parse_job_file", parse)
    world.push({"jobs/good.yaml": job("good"), "jobs/cursed.yaml": job("cursed")})
    world.tick()
    assert sorted(world.reconciler.desired.jobs) == ["good"]  # type: ignore[union-attr]
    [problem] = world.status()["problems"]
    assert (problem["path"], problem["field"]) == ("jobs/cursed.yaml", "(file)")
    assert "unexpected RecursionError" in problem["message"] and BUG_HINT in problem["message"]
    world.tick(10)
    assert world.executor.observe(), "the good job runs"


def test_durations_are_never_negative_when_the_engine_says_it_ended_before_it_began(
    world: GitWorld,
) -> None:
    world.push({"jobs/good.yaml": job("good")})
    world.tick()
    world.tick(10)
    [running] = [o.run_id for o in world.executor.observe()]
    world.executor.finish(running, 0, at=T0 - timedelta(hours=1))
    world.tick(1)
    run = world.runs("good")[running]
    assert run["status"] == "succeeded" and run["duration_s"] == 0.0
    assert run["finished_at"] == run["started_at"]


GARBAGE_STATUS = {
    "status/reconciler.yaml": "conditions: 5\napplied_revision: [1]\n",
    "status/jobs/good.yaml": "just a string\n",
    "status/jobs/typed.yaml": "created_at: yesterday\nmissed_total: many\n",
    "status/runs/good/unparsable.yaml": "key: [unclosed\n",
    "status/runs/good/list.yaml": "[1, 2]\n",
    "status/runs/good/int-id.yaml": "run_id: 5\njob_id: good\ntrigger: schedule\nstatus: failed\n",
    "status/runs/good/wrong-place.yaml": "run_id: elsewhere\njob_id: other\n"
    "trigger: schedule\nstatus: failed\n",
    "status/runs/good/bad-types.yaml": "run_id: bad-types\njob_id: good\ntrigger: schedule\n"
    "status: succeeded\nattempt: first\nexit_code: zero\nstages: [1]\n",
    "status/runs/good/bad-time.yaml": "run_id: bad-time\njob_id: good\ntrigger: schedule\n"
    "status: running\nstarted_at: 9999-12-31T23:59:59-14:00\n",
    "status/runs/good/bad-status.yaml": "run_id: bad-status\njob_id: good\ntrigger: cron\n"
    "status: exploded\n",
    "status/notes.txt": "\x00\x01 binary garbage\n",
}


def test_a_restart_over_a_status_branch_full_of_garbage_comes_up(
    world: GitWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.push({"jobs/good.yaml": job("good")})
    world.tick()
    world.tick(10)
    world.finish_running()
    world.tick(1)
    [kept] = world.runs("good")
    push_files(world.bare, "oven-status", GARBAGE_STATUS, "garbage")

    restarted = world.restart()  # reads reconciler.yaml and the summaries at once
    skipped = [r.getMessage() for r in caplog.records if "skipped status/" in r.getMessage()]
    assert len(skipped) == 3, skipped
    world.tick(1)
    world.tick(10)  # good runs again: its run files are read now (notes.txt is not read)
    world.finish_running()
    world.tick(1)
    skipped = [r.getMessage() for r in caplog.records if "skipped status/" in r.getMessage()]
    assert len(skipped) == len(GARBAGE_STATUS) - 1, skipped
    assert kept in restarted.book.runs
    ours = [r for r in world.runs("good").values() if r["run_id"].startswith("good-")]
    assert [r["status"] for r in ours] == ["succeeded", "succeeded"]
    assert restarted.incidents.counts() == dict.fromkeys(restarted.incidents.counts(), 0)


# -- the real daemon on the real Docker engine ---------------------------------------------------
def request_files(state: Path) -> tuple[list[str], list[str]]:
    requests = state / "requests"
    return sorted(p.name for p in requests.glob("*.json")), sorted(
        p.name for p in (requests / "rejected").glob("*.json")
    )


@pytest.mark.docker
def test_the_daemon_rejects_malformed_requests_and_restarts_over_garbage(
    bare: Path, containment_daemon, tmp_path: Path
) -> None:
    status = StatusBranch(bare)
    push_files(bare, "main", {"jobs/tick.yaml": manifest("tick", schedule={"type": "manual"})})
    daemon = containment_daemon(f"file://{bare}")
    wait_until(lambda: daemon.serving() and daemon.get("/readyz")[0] == 200, 60, "ready")
    requests = daemon.state_dir / "requests"
    for name, text in {"a.json": "[1,2]", "b.json": "{", "c.json": '{"kind": "x"}'}.items():
        (requests / name).write_text(text)
    wait_until(lambda: len(request_files(daemon.state_dir)[1]) == 3, 30, "three rejected")
    assert (requests / "rejected" / "a.reason").read_text().startswith("a request is a JSON")
    assert daemon.process is not None and daemon.process.poll() is None, "still up"

    (requests / "d.json").write_text("[1,2]")  # and again, just before a restart
    daemon.stop()
    push_files(bare, "oven-status", GARBAGE_STATUS, "garbage on the status branch")
    daemon.start()
    wait_until(lambda: daemon.serving() and daemon.get("/readyz")[0] == 200, 60, "up again")
    wait_until(lambda: "d.json" in request_files(daemon.state_dir)[1], 30, "d.json rejected")
    done = oven("trigger", "tick", "--state-dir", str(daemon.state_dir))
    assert done.returncode == 0, done.stderr
    wait_until(  # served: a run with its final status (the engine may refuse to start it)
        lambda: [r for r in readable_runs(status, "tick") if r["finished_at"]],
        60,
        "a run",
    )
    assert "Traceback" not in daemon.output()
    assert "skipped status/runs/tick" not in daemon.output()
    assert "status branch: skipped status/jobs/good.yaml" in daemon.output()  # run files of
    # a job not in the config are never read (a job's runs are read when they are needed)


@pytest.mark.docker
def test_a_container_with_unreadable_labels_is_reported_not_fatal(
    bare: Path, containment_daemon, docker_client, instance: str
) -> None:
    """A real input that makes the Docker adapter raise ValueError on every observe: a container
    carrying this instance's labels and a scheduled-for label that is not a time. The step
    fails (contained), the daemon reports it and comes back when the container goes."""
    push_files(bare, "main", {"jobs/tick.yaml": manifest("tick")})
    daemon = containment_daemon(f"file://{bare}")
    wait_until(lambda: daemon.serving() and daemon.get("/readyz")[0] == 200, 60, "ready")
    stray = docker_client.containers.run(
        "agent-oven/busybox:latest",
        ["sleep", "120"],
        detach=True,
        labels={
            "agent-oven.managed": "true",
            "agent-oven.instance": instance,
            "agent-oven.run": "stray-1",
            "agent-oven.job": "tick",
            "agent-oven.scheduled-for": "not a time",
        },
    )
    try:
        wait_until(lambda: daemon.get("/readyz")[0] == 503, 30, "/readyz 503")
        body = json.loads(daemon.get("/readyz")[2])
        assert body["reason"] == "UnexpectedError" and "ValueError" in body["message"]
        metrics = daemon.get("/metrics")[2]
        assert unexpected_count(metrics, "observe") >= 1
        ready = wait_until(
            lambda: [
                c
                for c in StatusBranch(bare).reconciler().get("conditions", [])
                if c["type"] == "Ready" and c["reason"] == "UnexpectedError"
            ],
            30,
            "reconciler.yaml to say so",
        )[0]
        assert "observe: unexpected ValueError" in ready["message"]
        assert daemon.output().count("Traceback") == 1, "logged once"
    finally:
        stray.remove(force=True)
    assert daemon.process is not None and daemon.process.poll() is None
    wait_until(lambda: daemon.get("/readyz")[0] == 200, 60, "ready again when the step recovers")


@pytest.mark.docker
def test_a_container_removed_by_hand_is_recorded_as_vanished(
    bare: Path, containment_daemon, docker_client, instance: str
) -> None:
    status = StatusBranch(bare)
    push_files(
        bare,
        "main",
        {
            "jobs/slow.yaml": manifest(
                "slow", command=["sleep", "60"], schedule={"type": "interval", "every": "2s"}
            )
        },
    )
    daemon = containment_daemon(f"file://{bare}")
    mine = {"label": [f"agent-oven.instance={instance}", "agent-oven.job=slow"]}
    [container] = wait_until(
        lambda: docker_client.containers.list(filters=mine), 60, "the slow run's container"
    )
    run_id = container.labels["agent-oven.run"]
    # the daemon must not look during the removal: it would see the container exited (137)
    # for a moment, and record that (correctly) instead of a vanished container
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGSTOP)
    try:
        subprocess.run(["docker", "rm", "-f", container.id], check=True, capture_output=True)
    finally:
        daemon.process.send_signal(signal.SIGCONT)
    run = wait_until(
        lambda: [r for r in status.runs("slow") if r["run_id"] == run_id and r["error"]],
        30,
        "the vanished run's record",
    )[0]
    assert (run["status"], run["error"]["class"]) == ("failed", "ContainerVanished")
    assert daemon.process is not None and daemon.process.poll() is None
    wait_until(
        lambda: [c for c in docker_client.containers.list(filters=mine) if c.id != container.id],
        30,
        "the next run",
    )


def reason_is(daemon: Daemon, reason: str) -> dict[str, Any] | None:
    health: dict[str, Any] = daemon.get_json("/api/v1/health")
    return health if health["reason"] == reason else None


@pytest.mark.docker
def test_an_engine_restarted_while_a_job_runs_is_reported_and_loses_no_run(
    bare: Path, second_engine, tmp_path: Path, instance: str
) -> None:
    status = StatusBranch(bare)
    push_files(
        bare,
        "main",
        {
            "jobs/nap.yaml": manifest(
                "nap",
                command=["sh", "-c", "sleep 6; echo woke"],
                schedule={"type": "interval", "every": "3s"},
            )
        },
    )
    daemon = Daemon(f"file://{bare}", tmp_path / "state", instance).start(
        env={"DOCKER_HOST": second_engine.url}
    )
    try:
        running = wait_until(lambda: second_engine.running(instance), 60, "a run on engine 2")
        second_engine.kill()
        health = wait_until(lambda: reason_is(daemon, "EngineUnavailable"), 30, "engine down")
        assert "Docker" in health["message"] or "engine" in health["message"]
        assert daemon.get("/readyz")[0] == 503
        assert daemon.process is not None and daemon.process.poll() is None
        second_engine.start()
        wait_until(lambda: daemon.get("/readyz")[0] == 200, 60, "ready once the engine is back")
        for run_id in running:
            wait_until(
                lambda run_id=run_id: [
                    r for r in status.runs("nap") if r["run_id"] == run_id and r["finished_at"]
                ],
                60,
                f"the final record of {run_id}",
            )
        started = set(re.findall(r"run (nap-\S+): started", daemon.output()))
        wait_until(
            lambda: started <= {r["run_id"] for r in status.runs("nap")}, 30, "every run on file"
        )
    finally:
        daemon.stop()
