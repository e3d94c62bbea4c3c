"""Concurrent starts and the due-time heap, on the in-memory engine with a fake clock.

Many runs due in one tick start together (``--start-concurrency``), each run id once, each
start booked once; an engine that goes down in the middle loses no run: the jobs whose starts
did not happen are decided again. Quiet ticks decide nothing, yet a run that ends, a config
change or a fire time each bring their job's decision back.
"""

from __future__ import annotations

import threading
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
from reconciler.settings import Settings
from reconciler.source.memory import MemorySource

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
