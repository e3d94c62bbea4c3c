"""Benchmark: the cost of one quiet reconcile tick as the number of jobs and kept runs grows.

Machines here are noisy, so every figure is a ratio against baselines measured in the same
run, interleaved tick by tick: the tick as it was before the due-time heap ("full": every
job decided, every job's report and the whole read model worked out again each tick, done
here by dropping those caches before the tick), and the bare ``decide()`` calls for the same
jobs. Figures are CPU time of the process per tick; a daemon ticks once a second, so 50 ms is
5 % of a core. Uses the in-memory adapters: it measures our code, not Docker or git.

    make bench            # or: PYTHONPATH=. python bench/run.py [--jobs 50 500 10000] [--quick]
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
            {
                "id": f"job-{n}",
                "name": f"Job {n}",
                "type": "docker",
                "image": "busybox",
                "schedule": schedule,
                "policy": {"concurrency": "allow"},
            }
        )
    return files


def build(count: int, tmp: Path) -> tuple[Reconciler, FakeClock, MemoryExecutor]:
    clock = FakeClock(T0)
    source = MemorySource()
    source.commit(manifests(count))
    executor = MemoryExecutor(MemoryEngine(clock), state_dir=tmp, instance="bench")
    settings = Settings(repo="memory", state_dir=tmp, heartbeat=10**9, keep_runs=20)
    reconciler = Reconciler(
        settings, source=source, executor=executor, ledger=MemoryLedger(), clock=clock
    )
    return reconciler, clock, executor


def warm_up(
    reconciler: Reconciler, clock: FakeClock, executor: MemoryExecutor, minutes: int = 60
) -> None:
    """History: every job runs and finishes each minute (an hour: 20 runs kept per job)."""
    reconciler.tick(fetch=True)
    for _ in range(minutes):
        clock.advance(60)
        reconciler.tick()
        for run in executor.observe():
            if run.is_running:
                executor.finish(run.run_id, 0)
        clock.advance(1)
        reconciler.tick()


def time_ticks(reconciler: Reconciler, clock: FakeClock, rounds: int) -> tuple[float, float]:
    """Median CPU seconds of a quiet tick, ours and with every cache dropped ("full"),
    interleaved."""
    ours, full = [], []
    for n in range(rounds * 2):
        clock.advance(0.5)  # a quiet tick: nothing due, nothing finished
        if n % 2:
            forget_caches(reconciler)
        started = time.process_time()
        reconciler.tick()
        (full if n % 2 else ours).append(time.process_time() - started)
    return statistics.median(ours), statistics.median(full)


def forget_caches(reconciler: Reconciler) -> None:
    """The tick as before the due-time heap: every job decided and reported again."""
    reconciler.dispatch._due.reset()
    reconciler._facts_of = None


def time_decides(reconciler: Reconciler, clock: FakeClock, rounds: int) -> float:
    assert reconciler.desired is not None
    jobs = list(reconciler.desired.jobs.values())
    tracks = reconciler.book.tracks
    samples = []
    for _ in range(rounds):
        now = clock.now()
        started = time.process_time()
        for job in jobs:
            track = tracks[job.id]
            decide(job, track.last_scheduled, track.created_at, 0, now)
        samples.append(time.process_time() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[50, 500, 10_000])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a shorter history")
    args = parser.parse_args()
    rounds = 5 if args.quick else args.rounds
    print("| work | Agent Oven | baseline | ratio | goal | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for count in args.jobs:
        minutes = 2 if count > 1000 or args.quick else 60
        with tempfile.TemporaryDirectory() as tmp:
            reconciler, clock, executor = build(count, Path(tmp))
            warm_up(reconciler, clock, executor, minutes)
            decides = time_decides(reconciler, clock, rounds)
            ours, full = time_ticks(reconciler, clock, rounds)
            runs = len(reconciler.book.runs)
            goal, met = (
                ("≤ 50 ms (5 % of a core)", ours <= 0.05) if count >= 10_000 else ("–", True)
            )
            print(
                f"| quiet tick, {count} jobs, {runs} runs | {ours * 1e3:.1f} ms CPU | "
                f"full recompute {full * 1e3:.1f} ms; decide() only {decides * 1e3:.1f} ms | "
                f"{ours / full:.3f}× | {goal} | {'yes' if met else 'no'} |"
            )


if __name__ == "__main__":
    main()
