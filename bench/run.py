"""Benchmark: the cost of one reconcile tick as the number of jobs and kept runs grows.

Machines here are noisy, so every figure is a ratio against a baseline measured in the same
run: the bare ``decide()`` calls for the same jobs (the irreducible scheduling work). A tick
adds observing containers, bookkeeping, job summaries and the status commit on top; the ratio
says how much. Uses the in-memory adapters, so it measures our code, not Docker or git.

    make bench            # or: .venv/bin/python bench/run.py [--jobs 50 200 500]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from reconciler.clock import FakeClock
from reconciler.decide import decide
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.ledger.memory import MemoryLedger
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.memory import MemorySource

T0 = datetime(2026, 11, 22, tzinfo=UTC)


def manifests(count: int) -> dict[str, str]:
    files = {}
    for n in range(count):
        schedule = (
            {"type": "cron", "cron": f"{n % 60} * * * *", "timezone": "Europe/Berlin"}
            if n % 2
            else {"type": "interval", "every": "1m"}
        )
        files[f"jobs/job-{n}.yaml"] = yaml.safe_dump(
            {"id": f"job-{n}", "name": f"Job {n}", "type": "docker", "image": "busybox",
             "schedule": schedule, "policy": {"concurrency": "allow"}}
        )
    return files


def build(count: int, tmp: Path) -> tuple[Reconciler, FakeClock, MemoryExecutor]:
    clock = FakeClock(T0)
    source = MemorySource()
    source.commit(manifests(count))
    executor = MemoryExecutor(MemoryEngine(clock), state_dir=tmp, instance="bench")
    settings = Settings(repo="memory", state_dir=tmp, heartbeat=10**9, keep_runs=20)
    reconciler = Reconciler(settings, source=source, executor=executor, ledger=MemoryLedger(),
                            clock=clock)
    return reconciler, clock, executor


def warm_up(reconciler: Reconciler, clock: FakeClock, executor: MemoryExecutor) -> None:
    """An hour of history: every job runs and finishes each minute, 20 runs kept per job."""
    reconciler.tick(fetch=True)
    for _ in range(60):
        clock.advance(60)
        reconciler.tick()
        for run in executor.observe():
            if run.is_running:
                executor.finish(run.run_id, 0)
        clock.advance(1)
        reconciler.tick()


def time_ticks(reconciler: Reconciler, clock: FakeClock, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        clock.advance(0.5)  # a quiet tick: nothing due, nothing finished
        started = time.perf_counter()
        reconciler.tick()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def time_decides(reconciler: Reconciler, clock: FakeClock, rounds: int) -> float:
    assert reconciler.desired is not None
    jobs = list(reconciler.desired.jobs.values())
    tracks = reconciler.book.tracks
    samples = []
    for _ in range(rounds):
        now = clock.now()
        started = time.perf_counter()
        for job in jobs:
            track = tracks[job.id]
            decide(job, track.last_scheduled, track.created_at, 0, now)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    header = ("jobs", "runs kept", "decide-only ms", "quiet tick ms", "ratio")
    print(f"{header[0]:>6} {header[1]:>10} {header[2]:>15} {header[3]:>14} {header[4]:>7}")
    for count in args.jobs:
        with tempfile.TemporaryDirectory() as tmp:
            reconciler, clock, executor = build(count, Path(tmp))
            warm_up(reconciler, clock, executor)
            baseline = time_decides(reconciler, clock, args.rounds)
            tick = time_ticks(reconciler, clock, args.rounds)
            runs = len(reconciler.book.runs)
            print(f"{count:>6} {runs:>10} {baseline * 1e3:>15.2f} {tick * 1e3:>14.2f} "
                  f"{tick / baseline:>7.2f}")


if __name__ == "__main__":
    main()
