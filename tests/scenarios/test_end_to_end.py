"""From a git push to a run file: the whole product on real git, a real daemon and real Docker."""

from __future__ import annotations

import time
from pathlib import Path

from scenarios.harness import StatusBranch, manifest, oven, push_files, wait_until


def succeeded_with(status: StatusBranch, job_id: str, revision: str) -> list[dict]:
    return [
        r
        for r in status.runs(job_id)
        if r["status"] == "succeeded" and r["config_revision"] == revision
    ]


def test_push_run_change_break_and_delete(bare: Path, daemons) -> None:
    status = StatusBranch(bare)
    rev1 = push_files(bare, "main", {"jobs/tick.yaml": manifest("tick")}, "add tick")
    daemon = daemons(f"file://{bare}")

    # a pushed job is applied and runs; its run file names the config revision
    run = wait_until(lambda: succeeded_with(status, "tick", rev1), 90, "a succeeded run of tick")[0]
    assert run["exit_code"] == 0
    assert run["trigger"] == "schedule"
    assert run["job_id"] == "tick" and run["schema_version"] == 1
    assert "hello from tick" in run["log_tail"]
    summary = status.read("status/jobs/tick.yaml")
    assert summary["last_run"]["status"] == "succeeded"

    # a schedule change: plan shows it, the daemon applies it
    rev2 = push_files(
        bare,
        "main",
        {"jobs/tick.yaml": manifest("tick", schedule={"type": "interval", "every": "4s"})},
        "slower",
    )
    shown = oven("plan", "--repo", str(bare), "--base", rev1, "--head", rev2)
    assert shown.returncode == 0, shown.stderr
    assert "~ tick" in shown.stdout and "schedule" in shown.stdout
    wait_until(lambda: succeeded_with(status, "tick", rev2), 60, "a run under the new schedule")

    # a broken manifest: reported with file and line, the other job goes on running
    broken = (
        "id: broken\nname: Broken\ntype: docker\nimage: x\n"
        "schedule:\n  type: cron\n  cron: 'not a cron'\n"
    )
    rev3 = push_files(bare, "main", {"jobs/broken.yaml": broken}, "break")

    def broken_reported() -> list[dict]:
        problems = status.reconciler().get("problems", [])
        return [p for p in problems if p["path"] == "jobs/broken.yaml"]

    problem = wait_until(broken_reported, 60, "the broken manifest in status/reconciler.yaml")[0]
    assert problem["line"] == 7 and problem["field"] == "schedule.cron"
    ready = status.reconciler()["conditions"][0]
    assert ready["status"] == "False" and ready["reason"] == "ManifestProblems"
    wait_until(
        lambda: succeeded_with(status, "tick", rev3),
        60,
        "tick still running beside the broken file",
    )

    # a deletion: the job is gone and runs no more
    push_files(bare, "main", {"jobs/tick.yaml": None, "jobs/broken.yaml": None}, "delete")
    wait_until(lambda: "status/jobs/tick.yaml" not in status.paths(), 60, "tick's summary to go")
    wait_until(lambda: status.reconciler().get("problems") == [], 30, "problems to clear")
    time.sleep(1)
    before = len(status.runs("tick"))
    time.sleep(6)
    assert len(status.runs("tick")) == before, "a deleted job must not run again"
    assert status.reconciler()["conditions"][0]["status"] == "True"
    assert daemon.process is not None and daemon.process.poll() is None, daemon.output()


def test_watch_mode_reacts_to_an_edit_in_a_local_working_tree(tmp_path: Path, daemons) -> None:
    from support.gitutil import git

    work = tmp_path / "checkout"
    git("init", "--quiet", "--initial-branch=main", str(work))
    (work / "jobs").mkdir()
    (work / "jobs/first.yaml").write_text(
        manifest("first", schedule={"type": "interval", "every": "2s"})
    )
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "first job", cwd=work)
    daemons(str(work), "--watch", "--interval", "3600")
    status = StatusBranch(work / ".git")
    wait_until(lambda: [r for r in status.runs("first") if r["status"] == "succeeded"], 60, "first")

    # an uncommitted edit is picked up by the file watch, long before the hour-long interval
    (work / "jobs/second.yaml").write_text(
        manifest("second", schedule={"type": "interval", "every": "2s"})
    )
    run = wait_until(
        lambda: [r for r in status.runs("second") if r["status"] == "succeeded"], 60, "second"
    )[0]
    assert run["config_revision"].startswith("worktree:")
    assert git("status", "--porcelain", cwd=work) == "?? jobs/second.yaml", (
        "the checkout is untouched"
    )
