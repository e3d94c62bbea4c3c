"""Concurrent starts and the due-time heap, on the in-memory engine with a fake clock.

Many runs due in one tick start together (``--start-concurrency``), each run id once, each
start booked once; an engine that goes down in the middle loses no run: the jobs whose starts
did not happen are decided again. Quiet ticks decide nothing, yet a run that ends, a config
change or a fire time each bring their job's decision back.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.clock import FakeClock
from reconciler.errors import EngineUnavailable
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.interfaces import ObservedRun, RunRequest
from reconciler.ledger.memory import MemoryLedger
from reconciler.reconcile import Reconciler
from reconciler.runids import scheduled_run_id
from reconciler.settings import Settings
from reconciler.source.memory import MemorySource
from reconciler.spool import RequestSpool

T0 = datetime(2026, 11, 22, 0, 0, 0, tzinfo=UTC)


def job(job_id: str, **fields: Any) -> str:
    data: dict[str, Any] = {
        "id": job_id,
        "name": job_id,
        "type": "docker",
        "image": "busybox",
        "command": ["true"],
        "schedule": {"type": "interval", "every": "10s"},
        "policy": {"concurrency": "forbid"},
    }
    data.update(fields)
    return yaml.safe_dump(data)


class CountingExecutor(MemoryExecutor):
    """Counts starts per run id and how many ran at the same time; can fail some starts."""

    def __init__(self, engine: MemoryEngine, state_dir: Path) -> None:
        super().__init__(engine, state_dir=state_dir, instance="starts")
        self.calls: dict[str, int] = {}
        self.running = self.most = 0
        self.gate = threading.Barrier(4, timeout=5)  # 4 starts must overlap to pass
        self.use_gate = False
        self.down_for: set[str] = set()  # job ids whose start finds the engine down
        self._count = threading.Lock()

    def start(self, request: RunRequest) -> ObservedRun:
        with self._count:
            self.calls[request.run_id] = self.calls.get(request.run_id, 0) + 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if self.use_gate:
                self.gate.wait()
            if request.job_id in self.down_for:
                raise EngineUnavailable("cannot reach the engine (test)")
            return super().start(request)
        finally:
            with self._count:
                self.running -= 1


def world(
    tmp_path: Path, jobs: int, concurrency: int = 4
) -> tuple[Reconciler, FakeClock, CountingExecutor]:
    clock = FakeClock(T0)
    source = MemorySource()
    source.commit({f"jobs/j{n}.yaml": job(f"j{n}") for n in range(jobs)})
    executor = CountingExecutor(MemoryEngine(clock), tmp_path)
    settings = Settings(repo="memory", state_dir=tmp_path, start_concurrency=concurrency)
    reconciler = Reconciler(
        settings, source=source, executor=executor, ledger=MemoryLedger(), clock=clock
    )
    reconciler.tick(fetch=True)
    return reconciler, clock, executor


def test_runs_due_together_start_concurrently_each_once_and_are_booked_once(
    tmp_path: Path,
) -> None:
    reconciler, clock, executor = world(tmp_path, jobs=8)
    executor.use_gate = True  # would time out (BrokenBarrierError) if starts ran one by one
    clock.advance(10)
    reconciler.tick()
    assert executor.most >= 4
    assert sorted(executor.calls.values()) == [1] * 8
    running = [r for r in reconciler.book.runs.values() if r.status == "running"]
    assert sorted(r.job_id for r in running) == sorted(f"j{n}" for n in range(8))
    executor.use_gate = False
    clock.advance(0.5)
    reconciler.tick()  # nothing more is due: no start is tried again
    assert sorted(executor.calls.values()) == [1] * 8


def test_an_engine_down_mid_start_loses_no_run_and_starts_none_twice(tmp_path: Path) -> None:
    reconciler, clock, executor = world(tmp_path, jobs=4)
    executor.down_for = {"j1", "j3"}
    clock.advance(10)
    reconciler.tick()
    started = {r.job_id for r in reconciler.book.runs.values()}
    assert started == {"j0", "j2"}  # the others were never booked ...
    assert reconciler.error is not None and reconciler.error.reason == "EngineUnavailable"
    executor.down_for = set()
    clock.advance(2)  # ... and start once the engine is back, for the same fire time
    reconciler.tick()
    runs = {r.job_id: r.run_id for r in reconciler.book.runs.values()}
    assert sorted(runs) == ["j0", "j1", "j2", "j3"]
    assert runs["j1"].endswith("000010") and runs["j3"].endswith("000010")
    assert all(count == 1 for run_id, count in executor.calls.items() if "j0" in run_id)
    assert len(reconciler.book.runs) == 4


def test_quiet_ticks_decide_nothing_but_an_end_or_a_fire_time_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconciler, clock, executor = world(tmp_path, jobs=3, concurrency=1)
    decided: list[str] = []
    schedule = reconciler.dispatch._schedule

    def counting(job: Any, now: datetime) -> None:
        decided.append(job.id)
        schedule(job, now)

    monkeypatch.setattr(reconciler.dispatch, "_schedule", counting)
    clock.advance(1)
    reconciler.tick()
    assert decided == []  # nothing due, nothing changed
    clock.advance(9)
    reconciler.tick()  # the fire time of every job
    assert sorted(decided) == ["j0", "j1", "j2"]
    decided.clear()
    clock.advance(1)
    reconciler.tick()  # the runs' own starts touched the jobs once
    decided.clear()
    clock.advance(1)
    reconciler.tick()
    assert decided == []
    run = next(r for r in reconciler.book.runs.values() if r.job_id == "j1")
    executor.finish(run.run_id, 0)
    clock.advance(1)
    reconciler.tick()
    assert "j1" in decided and "j0" not in decided  # the run that ended brought j1 back
    assert reconciler._next_tick(clock.now()) <= datetime(2026, 11, 22, 0, 0, 20, 100000, UTC)


class HeldExecutor(MemoryExecutor):
    """Starts the container, then holds the start of the jobs in ``hold`` until released:
    the container exists while the daemon still waits for its start to return."""

    def __init__(self, engine: MemoryEngine, state_dir: Path) -> None:
        super().__init__(engine, state_dir=state_dir, instance="held")
        self.hold: set[str] = set()
        self.release = threading.Event()
        self.calls: dict[str, int] = {}
        self._count = threading.Lock()

    def start(self, request: RunRequest) -> ObservedRun:
        with self._count:
            self.calls[request.run_id] = self.calls.get(request.run_id, 0) + 1
        started = super().start(request)
        if request.job_id in self.hold:
            assert self.release.wait(10), "the test never released the start"
        return started


def held_world(
    tmp_path: Path, jobs: dict[str, str]
) -> tuple[Reconciler, FakeClock, HeldExecutor, RequestSpool]:
    clock = FakeClock(T0)
    source = MemorySource()
    source.commit({f"jobs/{job_id}.yaml": text for job_id, text in jobs.items()})
    executor = HeldExecutor(MemoryEngine(clock), tmp_path)
    settings = Settings(repo="memory", state_dir=tmp_path, start_concurrency=4, start_wait=0.0)
    spool = RequestSpool(tmp_path)
    reconciler = Reconciler(
        settings, source=source, executor=executor, ledger=MemoryLedger(), clock=clock, spool=spool
    )
    reconciler.tick(fetch=True)
    return reconciler, clock, executor, spool


def tick_until(reconciler: Reconciler, clock: FakeClock, done: Any, ticks: int = 200) -> None:
    for _ in range(ticks):
        if done():
            return
        clock.advance(0.01)
        reconciler.tick()
        time.sleep(0.005)  # let a worker thread finish its start
    raise AssertionError("the condition never came true")


def runs_of(reconciler: Reconciler, job_id: str) -> list[str]:
    return sorted(r.run_id for r in reconciler.book.runs.values() if r.job_id == job_id)


def test_a_slow_start_keeps_no_other_fire_waiting_and_is_booked_once(tmp_path: Path) -> None:
    jobs = {
        "slow": job("slow"),
        "fast": job(
            "fast", schedule={"type": "interval", "every": "5s"}, policy={"concurrency": "allow"}
        ),
    }
    reconciler, clock, executor, _ = held_world(tmp_path, jobs)
    executor.hold = {"slow"}
    clock.advance(10)
    reconciler.tick()  # both due: neither start is waited for
    tick_until(reconciler, clock, lambda: len(runs_of(reconciler, "fast")) == 1)
    clock.advance(5)  # the fast job fires again while the slow start is still going
    reconciler.tick()
    tick_until(reconciler, clock, lambda: len(runs_of(reconciler, "fast")) == 2)
    slow_run = scheduled_run_id("slow", datetime(2026, 11, 22, 0, 0, 10, tzinfo=UTC))
    assert executor.calls == {slow_run: 1, **{r: 1 for r in runs_of(reconciler, "fast")}}
    # the slow run's container exists, yet it is neither adopted nor booked, and its fire
    # time is not accounted for: a crash now leaves the status branch saying it never ran
    assert any(o.run_id == slow_run for o in executor.observe())
    assert runs_of(reconciler, "slow") == []
    assert reconciler.book.tracks["slow"].last_scheduled is None
    assert reconciler.error is None
    clock.advance(5)  # the slow job's next fire comes due while its start is still going
    reconciler.tick()
    tick_until(reconciler, clock, lambda: len(runs_of(reconciler, "fast")) == 3)
    assert executor.calls[slow_run] == 1 and len(executor.calls) == 1 + 3
    executor.release.set()
    tick_until(reconciler, clock, lambda: runs_of(reconciler, "slow") != [])
    assert runs_of(reconciler, "slow") == [slow_run]
    assert reconciler.book.runs[slow_run].status == "running"
    # booked: the fire time is accounted for, and the job is decided again at once
    # (forbid with an active run: the fire due meanwhile waits, nothing starts twice)
    track = reconciler.book.tracks["slow"]
    assert track.last_scheduled == datetime(2026, 11, 22, 0, 0, 10, tzinfo=UTC)
    assert "JobAlreadyActive" in track.reason
    assert sum(1 for run_id in executor.calls if run_id.startswith("slow")) == 1


def test_a_cancel_of_a_run_still_starting_waits_for_its_start(tmp_path: Path) -> None:
    reconciler, clock, executor, spool = held_world(tmp_path, {"slow": job("slow")})
    executor.hold = {"slow"}
    clock.advance(10)
    reconciler.tick()
    run_id = scheduled_run_id("slow", datetime(2026, 11, 22, 0, 0, 10, tzinfo=UTC))
    spool.submit_cancel("slow", run_id, requested_by="tester")
    for _ in range(3):
        clock.advance(0.5)
        reconciler.tick()
    assert [r.kind for r in spool.pending()] == ["cancel"]  # neither done nor rejected
    assert not spool.rejected.exists() or not any(spool.rejected.iterdir())
    executor.release.set()
    tick_until(reconciler, clock, lambda: run_id in reconciler.book.runs and not spool.pending())
    record = reconciler.book.runs[run_id]
    assert record.status == "cancelled" and record.error is not None
    assert record.error.cls == "CancelledByRequest"
    assert executor.calls == {run_id: 1}


def test_an_engine_down_during_a_start_that_outlived_its_tick_loses_no_run(
    tmp_path: Path,
) -> None:
    class DownExecutor(HeldExecutor):
        def start(self, request: RunRequest) -> ObservedRun:
            if request.job_id in self.hold:
                with self._count:
                    self.calls[request.run_id] = self.calls.get(request.run_id, 0) + 1
                assert self.release.wait(10)
                raise EngineUnavailable("cannot reach the engine (test)")
            return super().start(request)

    reconciler, clock, _, _ = held_world(tmp_path, {"j": job("j")})
    executor = DownExecutor(MemoryEngine(clock), tmp_path)
    reconciler.executor = reconciler.dispatch.executor = executor
    executor.hold = {"j"}
    clock.advance(10)
    reconciler.tick()
    executor.release.set()
    tick_until(reconciler, clock, lambda: reconciler.error is not None)
    assert reconciler.error is not None and reconciler.error.reason == "EngineUnavailable"
    assert runs_of(reconciler, "j") == [] and reconciler.book.tracks["j"].last_scheduled is None
    executor.hold = set()  # the engine is back: the same fire time starts, once
    tick_until(reconciler, clock, lambda: runs_of(reconciler, "j") != [], ticks=2000)
    assert runs_of(reconciler, "j") == [
        scheduled_run_id("j", datetime(2026, 11, 22, 0, 0, 10, tzinfo=UTC))
    ]


def test_a_manual_request_stays_spooled_until_its_slow_start_is_booked_and_starts_once(
    tmp_path: Path,
) -> None:
    manual = job("by-hand", schedule={"type": "manual"})
    reconciler, clock, executor, spool = held_world(tmp_path, {"by-hand": manual})
    executor.hold = {"by-hand"}
    submitted = spool.submit_manual("by-hand", "key-1")
    for _ in range(3):  # the tick does not wait for the start, nor does it start it again
        clock.advance(0.5)
        reconciler.tick()
    assert [r.kind for r in spool.pending()] == ["manual"]
    assert executor.calls == {submitted.run_id: 1}
    assert submitted.run_id not in reconciler.book.runs
    executor.release.set()
    tick_until(reconciler, clock, lambda: not spool.pending())
    assert reconciler.book.runs[submitted.run_id].status == "running"
    assert executor.calls == {submitted.run_id: 1}


def test_an_allow_job_starts_every_fire_while_an_earlier_start_is_still_going(
    tmp_path: Path,
) -> None:
    allow = job(
        "busy", schedule={"type": "interval", "every": "5s"}, policy={"concurrency": "allow"}
    )
    reconciler, clock, executor, _ = held_world(tmp_path, {"busy": allow})
    executor.hold = {"busy"}
    clock.advance(5)
    reconciler.tick()
    clock.advance(5)  # the next fire, the first start still going
    reconciler.tick()
    fires = [datetime(2026, 11, 22, 0, 0, s, tzinfo=UTC) for s in (5, 10)]
    assert executor.calls == {scheduled_run_id("busy", f): 1 for f in fires}
    track = reconciler.book.tracks["busy"]
    assert track.last_scheduled is None and track.missed_total == 0  # nothing booked yet
    executor.release.set()
    tick_until(reconciler, clock, lambda: len(runs_of(reconciler, "busy")) == 2)
    assert runs_of(reconciler, "busy") == sorted(scheduled_run_id("busy", f) for f in fires)
    assert track.last_scheduled == fires[1] and track.missed_total == 0
    assert all(count == 1 for count in executor.calls.values())
