"""A restarted daemon reads the manifests it parsed before from its state directory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from support.gitutil import make_bare, push_files

from reconciler.clock import FakeClock
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.ledger.memory import MemoryLedger
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.git import GitSource

T0 = datetime(2026, 12, 1, tzinfo=UTC)
JOB = (
    "id: job-{n}\nname: Job\ntype: docker\nimage: busybox\n"
    "schedule: {{type: interval, every: 5m}}\n"
)


def daemon(bare: Path, state: Path, clock: FakeClock) -> Reconciler:
    return Reconciler(
        Settings(repo=str(bare), state_dir=state, heartbeat=3600, instance="cache"),
        source=GitSource(str(bare), "main", state),
        executor=MemoryExecutor(MemoryEngine(clock), state_dir=state, instance="cache"),
        ledger=MemoryLedger(),
        clock=clock,
    )


def test_a_restart_parses_no_manifest_it_parsed_before(tmp_path: Path) -> None:
    bare = make_bare(tmp_path / "config.git")
    push_files(bare, "main", {f"jobs/job-{n}.yaml": JOB.format(n=n) for n in range(5)})
    state = tmp_path / "state"
    state.mkdir()
    clock = FakeClock(T0)
    first = daemon(bare, state, clock)
    first.tick(fetch=True)
    assert first.parse_cache.misses == 5
    assert list((state / "manifest-cache").glob("manifests-*.pickle"))

    again = daemon(bare, state, clock)
    again.tick(fetch=True)

    assert (again.parse_cache.hits, again.parse_cache.misses) == (5, 0)
    assert again.desired is not None and first.desired is not None
    assert again.desired.jobs == first.desired.jobs
