"""Whole reconcile cycles sharing one status branch, in one process on a fake clock.

Two reconcilers on one repo (the lease decides who schedules) and a status branch rewritten
by a force-push. Config source and ledger are real git (a bare repo, GitSource and GitLedger)
or in memory; the executor is the in-memory engine both reconcilers share, like two daemons
on one Docker engine. The same with real daemons and Docker is in tests/chaos/.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.gitutil import git, make_bare, push_files

from reconciler.clock import FakeClock
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.ledger.git import GitLedger
from reconciler.ledger.memory import MemoryLedger
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.source.memory import MemorySource
from reconciler.status import load_yaml

T0 = datetime(2026, 11, 22, 0, 0, 0, tzinfo=UTC)
JOB = yaml.safe_dump({
    "id": "tick", "name": "tick", "type": "docker", "image": "busybox", "command": ["true"],
    "schedule": {"type": "interval", "every": "10s"}, "policy": {"concurrency": "allow"},
})


@dataclass
class Repo:
    """The shared config repo and status branch, and how to make a source and ledger on it."""

    kind: str
    tmp: Path
    memory_source: MemorySource | None = None
    memory_ledger: MemoryLedger | None = None
    bare: Path | None = None
    made: int = 0

    def adapters(self) -> tuple[Any, Any]:
        if self.kind == "memory":
            return self.memory_source, self.memory_ledger
        self.made += 1
        assert self.bare is not None
        source = GitSource(str(self.bare), "main", self.tmp / f"state-{self.made}")
        return source, GitLedger(source.mirror, "oven-status")

    def status(self) -> dict[str, bytes]:
        return self.adapters()[1].read()  # type: ignore[no-any-return]

    def force_push(self, files: dict[str, str]) -> None:
        """Replace the status branch with one commit holding only ``files``."""
        if self.kind == "memory":
            assert self.memory_ledger is not None
            self.memory_ledger.force_write({p: c.encode() for p, c in files.items()})
            return
        assert self.bare is not None
        git("--git-dir", str(self.bare), "branch", "-D", "oven-status")
        push_files(self.bare, "oven-status", files, message="rewritten by a person")


@pytest.fixture(params=["memory", "git"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Repo:
    if request.param == "memory":
        source = MemorySource()
        source.commit({"jobs/tick.yaml": JOB})
        return Repo("memory", tmp_path, memory_source=source, memory_ledger=MemoryLedger())
    bare = make_bare(tmp_path / "config.git")
    push_files(bare, "main", {"jobs/tick.yaml": JOB})
    return Repo("git", tmp_path, bare=bare)


def reconciler(
    repo: Repo,
    clock: FakeClock,
    engine: MemoryEngine,
    name: str,
    executor: type[MemoryExecutor] = MemoryExecutor,
    ledger_wrapper: Callable[[Any], Any] = lambda ledger: ledger,
    **settings: Any,
) -> Reconciler:
    source, ledger = repo.adapters()
    ledger = ledger_wrapper(ledger)
    state = repo.tmp / name
    state.mkdir()
    return Reconciler(
        Settings(repo="shared", state_dir=state, heartbeat=3600, instance="ha", **settings),
        source=source,
        executor=executor(engine, state_dir=state, instance="ha"),
        ledger=ledger,
        clock=clock,
        leases=ledger,
    )


def run_files(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {
        path.rsplit("/", 1)[1][:-5]: load_yaml(data)
        for path, data in files.items()
        if path.startswith("status/runs/")
    }


def test_two_reconcilers_one_schedules_and_the_other_takes_over(repo: Repo) -> None:
    clock = FakeClock(T0)
    engine = MemoryEngine(clock)
    a = reconciler(repo, clock, engine, "a", lease_seconds=30)
    b = reconciler(repo, clock, engine, "b", lease_seconds=30)
    started_by: dict[str, str] = {}

    def tick_both(alive: tuple[tuple[str, Reconciler], ...]) -> None:
        for name, daemon in alive:
            before = set(engine.containers)
            daemon.tick(fetch=True)
            for new in set(engine.containers) - before:
                assert new not in started_by, f"{new} started twice"
                started_by[new] = name
        for run_id in [c for c, ct in engine.containers.items() if ct.state == "running"]:
            MemoryExecutor(engine, state_dir=repo.tmp, instance="ha").finish(
                run_id.removeprefix("oven-"), 0
            )

    for _ in range(12):  # two minutes, both alive
        tick_both((("a", a), ("b", b)))
        clock.advance(10)
    assert set(started_by.values()) == {"a"}
    assert b.snapshot.reconciler["role"] == "standby"
    assert "holds the lease" in b.snapshot.reconciler["standby"]["reason"]
    assert "role" not in a.snapshot.reconciler

    for _ in range(12):  # a dies (stops ticking); within the lease and a tenth b takes over
        tick_both((("b", b),))
        clock.advance(5)
    assert "b" in started_by.values()
    b_first = min(k for k, v in started_by.items() if v == "b")
    a_last = max(k for k, v in started_by.items() if v == "a")
    assert b_first > a_last

    files = repo.status()
    runs = run_files(files)
    assert {f"oven-{run_id}" for run_id in runs} == set(started_by), "one run file per start"
    assert {run["status"] for run in runs.values()} == {"succeeded"}
    assert load_yaml(files["status/jobs/tick.yaml"])["success_rate"] == 1.0
    assert yaml.safe_load(files["status/lease.yaml"])["holder"]["id"] == b.leadership.me.token


def test_a_force_pushed_status_branch_is_written_again_whole(repo: Repo, caplog) -> None:
    clock = FakeClock(T0)
    engine = MemoryEngine(clock)
    daemon = reconciler(repo, clock, engine, "only", lease_seconds=0)
    executor = MemoryExecutor(engine, state_dir=repo.tmp, instance="ha")
    for _ in range(4):
        clock.advance(10)
        daemon.tick(fetch=True)
        for observed in executor.observe():
            if observed.is_running:
                executor.finish(observed.run_id, 0)
    daemon.tick(fetch=True)
    before = repo.status()
    assert len(run_files(before)) == 3

    repo.force_push({"status/by-hand.yaml": "note: rewritten\n"})
    with caplog.at_level(logging.WARNING):
        clock.advance(1)
        daemon.tick(fetch=True)

    after = repo.status()
    assert "was rewritten" in caplog.text or "was deleted" in caplog.text
    assert "writing the whole current status again" in caplog.text
    assert run_files(after) == run_files(before)
    assert after["status/jobs/tick.yaml"] == before["status/jobs/tick.yaml"]
    assert "status/reconciler.yaml" in after
    assert after["status/by-hand.yaml"] == b"note: rewritten\n", "their file stays too"


# -- fencing: a leader whose lease ran out mid-tick ------------------------------------------


@pytest.fixture
def git_repo(tmp_path: Path) -> Repo:
    bare = make_bare(tmp_path / "config.git")
    push_files(bare, "main", {"jobs/tick.yaml": JOB})
    return Repo("git", tmp_path, bare=bare)


class SlowStarts(MemoryExecutor):
    """An engine whose next start hangs after creating its container (``stall``, once)."""

    stall: Callable[[], None] | None = None
    stalled: str | None = None  # the run whose start hung

    def start(self, request: Any) -> Any:
        observed = super().start(request)
        stall, self.stall = self.stall, None
        if stall is not None:
            self.stalled = request.run_id
            stall()
        return observed


class PausesBeforePush:
    """A's ledger: the next status write first runs ``pause`` (a frozen process), then writes."""

    def __init__(self, ledger: GitLedger) -> None:
        self.ledger = ledger
        self.pause: Callable[[], None] | None = None

    def write(self, files: Any, message: str) -> str | None:
        pause, self.pause = self.pause, None
        if pause is not None:
            pause()
        return self.ledger.write(files, message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)


def counting(started: list[str], base: type[MemoryExecutor] = MemoryExecutor) -> Any:
    """``base`` that notes each run it started in ``started``."""

    class Counting(base):  # type: ignore[valid-type,misc]
        def start(self, request: Any) -> Any:
            observed = super().start(request)
            started.append(request.run_id)
            return observed

    return Counting


def tip(repo: Repo) -> str:
    assert repo.bare is not None
    return git("--git-dir", str(repo.bare), "rev-parse", "oven-status")


def finish_all(engine: MemoryEngine, repo: Repo) -> None:
    executor = MemoryExecutor(engine, state_dir=repo.tmp, instance="ha")
    for observed in executor.observe():
        if observed.is_running:
            executor.finish(observed.run_id, 0)


def takes_over(b: Reconciler, clock: FakeClock | None) -> Callable[[], None]:
    """B ticks (its clock running on) until it holds the lease; A is stuck meanwhile."""

    def run() -> None:
        for _ in range(60):
            if clock is not None:
                clock.advance(2)
            b.tick(fetch=True)
            if b.leading:
                return
        raise AssertionError("b never took the lease over")

    return run


def check_every_run_recorded_once(repo: Repo, started: list[str]) -> dict[str, Any]:
    files = repo.status()
    runs = run_files(files)
    assert len(started) == len(set(started)), "no run started twice"
    assert set(runs) == set(started), "one run file per start: none lost, none extra"
    assert {run["status"] for run in runs.values()} == {"succeeded"}
    summary = load_yaml(files["status/jobs/tick.yaml"])
    assert summary["success_rate"] == 1.0
    return runs


def test_a_leader_whose_lease_runs_out_mid_tick_stands_by_and_writes_nothing(
    git_repo: Repo, caplog: pytest.LogCaptureFixture
) -> None:
    """A's start hangs longer than its lease; B takes over meanwhile and adopts the container
    A just started. A, back, checks its lease before recording: it stands by, pushes nothing
    on top of B, and the run it started is recorded once, by B."""
    clock = FakeClock(T0)
    engine = MemoryEngine(clock)
    started_runs: list[str] = []
    a = reconciler(
        git_repo, clock, engine, "a", counting(started_runs, SlowStarts), lease_seconds=30
    )
    b = reconciler(git_repo, clock, engine, "b", counting(started_runs), lease_seconds=30)
    for _ in range(4):
        a.tick(fetch=True)
        b.tick(fetch=True)
        finish_all(engine, git_repo)
        clock.advance(10)
    assert a.leading and not b.leading
    before = set(engine.containers)

    assert isinstance(a.executor, SlowStarts)
    a.executor.stall = takes_over(b, clock)  # B takes over while A's start hangs (> 30 s)
    with caplog.at_level(logging.INFO):
        a.tick(fetch=True)
    started = f"oven-{a.executor.stalled}"
    assert started in set(engine.containers) - before
    b_tip = tip(git_repo)

    assert b.leading and not a.leading
    assert a.snapshot.reconciler["role"] == "standby"
    assert "holds it now" in a.leadership.reason  # type: ignore[union-attr]
    assert a.leadership.holder == b.leadership.me  # type: ignore[union-attr]
    assert f"run {started.removeprefix('oven-')}: adopting its container" in caplog.text
    status = git_repo.status()
    lease = yaml.safe_load(status["status/lease.yaml"])
    assert lease["holder"]["id"] == b.leadership.me.token  # type: ignore[union-attr]
    assert b_tip == tip(git_repo), "A pushed nothing after B took over"
    assert load_yaml(status[f"status/runs/tick/{started.removeprefix('oven-')}.yaml"])[
        "status"
    ] == "running", "B recorded the run A started"

    for _ in range(6):  # B leads on; A stays standby and writes nothing
        a.tick(fetch=True)
        b.tick(fetch=True)
        finish_all(engine, git_repo)
        clock.advance(10)
    b.tick(fetch=True)
    finish_all(engine, git_repo)
    b.tick(fetch=True)  # records the last finish; nothing is due at the same time
    assert b.leading and not a.leading
    runs = check_every_run_recorded_once(git_repo, started_runs)
    assert started.removeprefix("oven-") in runs


def test_a_leader_frozen_between_its_check_and_its_push_is_refused_by_the_ledger(
    git_repo: Repo, caplog: pytest.LogCaptureFixture
) -> None:
    """A's lease check passes, then A freezes (its clock too) before it pushes, and B takes
    over: the git ledger finds B's lease at the new tip and refuses A's write (LeaseLost)."""
    clock_a, clock_b = FakeClock(T0), FakeClock(T0)
    engine = MemoryEngine(clock_a)
    a_runs: list[str] = []
    b_runs: list[str] = []
    a = reconciler(
        git_repo, clock_a, engine, "a", counting(a_runs), PausesBeforePush, lease_seconds=30
    )
    b = reconciler(git_repo, clock_b, engine, "b", counting(b_runs), lease_seconds=30)
    for _ in range(4):
        a.tick(fetch=True)
        b.tick(fetch=True)
        finish_all(engine, git_repo)
        clock_a.advance(10)
        clock_b.advance(10)
    assert a.leading and not b.leading
    before = len(a_runs)

    assert isinstance(a.ledger, PausesBeforePush)
    a.ledger.pause = takes_over(b, clock_b)  # only B's clock runs while A is frozen
    with caplog.at_level(logging.INFO):
        a.tick(fetch=True)
    (started,) = a_runs[before:]
    b_tip = tip(git_repo)

    assert b.leading and not a.leading
    assert "this daemon no longer leads and writes no status" in caplog.text
    assert a.leadership.holder == b.leadership.me  # type: ignore[union-attr]
    assert a.backoff["record"].error is None, "standing by is not a failure to retry"
    assert a.snapshot.reconciler["role"] == "standby"
    assert f"run {started}: adopting its container" in caplog.text
    assert b_tip == tip(git_repo), "A's write was refused, not rebased on top of B"
    assert a.ledger.ledger.queued == 0

    for _ in range(6):
        clock_a.advance(10)
        clock_b.advance(10)
        a.tick(fetch=True)
        b.tick(fetch=True)
        finish_all(engine, git_repo)
    b.tick(fetch=True)
    finish_all(engine, git_repo)
    b.tick(fetch=True)  # records the last finish; nothing is due at the same time
    assert b.leading and not a.leading
    runs = check_every_run_recorded_once(git_repo, a_runs + b_runs)
    assert started in runs


class HeldStarts(MemoryExecutor):
    """An engine whose starts create the container, then hang until ``release`` is set."""

    release = threading.Event()

    def start(self, request: Any) -> Any:
        observed = super().start(request)
        self.release.wait(10)
        return observed


def test_starts_not_booked_when_a_daemon_stood_by_are_adopted_never_booked_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A start handed to the engine, then the daemon stood by (its book is read again from the
    status branch when it leads again): the old start is never booked into the new book (it
    could undo what the other leader recorded); the container is adopted like any other."""
    source = MemorySource()
    source.commit({"jobs/tick.yaml": JOB})
    repo = Repo("memory", tmp_path, memory_source=source, memory_ledger=MemoryLedger())
    clock = FakeClock(T0)
    engine = MemoryEngine(clock)
    HeldStarts.release = threading.Event()
    a = reconciler(repo, clock, engine, "a", HeldStarts, start_wait=0.0)
    a.tick(fetch=True)
    clock.advance(10)
    with caplog.at_level(logging.INFO):
        a.tick(fetch=True)
        (run_id,) = a.dispatch.starting_runs()
        assert f"oven-{run_id}" in engine.containers

        a.restored = False  # it stood by, and leads again: it reads its book again
        a._restore(clock.now())
        assert not a.dispatch.starting(run_id)
        HeldStarts.release.set()
        a.tick()

    assert f"run {run_id}: adopting its container" in caplog.text
    assert f"run {run_id}: started (schedule)" not in caplog.text
    assert a.book.runs[run_id].status == "running"
