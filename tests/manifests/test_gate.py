"""The inputs that ended the daemon (issue 6's table) are problems everywhere, and never crash.

Each row is one ``FILE:LINE: FIELD: message`` line from ``oven validate`` (exit 1, no
traceback), from ``oven plan``, and in ``status/reconciler.yaml`` of a daemon cycle that goes
on running the good job next to them. The same manifests are in test_malformed.py's table,
which tests/cli/test_cli.py also runs through ``oven validate`` one by one.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from reconciler.clock import FakeClock
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.ledger.memory import MemoryLedger
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.memory import MemorySource

HEAD = "id: {id}\nname: Row\ntype: docker\nimage: busybox\n"
ROWS = {
    "jobs/every-days.yaml": (
        "schedule: {type: interval, every: 99999999999d}\n",
        "jobs/every-days.yaml:5: schedule.every: interval '99999999999d' is longer than 366 days;"
        " for rarer runs use a cron schedule (e.g. '0 0 1 1 *') or a once schedule",
    ),
    "jobs/far-once.yaml": (
        'schedule: {type: once, at: "9999-12-31T23:59:59-14:00"}\n',
        "jobs/far-once.yaml:5: schedule.at: must be between 1970-01-01T00:00:00Z and "
        "2199-12-31T23:59:59Z (got '9999-12-31T23:59:59-14:00')",
    ),
    "jobs/every-minutes.yaml": (
        "schedule: {type: interval, every: 1830358181m}\n",
        "jobs/every-minutes.yaml:5: schedule.every: interval '1830358181m' is longer than 366 "
        "days; for rarer runs use a cron schedule (e.g. '0 0 1 1 *') or a once schedule",
    ),
    "jobs/deadline.yaml": (
        "schedule: {type: interval, every: 20s}\npolicy: {startingDeadline: 258053483022575}\n",
        "jobs/deadline.yaml:6: policy.startingDeadline: must be at most 31622400 "
        "(got 258053483022575)",
    ),
}
GOOD = HEAD.format(id="good") + "command: ['true']\nschedule: {type: interval, every: 20s}\n"
EXPECTED = sorted(line for _, line in ROWS.values())
T0 = datetime(2026, 11, 22, tzinfo=UTC)


def files() -> dict[str, str]:
    rows = {path: HEAD.format(id=Path(path).stem) + text for path, (text, _) in ROWS.items()}
    return {"jobs/good.yaml": GOOD, **rows}


def oven(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True, timeout=60
    )


def test_validate_prints_each_row_as_one_problem_and_exits_1(tmp_path: Path) -> None:
    for name, text in files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    done = oven("validate", str(tmp_path))
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.splitlines() == EXPECTED
    assert done.stderr.strip() == "1 jobs valid, 4 problems in 4 files"


def test_plan_shows_each_row_as_a_problem(tmp_path: Path) -> None:
    work = tmp_path / "work"
    for name, text in files().items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    env = ["-c", "user.name=T", "-c", "user.email=t@example.test"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(work), *env, "commit", "-qm", "rows"], check=True)
    done = oven("plan", "--repo", str(work), "--now", "2026-11-22T00:00:00Z")
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.returncode == 1, done.stderr  # the head has problems
    lines = done.stdout.splitlines()
    assert "  + good: every 20 seconds" in lines
    next_runs = "2026-11-22 00:00:20 UTC, 2026-11-22 00:00:40 UTC, 2026-11-22 00:01:00 UTC"
    assert f"      next: {next_runs}" in lines
    assert [line.removeprefix("problem: ") for line in lines if line.startswith("problem:")] == (
        EXPECTED
    )


def test_the_daemon_runs_the_good_job_and_reports_each_row(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    source, ledger = MemorySource(), MemoryLedger()
    executor = MemoryExecutor(MemoryEngine(clock), state_dir=tmp_path, instance="gate")
    reconciler = Reconciler(
        Settings(repo="memory", state_dir=tmp_path, heartbeat=3600),
        source=source,
        executor=executor,
        ledger=ledger,
        clock=clock,
    )
    source.commit(files())
    for seconds in (0, 20, 20, 3600):  # past the first fires of every row, had they loaded
        clock.advance(seconds)
        reconciler.tick(fetch=True)
    status = yaml.safe_load(ledger.read()["status/reconciler.yaml"])
    shown = sorted(
        f"{p['path']}:{p['line']}: {p['field']}: {p['message']}" for p in status["problems"]
    )
    assert shown == EXPECTED
    assert reconciler.desired is not None and sorted(reconciler.desired.jobs) == ["good"]
    assert any(r.run_id.startswith("good-") for r in executor.observe()), "the good job runs"
