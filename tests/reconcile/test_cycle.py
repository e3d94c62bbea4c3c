"""The reconcile cycle on a fake clock: every rule of run bookkeeping.

Every test runs twice: once with the config source and the ledger in memory, once on real git
(a bare repo in tmp_path, read by ``GitSource`` and written by ``GitLedger`` over the same
``GitMirror``, as the daemon wires them). The executor is always the in-memory one, so time
is fake and a run ends when the test says so. The same cycle on the real Docker engine is in
tests/scenarios/ (test_run_outcomes.py in process, test_end_to_end.py and test_daemon.py as
the ``oven run`` daemon).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.gitutil import git, make_bare, push_files

from reconciler.clock import FakeClock
from reconciler.errors import SourceError
from reconciler.executors.logfiles import read_log
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.ledger.git import GitLedger
from reconciler.ledger.memory import MemoryLedger
from reconciler.reconcile import Reconciler
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.source.memory import MemorySource
from reconciler.spool import RequestSpool
from reconciler.status import load_yaml

T0 = datetime(2026, 11, 22, 0, 0, 0, tzinfo=UTC)
Files = Mapping[str, str | None]


def job(job_id: str = "tick", **fields: Any) -> str:
    data: dict[str, Any] = {
        "id": job_id,
        "name": job_id,
        "type": "docker",
        "image": "busybox",
        "command": ["true"],
        "schedule": {"type": "interval", "every": "10s"},
    }
    data.update(fields)
    return yaml.safe_dump(data)


HOURLY_ALLOW = job(schedule={"type": "cron", "cron": "0 * * * *"}, policy={"concurrency": "allow"})


@dataclass
class Config:
    """How a world changes its config repo: a push, and the repo going out of reach and back."""

    push: Callable[[Files], str]  # commit the changes (None deletes); return the new revision
    break_source: Callable[[], str]  # make fetching fail; return a part of the expected message
    heal_source: Callable[[], None]


def memory_config(source: MemorySource) -> Config:
    def break_source() -> str:
        source.fail_with = SourceError("cannot reach git remote: connection refused")
        return "connection refused"

    def heal_source() -> None:
        source.fail_with = None

    return Config(source.commit, break_source, heal_source)


def git_config(bare: Path) -> Config:
    """Pushes with the real git client. The remote stays reachable when the source breaks (the
    ledger shares it, as in the daemon): the config branch is renamed away and back."""

    def push(files: Files) -> str:
        return push_files(bare, "main", files)

    def break_source() -> str:
        git("--git-dir", str(bare), "branch", "-m", "main", "moved-away")
        return "branch 'main' not found"

    def heal_source() -> None:
        git("--git-dir", str(bare), "branch", "-m", "moved-away", "main")

    return Config(push, break_source, heal_source)


@dataclass
class World:
    clock: FakeClock
    source: MemorySource | GitSource
    engine: MemoryEngine
    executor: MemoryExecutor
    ledger: MemoryLedger | GitLedger
    spool: RequestSpool
    tmp: Path
    config: Config
    reconciler: Reconciler
    head: str = ""  # the newest revision pushed to the config repo

    def commit(self, files: Files) -> str:
        """Push a change to the config repo (None deletes a file)."""
        self.head = self.config.push(files)
        return self.head

    def restart(self, secrets: dict[str, str] | None = None) -> Reconciler:
        """A new reconciler process over the same engine, ledger and state dir."""
        self.executor = MemoryExecutor(self.engine, state_dir=self.tmp, instance="t")
        self.reconciler = _reconciler(self, secrets)
        self.reconciler.restore()
        return self.reconciler

    def tick(self, seconds: float = 0) -> Reconciler:
        self.clock.advance(seconds)
        self.reconciler.tick(fetch=True)
        return self.reconciler

    def runs(self, job_id: str = "tick") -> dict[str, dict[str, Any]]:
        prefix = f"status/runs/{job_id}/"
        return {
            path[len(prefix) : -5]: load_yaml(data)
            for path, data in self.ledger.read().items()
            if path.startswith(prefix)
        }

    def running(self) -> list[str]:
        return [o.run_id for o in self.executor.observe() if o.is_running]


def _reconciler(world: World, secrets: dict[str, str] | None = None, **settings: Any) -> Reconciler:
    return Reconciler(
        Settings(repo="memory", state_dir=world.tmp, heartbeat=3600, **settings),
        source=world.source,
        executor=world.executor,
        ledger=world.ledger,
        clock=world.clock,
        secrets=SecretStore(secrets or {}),
        spool=world.spool,
    )


@pytest.fixture(params=["memory", "git"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> World:
    """Source and ledger in memory, or GitSource and GitLedger on a real bare repo."""
    clock = FakeClock(T0)
    engine = MemoryEngine(clock)
    source: MemorySource | GitSource
    ledger: MemoryLedger | GitLedger
    if request.param == "memory":
        source = MemorySource()
        ledger, config = MemoryLedger(), memory_config(source)
    else:
        bare = make_bare(tmp_path / "config.git")
        source = GitSource(str(bare), "main", tmp_path / "state")
        ledger, config = GitLedger(source.mirror, "oven-status"), git_config(bare)
    w = World(
        clock,
        source,
        engine,
        MemoryExecutor(engine, state_dir=tmp_path, instance="t"),
        ledger,
        RequestSpool(tmp_path),
        tmp_path,
        config,
        None,  # type: ignore[arg-type]
    )
    w.reconciler = _reconciler(w)
    return w


def test_a_due_run_starts_and_its_result_is_committed_before_its_container_goes(world: World):
    world.commit({"jobs/tick.yaml": job()})
    world.tick()
    assert world.running() == [], "a job just applied waits for its first fire time"
    world.tick(10)
    assert world.running() == ["tick-20261122-000010"]
    assert world.runs()["tick-20261122-000010"]["status"] == "running"
    world.executor.emit("tick-20261122-000010", "all good\n")
    world.executor.finish("tick-20261122-000010", 0)
    world.tick(1)
    run = world.runs()["tick-20261122-000010"]
    assert (run["status"], run["exit_code"], run["trigger"]) == ("succeeded", 0, "schedule")
    assert run["config_revision"] == world.head
    assert run["log_tail"] == "all good"
    assert world.executor.observe() == [], "recorded, so the container is removed"
    assert (world.tmp / "logs/tick/tick-20261122-000010.log").read_text() == "all good\n"


def test_a_nonzero_exit_is_failed_with_its_code(world: World):
    world.commit({"jobs/tick.yaml": job()})
    world.tick()
    world.tick(10)
    world.executor.finish("tick-20261122-000010", 3)
    world.tick(1)
    run = world.runs()["tick-20261122-000010"]
    assert (run["status"], run["exit_code"]) == ("failed", 3)
    assert run["error"]["class"] == "NonZeroExit"


def test_retries_record_each_attempt_with_growing_delays(world: World):
    world.commit(
        {"jobs/tick.yaml": job(schedule={"type": "manual"}, retries={"limit": 2, "backoff": 10})}
    )
    world.tick()
    world.spool.submit_manual("tick", "k1")
    world.tick(1)
    (first,) = world.running()
    world.executor.finish(first, 1)
    starts = [world.clock.now()]
    for attempt, code in ((2, 1), (3, 0)):
        while not world.running():
            world.tick(0.5)
        starts.append(world.clock.now())
        (current,) = world.running()
        assert current == f"{first}-a{attempt}"
        world.executor.finish(current, code)
    world.tick(1)
    runs = world.runs()
    assert [runs[r]["status"] for r in (first, f"{first}-a2", f"{first}-a3")] == [
        "failed",
        "failed",
        "succeeded",
    ]
    assert [runs[r]["attempt"] for r in (first, f"{first}-a2", f"{first}-a3")] == [1, 2, 3]
    assert runs[f"{first}-a3"]["trigger"] == "retry"
    delays = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    assert 10 <= delays[0] < 12.5 and 20 <= delays[1] < 23.5 and delays[1] > delays[0], delays


def test_a_timeout_kills_the_container_and_records_timed_out(world: World):
    world.commit({"jobs/tick.yaml": job(resources={"timeout": 5})})
    world.tick()
    world.tick(10)
    world.tick(3)
    assert world.running() == ["tick-20261122-000010"]
    world.tick(3)
    assert world.running() == []
    run = world.runs()["tick-20261122-000010"]
    assert run["status"] == "timed_out" and run["error"]["class"] == "Timeout"


def test_a_restart_adopts_running_containers_and_never_starts_a_run_twice(world: World):
    world.commit({"jobs/tick.yaml": job(policy={"concurrency": "allow"})})
    world.tick()
    world.tick(9)
    assert world.running() == [] and world.runs() == {}, "nothing runs before the first fire"
    world.ledger.attempts = 0  # the status commit fails: the process dies before recording
    world.tick(1)
    assert world.running() == ["tick-20261122-000010"] and world.runs() == {}
    world.ledger.attempts = 5
    world.restart()
    world.tick(0.5)
    assert world.running() == ["tick-20261122-000010"], "adopted, not started again"
    assert world.runs()["tick-20261122-000010"]["status"] == "running"
    world.executor.finish("tick-20261122-000010", 0)
    world.tick(9.5)
    assert world.runs()["tick-20261122-000010"]["status"] == "succeeded"
    assert world.running() == ["tick-20261122-000020"]


def test_a_run_that_finished_while_the_reconciler_was_down_is_recorded_from_the_engine(
    world: World,
):
    world.commit({"jobs/tick.yaml": job(schedule={"type": "interval", "every": "1h"})})
    world.tick()
    world.tick(3600)
    (run_id,) = world.running()
    world.executor.emit(run_id, "done while nobody watched\n")
    world.executor.finish(run_id, 4)
    world.clock.advance(120)
    world.restart()
    world.tick()
    run = world.runs()[run_id]
    assert (run["status"], run["exit_code"]) == ("failed", 4)
    assert "nobody watched" in run["log_tail"]
    assert world.executor.observe() == []


def test_a_vanished_container_ends_its_run_and_does_not_block_forbid(world: World):
    world.commit({"jobs/tick.yaml": job()})
    world.tick()
    world.tick(10)
    world.engine.containers.clear()  # someone removed it behind our back
    world.tick(1)
    run = world.runs()["tick-20261122-000010"]
    assert run["status"] == "failed" and run["error"]["class"] == "ContainerVanished"
    world.tick(9)
    assert world.running() == ["tick-20261122-000020"]


def test_forbid_defers_and_replace_cancels(world: World):
    world.commit(
        {"jobs/a.yaml": job("a"), "jobs/b.yaml": job("b", policy={"concurrency": "replace"})}
    )
    world.tick()
    world.tick(10)
    world.tick(10)
    assert sorted(world.running()) == ["a-20261122-000010", "b-20261122-000020"]
    assert world.runs("b")["b-20261122-000010"]["status"] == "cancelled"
    world.executor.finish("a-20261122-000010", 0)
    world.tick(0.5)
    assert "a-20261122-000020" in world.running(), (
        "forbid runs the deferred time once the active run ends"
    )


def test_a_broken_file_keeps_the_last_good_definition_and_is_reported(world: World):
    world.commit({"jobs/tick.yaml": job()})
    world.tick()
    world.commit({"jobs/tick.yaml": job() + "surprise: field\n"})
    world.tick(10)
    assert world.running() == ["tick-20261122-000010"]
    status = load_yaml(world.ledger.read()["status/reconciler.yaml"])
    assert [p["path"] for p in status["problems"]] == ["jobs/tick.yaml"]
    assert status["conditions"][0]["reason"] == "ManifestProblems"


def test_a_manual_trigger_with_the_same_key_runs_once(world: World):
    world.commit(
        {"jobs/tick.yaml": job(schedule={"type": "manual"}, policy={"concurrency": "allow"})}
    )
    world.tick()
    world.spool.submit_manual("tick", "deploy-42")
    world.spool.submit_manual("tick", "deploy-42")
    world.tick(1)
    world.tick(1)
    assert len(world.running()) == 1
    assert [r["trigger"] for r in world.runs().values()] == ["manual"]
    assert world.spool.pending() == []


def test_a_backfill_runs_each_time_of_the_window_once(world: World):
    world.commit({"jobs/tick.yaml": HOURLY_ALLOW})
    world.tick()
    world.spool.submit_backfill(
        "tick", datetime(2026, 11, 21, 10, tzinfo=UTC), datetime(2026, 11, 21, 12, tzinfo=UTC)
    )
    world.tick(1)
    world.spool.submit_backfill(
        "tick", datetime(2026, 11, 21, 11, tzinfo=UTC), datetime(2026, 11, 21, 13, tzinfo=UTC)
    )
    world.tick(1)
    assert sorted(world.runs()) == [
        "tick-20261121-100000",
        "tick-20261121-110000",
        "tick-20261121-120000",
        "tick-20261121-130000",
    ]
    assert {r["trigger"] for r in world.runs().values()} == {"backfill"}


def test_a_failed_status_commit_keeps_finished_containers_until_recorded(world: World):
    world.commit({"jobs/tick.yaml": job()})
    world.tick()
    world.tick(10)
    world.executor.finish("tick-20261122-000010", 0)
    world.ledger.attempts = 0
    world.tick(1)
    assert [o.run_id for o in world.executor.observe()] == ["tick-20261122-000010"]
    world.ledger.attempts = 5
    world.tick(1)
    assert world.runs()["tick-20261122-000010"]["status"] == "succeeded"
    assert world.executor.observe() == []


def test_secret_values_are_redacted_from_logs_and_status(world: World):
    world.reconciler = _reconciler(world, {"API_TOKEN": "s3cr3t-value"})
    world.commit({"jobs/tick.yaml": job(secrets=["API_TOKEN"])})
    world.tick()
    world.tick(10)
    world.executor.emit("tick-20261122-000010", "token is s3cr3t-value\n")
    world.executor.finish("tick-20261122-000010", 0)
    world.tick(1)
    assert world.runs()["tick-20261122-000010"]["log_tail"] == "token is ***"
    assert b"s3cr3t-value" not in b"".join(world.ledger.read().values())
    assert "s3cr3t-value" not in (world.tmp / "logs/tick/tick-20261122-000010.log").read_text()


def test_a_missing_secret_fails_the_run_with_a_hint(world: World):
    world.commit({"jobs/tick.yaml": job(secrets=["NOT_SET"])})
    world.tick()
    world.tick(10)
    run = world.runs()["tick-20261122-000010"]
    assert run["status"] == "failed" and run["error"]["class"] == "MissingSecret"
    assert "NOT_SET" in run["error"]["message"] and "--secrets-file" in run["error"]["hint"]


def test_an_unreachable_source_is_reported_while_jobs_keep_running(world: World):
    world.commit({"jobs/tick.yaml": job()})
    world.tick()
    expected = world.config.break_source()
    world.tick(10)
    assert world.running() == ["tick-20261122-000010"], "the last good jobs keep their schedule"
    status = load_yaml(world.ledger.read()["status/reconciler.yaml"])
    assert status["conditions"][0]["reason"] == "SourceError"
    assert expected in status["conditions"][0]["message"]
    world.config.heal_source()
    world.tick(1)
    status = load_yaml(world.ledger.read()["status/reconciler.yaml"])
    assert status["conditions"][0]["status"] == "True"


def test_ledger_errors_are_reported_not_raised(world: World):
    world.commit({"jobs/tick.yaml": job()})
    world.ledger.attempts = 0
    world.tick()
    assert world.reconciler.snapshot.reconciler["conditions"][0]["reason"] == "LedgerError"


def test_pruning_keeps_unwritten_results_and_pending_retries(world: World):
    world.reconciler = _reconciler(world, keep_runs=2)
    world.commit(
        {
            "jobs/tick.yaml": job(
                policy={"concurrency": "allow"}, retries={"limit": 1, "backoff": 600}
            )
        }
    )
    world.tick()
    world.tick(10)
    world.executor.finish("tick-20261122-000010", 1)  # fails; its retry is 10 minutes away
    recorded: set[str] = set()
    for _ in range(4):  # newer runs come and go
        world.tick(10)
        recorded |= set(world.runs())
        for run_id in world.running():
            world.executor.finish(run_id, 0)
    world.tick(1)
    assert world.runs()["tick-20261122-000010"]["next_retry_at"] is not None
    assert {"tick-20261122-000020", "tick-20261122-000030"} <= recorded, "both were recorded"
    kept = ["tick-20261122-000010", "tick-20261122-000040", "tick-20261122-000050"]
    assert sorted(world.runs()) == kept, "the two newest, plus the one whose retry is pending"
    assert sorted(world.reconciler.book.runs) == kept, "pruned runs leave the book too"
    assert [world.runs()[r]["status"] for r in kept] == ["failed", "succeeded", "succeeded"]
    world.tick(700)  # backoff 600 s plus up to 10 % jitter
    assert "tick-20261122-000010-a2" in world.running(), "the retry still happens"


def test_a_run_whose_job_was_deleted_is_stopped_and_still_redacted(world: World):
    world.reconciler = _reconciler(world, {"API_TOKEN": "s3cr3t-value"})
    world.commit({"jobs/tick.yaml": job(secrets=["API_TOKEN"])})
    world.tick()
    world.tick(10)
    world.executor.emit("tick-20261122-000010", "token s3cr3t-value\n")
    world.commit({"jobs/tick.yaml": None})
    world.restart({"API_TOKEN": "s3cr3t-value"})  # the new process never saw the job
    world.tick(1)
    run = world.runs()["tick-20261122-000010"]
    assert run["status"] == "cancelled" and run["error"]["class"] == "JobRemoved"
    assert run["log_tail"] == "token ***"
    assert world.executor.observe() == []
    assert "status/jobs/tick.yaml" not in world.ledger.read()


def test_a_restart_keeps_the_last_good_definition_of_a_broken_file(world: World):
    world.commit({"jobs/tick.yaml": job()})
    world.tick()
    world.commit({"jobs/tick.yaml": "id: tick\nname: [broken\n"})
    world.restart()
    world.tick(10)
    assert world.running() == ["tick-20261122-000010"], "the job runs on its last good definition"
    status = load_yaml(world.ledger.read()["status/reconciler.yaml"])
    assert [p["path"] for p in status["problems"]] == ["jobs/tick.yaml"]


def test_a_backfill_never_runs_future_times(world: World):
    world.commit({"jobs/tick.yaml": HOURLY_ALLOW})
    world.tick()
    world.spool.submit_backfill(
        "tick", datetime(2026, 11, 21, 23, tzinfo=UTC), datetime(2026, 11, 22, 5, tzinfo=UTC)
    )
    world.tick(1)
    assert sorted(world.runs()) == ["tick-20261121-230000", "tick-20261122-000000"]


def test_not_ready_until_the_pages_show_the_jobs_of_the_loaded_revision(world: World):
    """/readyz must not say ready while the API still lists no jobs: between loading the
    config and publishing the first snapshot of a cycle the reconciler is not ready."""
    world.commit({"jobs/tick.yaml": job()})
    reconciler = world.reconciler
    assert not reconciler.ready()
    now = world.clock.now()
    reconciler._run("lead", reconciler.lead_steps, now)
    reconciler._run("sync", reconciler.sync_steps, now)
    assert reconciler.desired is not None and "tick" in reconciler.desired.jobs
    assert "tick" not in reconciler.snapshot.jobs
    assert not reconciler.ready()
    world.tick()
    assert "tick" in reconciler.snapshot.jobs
    assert reconciler.ready()
MANUAL_ALLOW = job(schedule={"type": "manual"}, policy={"concurrency": "allow"})


def test_a_cancel_request_stops_the_run_and_it_ends_cancelled(world: World):
    world.commit({"jobs/tick.yaml": MANUAL_ALLOW})
    world.tick()
    run_id = world.spool.submit_manual("tick", "k").run_id
    world.tick(1)
    assert world.running() == [run_id]
    world.spool.submit_cancel("", run_id, requested_by="ci")
    world.tick(1)
    assert world.running() == [] and world.spool.pending() == []
    run = world.runs()[run_id]
    assert run["status"] == "cancelled" and run["error"]["class"] == "CancelledByRequest"
    assert "requested by ci" in run["error"]["message"]


def test_a_retry_request_starts_the_next_attempt_once(world: World):
    world.commit({"jobs/tick.yaml": MANUAL_ALLOW})
    world.tick()
    run_id = world.spool.submit_manual("tick", "k").run_id
    world.tick(1)
    world.executor.finish(run_id, 3)
    world.tick(1)
    assert world.runs()[run_id]["status"] == "failed"
    assert world.spool.submit_retry("", run_id, f"{run_id}-a2")
    world.tick(1)
    world.tick(1)
    assert world.running() == [f"{run_id}-a2"] and world.spool.pending() == []
    retry = world.runs()[f"{run_id}-a2"]
    assert (retry["attempt"], retry["retry_of"], retry["trigger"]) == (2, run_id, "retry")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("retry", "is running: only an ended run retries"), ("cancel-unknown", "no run")],
)
def test_a_cancel_or_retry_the_daemon_cannot_do_is_rejected_with_its_reason(
    world: World, kind: str, reason: str
):
    world.commit({"jobs/tick.yaml": MANUAL_ALLOW})
    world.tick()
    run_id = world.spool.submit_manual("tick", "k").run_id
    world.tick(1)
    if kind == "retry":
        world.spool.submit_retry("", run_id, f"{run_id}-a2")
    else:
        world.spool.submit_cancel("", "tick-nope")
    world.tick(1)
    assert world.running() == [run_id] and world.spool.pending() == []
    [why] = (world.tmp / "requests" / "rejected").glob("*.reason")
    assert reason in why.read_text()
def _live_text(world: World, run_id: str, want: str) -> str:
    """The run's live log once it holds ``want`` (a follower thread writes it)."""
    deadline = time.monotonic() + 10
    while True:
        chunk = read_log(world.tmp, "tick", run_id, 0)
        if want in chunk.data.decode() or time.monotonic() > deadline:
            return chunk.data.decode()
        time.sleep(0.02)


def test_a_running_run_has_a_live_log_redacted_and_followed_again_after_a_restart(world: World):
    world.reconciler = _reconciler(world, {"API_TOKEN": "s3cr3t-value"})
    world.commit({"jobs/tick.yaml": job(secrets=["API_TOKEN"])})
    world.tick()
    world.tick(10)
    run_id = "tick-20261122-000010"
    world.executor.emit(run_id, "step 1 token=s3cr3t-value\n")
    assert _live_text(world, run_id, "step 1") == "step 1 token=***\n"
    assert not read_log(world.tmp, "tick", run_id, 0).final

    world.restart({"API_TOKEN": "s3cr3t-value"})
    world.tick(0.5)  # adopted: a new process follows the container again
    world.executor.emit(run_id, "step 2\n")
    assert _live_text(world, run_id, "step 2") == "step 1 token=***\nstep 2\n"

    world.executor.finish(run_id, 0)
    world.tick(1)
    done = read_log(world.tmp, "tick", run_id, 0)
    assert done.final and done.data == b"step 1 token=***\nstep 2\n"
    assert not (world.tmp / f"logs/tick/{run_id}.live").exists()
