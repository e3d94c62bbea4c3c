"""Outage of the status remote: a real `oven run` keeps running jobs while the bare repo is
renamed away for several cycles, is restarted during the outage, and when the repo returns every
run of the outage (every run log in the state dir) is on the status branch, in order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from scenarios.harness import StatusBranch, git, manifest, push_files, wait_until

pytestmark = pytest.mark.docker


def run_logs(state: Path) -> set[str]:
    """Run ids the daemon started: every run leaves its log under the state dir."""
    return {p.stem for p in (state / "logs" / "beat").glob("*.log")}


def first_added(bare: Path) -> list[str]:
    """Run files of job beat in the order commits of the status branch added them."""
    out = git(
        "log", "--reverse", "--diff-filter=A", "--name-only", "--format=", "oven-status", cwd=bare
    )
    return [Path(line).stem for line in out.splitlines() if line.startswith("status/runs/beat/")]


def test_runs_of_an_outage_arrive_in_order_after_a_restart(bare: Path, daemons) -> None:
    status = StatusBranch(bare)
    push_files(
        bare,
        "main",
        {"jobs/beat.yaml": manifest("beat", schedule={"type": "interval", "every": "2s"})},
        "add beat",
    )
    daemon = daemons(f"file://{bare}", "--lease-seconds", "0", "--keep-runs", "500")
    state = daemon.state_dir
    wait_until(lambda: len(status.runs("beat")) >= 2, 90, "two runs on the status branch")

    away = bare.with_name("away.git")
    bare.rename(away)
    before = run_logs(state)
    wait_until(lambda: len(run_logs(state) - before) >= 3, 60, "three runs during the outage")
    daemon.stop()
    queued = sorted((state / "status-queue").glob("*.json"))
    assert queued, "the outage's status writes wait in the state dir"
    daemon.start()  # restarted while the remote is still away
    time.sleep(4)
    daemon.stop()
    during = run_logs(state) - before
    away.rename(bare)
    daemon.start()

    def all_arrived() -> bool:
        on_branch = {r["run_id"] for r in status.runs("beat")}
        return run_logs(state) <= on_branch

    try:
        wait_until(all_arrived, 90, "every run of the outage on the status branch")
    except AssertionError as exc:
        missing = run_logs(state) - {r["run_id"] for r in status.runs("beat")}
        raise AssertionError(
            f"{exc}; missing {sorted(missing)}\n{daemon.output()[-4000:]}"
        ) from exc
    order = first_added(bare)
    assert during <= set(order)
    runs = {r["run_id"]: r for r in status.runs("beat")}
    started = [runs[run_id]["scheduled_for"] or "" for run_id in order if run_id in runs]
    assert started == sorted(started), f"runs arrived out of order: {order}"
    # the daemon still runs beat every 2 s and each write passes through the queue on its way
    # to the remote, so the queue is empty between writes, not at any given instant
    wait_until(
        lambda: not list((state / "status-queue").glob("*.json")), 30, "the queue empty again"
    )
    reconciler = yaml.safe_load(git("show", "oven-status:status/reconciler.yaml", cwd=bare))
    assert reconciler["applied_revision"], reconciler
