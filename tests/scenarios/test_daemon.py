"""The `oven run` daemon as a real process on real git and the real Docker engine: what only the
running daemon can show — its web server, pruning of old run files on the status branch, and a
SIGTERM that leaves running containers to the next daemon."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from scenarios.harness import StatusBranch, git, manifest, push_files, wait_until

from reconciler.clock import utc
from reconciler.runids import container_name
from reconciler.spool import RequestSpool

pytestmark = pytest.mark.docker


def succeeded(status: StatusBranch, job_id: str) -> list[dict[str, Any]]:
    return [r for r in status.runs(job_id) if r["status"] == "succeeded"]


def test_the_daemon_serves_its_page_api_probes_and_metrics(bare: Path, daemons) -> None:
    status = StatusBranch(bare)
    push_files(bare, "main", {"jobs/tick.yaml": manifest("tick")}, "add tick")
    daemon = daemons(f"file://{bare}")
    run = wait_until(lambda: succeeded(status, "tick"), 60, "a succeeded run of tick")[0]
    wait_until(daemon.serving, 30, "the daemon's web server")

    code, kind, page = daemon.get("/")
    assert (code, kind.split(";")[0]) == (200, "text/html"), page
    assert "Scenario job tick" in page

    jobs = daemon.get_json("/api/v1/jobs")
    assert [job["job_id"] for job in jobs["jobs"]] == ["tick"] and jobs["count"] == 1
    # the cycle publishes what the API serves just after its push: it may be a moment behind
    wait_until(
        lambda: run["run_id"] in {r["run_id"] for r in daemon.get_json("/api/v1/runs")["runs"]},
        10,
        "the run on the branch in the API",
    )
    one = daemon.get_json(f"/api/v1/runs/{run['run_id']}")
    assert (one["status"], one["log_tail"]) == ("succeeded", run["log_tail"])
    assert daemon.get("/api/v1/runs/no-such-run")[0] == 404
    for write in ("/api/v1/jobs/tick/runs", f"/api/v1/runs/{run['run_id']}/retry"):
        answer = httpx.post(f"http://127.0.0.1:{daemon.port}{write}", timeout=10)
        assert answer.status_code in (404, 405), "no write API without --write-api"

    assert daemon.get_json("/healthz") == {"status": "ok"}
    assert daemon.get_json("/readyz") == {"status": "ready"}
    code, kind, metrics = daemon.get("/metrics")
    assert code == 200 and kind.startswith("text/plain")
    assert "oven_jobs 1.0" in metrics and "oven_reconciler_ready 1.0" in metrics
    assert 'oven_job_consecutive_failures{job="tick"} 0.0' in metrics


def added_run_files(bare: Path, job_id: str, tip: str = "oven-status") -> list[str]:
    """Every run file of the job ever committed to the status branch (up to ``tip``), oldest
    first."""
    if not StatusBranch(bare).exists():
        return []
    out = git(
        "--git-dir",
        str(bare),
        "log",
        "--reverse",
        "--no-renames",  # a dropped file and a new one look like a rename to git
        "--diff-filter=A",
        "--name-only",
        "--format=",
        tip,
        "--",
        f"status/runs/{job_id}/",
    )
    return [line for line in out.splitlines() if line]


def test_the_daemon_keeps_only_keep_runs_run_files_per_job(bare: Path, daemons) -> None:
    push_files(
        bare,
        "main",
        {"jobs/quick.yaml": manifest("quick", schedule={"type": "interval", "every": "1s"})},
    )
    daemons(f"file://{bare}", "--keep-runs", "2")
    wait_until(lambda: len(added_run_files(bare, "quick")) >= 5, 60, "five runs of quick")

    # the daemon goes on committing a run a second: every look below is at one commit
    def pruned() -> tuple[str, list[str]] | None:
        tip = git("--git-dir", str(bare), "rev-parse", "oven-status").strip()
        tree = git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", tip).splitlines()
        current = [p for p in tree if p.startswith("status/runs/quick/")]
        return (tip, current) if len(current) <= 2 else None

    tip, current = wait_until(pruned, 15, "at most 2 run files of quick on the status branch")
    added = added_run_files(bare, "quick", tip)
    dropped = [path for path in added if path not in current]
    assert len(dropped) >= 3 and added[:3] == dropped[:3], "the oldest runs are the ones dropped"
    assert sorted(current) == sorted(added)[-len(current) :], "the newest are the ones kept"
    tree = git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", tip)
    assert not set(dropped) & set(tree.splitlines()), "dropped run files are gone from the branch"


def test_sigterm_leaves_running_containers_and_the_next_daemon_records_them(
    bare: Path, daemons, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    wait_for_gate = "while [ ! -f /gate/open ]; do sleep 0.1; done; echo let through"
    push_files(
        bare,
        "main",
        {
            "jobs/gated.yaml": manifest(
                "gated",
                schedule={"type": "manual"},
                command=["sh", "-c", wait_for_gate],
                volumes=[f"{gate}:/gate:ro"],
            )
        },
    )
    status = StatusBranch(bare)
    daemon = daemons(f"file://{bare}", "--allow-volume", str(tmp_path))
    RequestSpool(daemon.state_dir).submit_manual("gated", "once")
    running = wait_until(
        lambda: [r for r in status.runs("gated") if r["status"] == "running"], 60, "gated to run"
    )[0]
    container = docker_client.containers.get(container_name(running["run_id"]))

    daemon.stop()  # SIGTERM
    assert daemon.process is None
    container.reload()
    assert container.status == "running", "a stopped daemon leaves its containers running"
    engine_started = utc(container.attrs["State"]["StartedAt"])  # the one start of this run

    daemon.start()
    wait_until(daemon.serving, 30, "the restarted daemon's web server")
    path = f"/api/v1/runs/{running['run_id']}"
    wait_until(lambda: daemon.get(path)[0] == 200, 30, "the run in the restarted daemon's API")
    wait_until(lambda: daemon.get("/readyz")[0] == 200, 30, "the config loaded")
    time.sleep(1)  # a few cycles (--tick 0.3) in which the container is settled
    assert daemon.get_json(path)["status"] == "running", "adopted, not recorded as vanished"
    (gate / "open").write_text("")
    [done] = wait_until(lambda: succeeded(status, "gated"), 30, "the adopted run to be recorded")
    assert done["run_id"] == running["run_id"]
    # the engine's start time replaces the daemon's when the run ends, and it is the start the
    # engine reported before the restart (status files keep milliseconds): not a second start.
    # (The daemon's own time is read after the engine's start call returns: usually ms later,
    # but on a loaded machine that call can take a second or more to return.)
    moved = utc(done["started_at"]) - engine_started
    assert abs(moved.total_seconds()) < 0.001, (engine_started, done["started_at"])
    assert "let through" in done["log_tail"]
    assert len(status.runs("gated")) == 1, "the run was not started a second time"
    wait_until(
        lambda: (
            not docker_client.containers.list(
                all=True, filters={"name": container_name(running["run_id"])}
            )
        ),
        15,
        "the recorded container to be removed",
    )
