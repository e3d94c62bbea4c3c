"""The daemon says what it applies: the plan of each new revision and its problems, in the log.

In-process Reconcilers over real git (a bare config repo, GitSource, and GitLedger on the same
repo's status branch) on a fake clock, and a LocalSource on a checkout for ``--watch``; the
executor is the in-memory engine. Problems are logged as ``FILE:LINE: FIELD: message``, each
once; after a restart the first plan is against the revision the status branch says is applied.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.gitutil import git, make_bare, push_files

from reconciler.clock import FakeClock
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.ledger.git import GitLedger
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.source.local import LocalSource

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def job(job_id: str, cron: str) -> str:
    return (
        f"id: {job_id}\nname: {job_id}\ntype: docker\nimage: busybox\n"
        f"schedule: {{type: cron, cron: '{cron}', timezone: UTC}}\n"
    )


BROKEN = job("report", "61 * * * *")  # line 5 holds the schedule
PROBLEM = "jobs/report.yaml:5: schedule.cron:"


def daemon(source: object, ledger: object, state: Path) -> Reconciler:
    state.mkdir(exist_ok=True)
    return Reconciler(
        Settings(repo="test", state_dir=state, heartbeat=3600, instance="plan-log"),
        source=source,  # type: ignore[arg-type]
        executor=MemoryExecutor(MemoryEngine(), state_dir=state, instance="plan-log"),
        ledger=ledger,  # type: ignore[arg-type]
        clock=FakeClock(NOW),
    )


def git_daemon(bare: Path, state: Path) -> Reconciler:
    source = GitSource(str(bare), "main", state)
    return daemon(source, GitLedger(source.mirror, "oven-status"), state)


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = [r.getMessage() for r in caplog.records if r.name == "oven"]
    caplog.clear()
    return found


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    repo = make_bare(tmp_path / "config.git")
    push_files(repo, "main", {"jobs/report.yaml": job("report", "0 2 * * *")}, work=tmp_path / "w")
    return repo


def test_each_new_problem_is_logged_once_with_file_and_line(
    bare: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="oven")
    reconciler = git_daemon(bare, tmp_path / "state")
    reconciler.tick(fetch=True)
    assert any("+ report: every day at 02:00" in m for m in messages(caplog))
    work = tmp_path / "w"
    (work / "jobs/report.yaml").write_text(BROKEN)
    git("commit", "--quiet", "-am", "broken", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    reconciler.tick(fetch=True)
    logged = messages(caplog)
    problems = [m for m in logged if PROBLEM in m]
    assert len(problems) == 1 and "bad cron expression" in problems[0], logged
    # the job keeps its last good definition: nothing is planned to change or go away
    assert not any("- report" in m or "~ report" in m for m in logged)
    plans = [m for m in logged if m.startswith("Plan ")]
    assert len(plans) == 1 and "0 to remove, 1 unchanged." in plans[0]  # every new revision
    (work / "jobs/other.yaml").write_text(job("other", "0 4 * * *"))
    git("add", "jobs/other.yaml", cwd=work)
    git("commit", "--quiet", "-m", "another", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    reconciler.tick(fetch=True)
    logged = messages(caplog)
    assert any("+ other" in m for m in logged)
    assert not any(PROBLEM in m for m in logged)  # not again
    assert any("1 problem(s) logged before still open" in m for m in logged)


def test_after_a_restart_the_plan_is_against_the_applied_revision(
    bare: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="oven")
    first = git_daemon(bare, tmp_path / "state-1")
    first.tick(fetch=True)
    assert first.applied_revision
    messages(caplog)
    again = git_daemon(bare, tmp_path / "state-2")  # a restart: a new process, same remote
    again.tick(fetch=True)
    logged = messages(caplog)
    assert any("restored" in m for m in logged)
    assert not any("+ report" in m or "Plan " in m for m in logged), logged
    push_files(bare, "main", {"jobs/report.yaml": job("report", "30 3 * * *")})
    third = git_daemon(bare, tmp_path / "state-3")  # restarted after a push it has not applied
    third.tick(fetch=True)
    plans = [m for m in messages(caplog) if m.startswith("Plan ")]
    assert len(plans) == 1 and plans[0].startswith(f"Plan {first.applied_revision[:12]} -> ")
    assert "~ report" in plans[0] and 'schedule.cron: "0 2 * * *" -> "30 3 * * *"' in plans[0]
    assert "+ report" not in plans[0]


def test_watch_mode_logs_a_broken_edit_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="oven")
    checkout = tmp_path / "config"
    (checkout / "jobs").mkdir(parents=True)
    (checkout / "jobs/report.yaml").write_text(job("report", "0 2 * * *"))
    source = LocalSource(checkout)
    reconciler = daemon(source, status_ledger(tmp_path), tmp_path / "state")
    reconciler.tick(fetch=True)
    messages(caplog)
    edit = threading.Timer(0.5, (checkout / "jobs/report.yaml").write_text, (BROKEN,))
    edit.start()
    try:
        assert source.wait_for_change(timeout=10)  # what wakes the --watch loop
    finally:
        edit.cancel()
    reconciler.tick(fetch=True)  # the loop's tick on waking
    problems = [m for m in messages(caplog) if PROBLEM in m]
    assert len(problems) == 1 and problems[0].startswith("revision worktree:")


def status_ledger(tmp: Path) -> object:
    """The status branch of a bare repo of its own (the watched directory is not a repo)."""
    status = make_bare(tmp / "status.git")
    return GitLedger(GitSource(str(status), "main", tmp / "ledger").mirror, "oven-status")
