"""The run index against the obvious answer (sort everything, filter), through many changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.model import RunRecord
from reconciler.status.index import RunIndex, RunIndexer, run_key
from reconciler.status.view import SnapshotBuilder

T0 = datetime(2026, 3, 1, tzinfo=UTC)
STATUSES = ("succeeded", "failed", "timed_out", "running", "queued", "missed")


def record(job: str, minute: int, status: str, **changes: Any) -> RunRecord:
    when = T0 + timedelta(minutes=minute)
    return RunRecord(
        run_id=f"{job}-{when:%Y%m%d-%H%M%S}",
        job_id=job,
        trigger="schedule",
        status=status,  # type: ignore[arg-type]
        scheduled_for=when,
        started_at=when,
        **changes,
    )


def reference(
    runs: dict[str, dict[str, Any]],
    job: str | None,
    statuses: frozenset[str],
    since: float | None,
    offset: int,
    limit: int,
) -> list[str]:
    ordered = sorted(runs.values(), key=run_key, reverse=True)
    chosen = [
        r["run_id"]
        for r in ordered
        if (job is None or r["job_id"] == job)
        and (not statuses or r["status"] in statuses)
        and (since is None or run_key(r)[0] >= since)
    ]
    return chosen[offset : offset + limit]


def test_runs_without_any_time_sort_oldest_and_by_id() -> None:
    timeless = {"run_id": "b", "status": "queued"}
    assert run_key(timeless) == (0.0, "b")
    assert run_key({"run_id": "a", "finished_at": "1970-01-01T00:00:01Z"}) == (1.0, "a")
    assert run_key({"run_id": "x", "started_at": "garbage", "scheduled_for": "2026-03-01"})[0] > 0


@pytest.mark.parametrize("seed", range(5))
def test_every_query_answers_like_sorting_everything(seed: int) -> None:
    rng = random.Random(seed)
    indexer, runs = RunIndexer(), {}
    for _ in range(300):  # add, change and remove runs in any order
        if runs and rng.random() < 0.2:
            gone = rng.choice(sorted(runs))
            del runs[gone]
            indexer.update((), [gone])
            continue
        run = record(f"job-{rng.randrange(4)}", rng.randrange(60), rng.choice(STATUSES))
        data = dict(run.to_dict(), started_at=None) if rng.random() < 0.1 else run.to_dict()
        runs[run.run_id] = data
        indexer.update([data], ())
    index = indexer.freeze()
    assert index.counts() == {
        s: n for s in sorted(STATUSES) if (n := sum(r["status"] == s for r in runs.values()))
    }
    assert index.active() == {i for i, r in runs.items() if r["status"] in ("running", "queued")}
    for _ in range(200):
        job = rng.choice([None, "job-0", "job-3", "nope"])
        statuses = frozenset(rng.sample(STATUSES, rng.randrange(3)))
        since = rng.choice([None, (T0 + timedelta(minutes=rng.randrange(60))).timestamp()])
        offset, limit = rng.randrange(5), rng.randrange(1, 40)
        got = index.newest(job=job, statuses=statuses, since=since, offset=offset, limit=limit)
        assert got == reference(runs, job, statuses, since, offset, limit)


def test_a_frozen_version_never_changes_after_later_updates() -> None:
    indexer = RunIndexer()
    first = record("a", 1, "running").to_dict()
    indexer.update([first], ())
    version = indexer.freeze()
    indexer.update([dict(first, status="succeeded"), record("a", 2, "failed").to_dict()], ())
    assert version.newest() == [first["run_id"]] and version.counts() == {"running": 1}
    assert indexer.freeze().counts() == {"failed": 1, "succeeded": 1}
    assert indexer.freeze() is indexer.freeze()  # no change: the same version


def test_snapshot_made_by_hand_indexes_its_runs_on_first_use() -> None:
    runs = {r.run_id: r.to_dict() for r in (record("a", 1, "failed"), record("b", 2, "queued"))}
    assert RunIndex.of(runs).newest(statuses=frozenset({"failed"})) == [record("a", 1, "x").run_id]


def test_incremental_update_matches_building_from_every_run() -> None:
    rng = random.Random(7)
    book: dict[str, dict[str, RunRecord]] = {}
    changes: dict[str, int] = {}
    live = SnapshotBuilder()
    for step in range(60):
        job = f"job-{rng.randrange(5)}"
        runs = book.setdefault(job, {})
        if runs and rng.random() < 0.3:
            runs.pop(rng.choice(sorted(runs)))
        else:
            run = record(job, rng.randrange(30), rng.choice(STATUSES))
            runs[run.run_id] = run
        changes[job] = changes.get(job, 0) + 1
        summaries = {j: {"runs": len(r)} for j, r in book.items()}
        ours = live.update({"step": step}, summaries, book, changes)
        every = [r for rs in book.values() for r in rs.values()]
        fresh = SnapshotBuilder().build({"step": step}, summaries, every)
        assert ours.runs == fresh.runs and ours.jobs == fresh.jobs
        assert ours.run_index.newest(limit=1000) == fresh.run_index.newest(limit=1000)
        assert ours.version == step + 1


def test_an_unchanged_summary_stays_the_same_object_across_versions() -> None:
    builder = SnapshotBuilder()
    first = builder.update({}, {"a": {"n": 1}, "b": {"n": 1}}, {}, {})
    second = builder.update({}, {"a": {"n": 1}, "b": {"n": 2}}, {}, {})
    assert second.jobs["a"] is first.jobs["a"] and second.jobs["b"] == {"n": 2}
    assert builder.update({}, {"a": {"n": 1}, "b": {"n": 2}}, {}, {}).jobs is second.jobs
