"""A restart reads summaries and the runs scheduling needs; older runs come when asked for.

Real git: the status branch is written by a ``GitLedger`` to a bare repository and a second
reconciler, with a mirror of its own, restarts from it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from starlette.testclient import TestClient
from support.gitutil import make_bare

from reconciler.clock import FakeClock
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.gitrepo import GitMirror
from reconciler.ledger.git import GitLedger
from reconciler.model import RunRecord
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.memory import MemorySource
from reconciler.status import dump_yaml, job_path, render_run, run_path
from reconciler.status.summary import job_summary
from reconciler.web import queries
from reconciler.web.app import create_app

T0 = datetime(2026, 11, 22, tzinfo=UTC)
KEEP = 4


def run(minute: int, status: str) -> RunRecord:
    when = T0 + timedelta(minutes=minute)
    return RunRecord(
        run_id=f"tick-{when:%Y%m%d-%H%M%S}",
        job_id="tick",
        trigger="schedule",
        status=status,  # type: ignore[arg-type]
        scheduled_for=when,
        started_at=when,
        finished_at=None if status == "running" else when + timedelta(seconds=5),
    )


HISTORY = [
    *(run(m, "succeeded") for m in range(5)),
    run(5, "failed"),  # no retry planned: not needed at start
    run(6, "failed").with_changes(next_retry_at=T0 + timedelta(minutes=6, seconds=30)),
    run(7, "running"),
]


def write_branch(bare: Path, state: Path) -> None:
    files: dict[str, bytes | None] = {run_path("tick", r.run_id): render_run(r) for r in HISTORY}
    summary = job_summary(None, "tick", HISTORY, previous={"name": "tick"})
    files[job_path("tick")] = dump_yaml(summary)
    GitLedger(GitMirror(str(bare), state / "writer.git")).write(files, "history")


def restarted(
    bare: Path, state: Path, jobs: tuple[str, ...] = ("tick",)
) -> tuple[Reconciler, GitLedger]:
    clock = FakeClock(T0 + timedelta(hours=1))
    source = MemorySource()
    yearly = {"type": "cron", "cron": "0 0 1 1 *"}
    source.commit(
        {
            f"jobs/{job}.yaml": yaml.safe_dump(
                {"id": job, "name": job, "type": "docker", "image": "busybox", "schedule": yearly}
            )
            for job in jobs
        }
    )
    ledger = GitLedger(GitMirror(str(bare), state / "mirror.git"))
    reconciler = Reconciler(
        Settings(repo="memory", state_dir=state, heartbeat=3600, keep_runs=KEEP),
        source=source,
        ledger=ledger,
        clock=clock,
        executor=MemoryExecutor(MemoryEngine(clock), state_dir=state, instance="t"),
    )
    reconciler.restore()
    return reconciler, ledger


def test_restart_loads_only_what_scheduling_needs_and_reads_the_rest_on_demand(
    tmp_path: Path,
) -> None:
    bare = make_bare(tmp_path / "config.git")
    write_branch(bare, tmp_path)
    reconciler, _ = restarted(bare, tmp_path)
    running, failed, oldest = HISTORY[-1].run_id, HISTORY[-2].run_id, HISTORY[0].run_id
    assert set(reconciler.book.runs) == {running, failed}  # active; failed with a retry due
    snapshot = reconciler.snapshot
    assert set(snapshot.jobs) == {"tick"} and oldest not in snapshot.runs
    every = queries.job_runs(snapshot, queries.RunQuery(job="tick", limit=50))
    assert [r["run_id"] for r in every] == [r.run_id for r in reversed(HISTORY)]
    page = queries.job_runs(snapshot, queries.RunQuery(job="tick", limit=2, offset=6))
    assert [r["run_id"] for r in page] == [HISTORY[1].run_id, oldest]
    client = TestClient(create_app(reconciler.snapshots.get))
    assert client.get(f"/api/v1/runs/{oldest}").json()["status"] == "succeeded"
    assert client.get(f"/runs/{oldest}").status_code == 200
    assert client.get("/api/v1/runs/tick-20000101-000000").status_code == 404


def test_a_job_whose_runs_change_loads_its_history_and_prunes_to_keep_runs(
    tmp_path: Path,
) -> None:
    bare = make_bare(tmp_path / "config.git")
    write_branch(bare, tmp_path)
    reconciler, ledger = restarted(bare, tmp_path)
    reconciler.tick(fetch=True)  # the running run has no container: it vanished
    assert reconciler.book.runs[HISTORY[-1].run_id].status == "failed"
    assert reconciler.history.loaded == {"tick"}
    on_branch = sorted(p for p in ledger.read() if p.startswith("status/runs/tick/"))
    retry = f"{HISTORY[-2].run_id}-a2"  # the planned retry started too
    assert retry in reconciler.book.runs
    newest = [run_path("tick", r.run_id) for r in HISTORY[-3:]] + [run_path("tick", retry)]
    assert on_branch == sorted(newest)  # the older files were pruned, loaded or not
    summary = reconciler.snapshot.jobs["tick"]
    assert summary["consecutive_failures"] == 3 and summary["last_run"]["status"] == "failed"


def test_a_job_not_loaded_keeps_what_its_summary_says_about_its_runs(tmp_path: Path) -> None:
    bare = make_bare(tmp_path / "config.git")
    write_branch(bare, tmp_path)
    ledger = GitLedger(GitMirror(str(bare), tmp_path / "writer.git"))
    ledger.read()
    quiet = [run(m, "succeeded") for m in range(3)]
    ledger.write(
        {run_path("quiet", r.run_id): render_run(r) for r in quiet}
        | {job_path("quiet"): dump_yaml(job_summary(None, "quiet", quiet))},
        "quiet",
    )
    reconciler, _ = restarted(bare, tmp_path, ("tick", "quiet"))
    reconciler.tick(fetch=True)
    summary = reconciler.snapshot.jobs["quiet"]  # its runs did not change: not loaded
    assert summary["success_rate"] == 1.0 and summary["last_run"]["run_id"] == quiet[-1].run_id
    assert "quiet" not in reconciler.history.loaded


def test_a_run_read_by_id_is_kept_until_it_is_pruned(tmp_path: Path) -> None:
    """The pages ask for the same old run again and again: it is read from git once, and
    forgotten once a prune removes its file from the branch."""
    bare = make_bare(tmp_path / "config.git")
    write_branch(bare, tmp_path)
    reconciler, ledger = restarted(bare, tmp_path)
    oldest = HISTORY[0].run_id
    reads: list[list[str]] = []
    read_known = ledger.read_known

    def counted(paths):  # type: ignore[no-untyped-def]
        reads.append(list(paths))
        return read_known(paths)

    ledger.read_known = counted  # type: ignore[method-assign]
    first = reconciler.history.find(oldest)
    assert first is not None and first["status"] == "succeeded" and len(reads) == 1
    assert reconciler.history.find(oldest) == first and len(reads) == 1  # kept
    reconciler.tick(fetch=True)  # the job's runs change: its older files are pruned
    assert run_path("tick", oldest) not in ledger.read()
    assert reconciler.history.find(oldest) is None
    assert (
        TestClient(create_app(reconciler.snapshots.get)).get(f"/runs/{oldest}").status_code == 404
    )
