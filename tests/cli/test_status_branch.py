"""``oven status`` and ``oven plan`` reading a real status branch, in process.

The status files pushed here have the shapes of docs/status-files.md. Both commands take
``--repo``, ``--branch`` and ``--status-branch`` from ``OVEN_REPO``, ``OVEN_BRANCH`` and
``OVEN_STATUS_BRANCH`` like ``oven run`` does.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.gitutil import make_bare, push_files

from reconciler.cli import Context, main
from reconciler.clock import FakeClock

GOOD = (
    "id: good\nname: Good\ntype: docker\nimage: busybox\n"
    "schedule: {type: cron, cron: '0 2 * * *', timezone: Europe/Berlin}\n"
)
APPLIED = "3f9c2e1a7b5d4c6e8f0a1b2c3d4e5f6a7b8c9d0e"
RECONCILER = f"""\
applied_revision: {APPLIED}
attempted_revision: {APPLIED}
conditions:
- last_transition: '2026-03-01T10:15:00Z'
  message: 1 problem(s) in jobs/broken.yaml; those jobs keep their last good definition
  reason: ManifestProblems
  status: 'False'
  type: Ready
- last_transition: '2026-03-01T10:15:00Z'
  message: nothing needs attention
  reason: Healthy
  status: 'False'
  type: Stalled
heartbeat: '2026-03-01T10:15:00Z'
problems:
- field: schedule.cron
  line: 5
  message: not a valid cron expression
  path: jobs/broken.yaml
schema_version: 1
"""
BACKUP = """\
consecutive_failures: 2
job_id: backup
last_run: {exit_code: 1, finished_at: '2026-03-01T02:00:03Z', run_id: backup-1, status: failed}
next_run: '2026-03-02T02:00:00Z'
schema_version: 1
"""
REPORT = "consecutive_failures: 0\njob_id: report\nlast_run: null\nnext_run: null\n"
STATUS_FILES = {
    "status/reconciler.yaml": RECONCILER,
    "status/jobs/backup.yaml": BACKUP,
    "status/jobs/report.yaml": REPORT,
}


def oven(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    clock = FakeClock(datetime(2026, 11, 22, tzinfo=UTC))
    code = main(list(argv), Context(clock=clock, stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = make_bare(tmp_path / "config.git")
    push_files(bare, "main", {"jobs/good.yaml": GOOD})
    return bare


def test_status_prints_the_condition_the_jobs_and_the_problems(remote: Path) -> None:
    push_files(remote, "oven-status", STATUS_FILES)
    code, out, err = oven("status", "--repo", str(remote))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "reconciler: Ready=False ManifestProblems: 1 problem(s) in jobs/broken.yaml; "
        "those jobs keep their last good definition",
        "heartbeat 2026-03-01T10:15:00Z, applied 3f9c2e1a7b5d",
        "JOB                          LAST       NEXT RUN               FAILS",
        "backup                       failed     2026-03-02T02:00:00Z       2",
        "report                       -          -                          0",
        "problem: jobs/broken.yaml:5: schedule.cron: not a valid cron expression",
    ]


def test_status_json_is_the_reconciler_file_and_the_job_summaries(remote: Path) -> None:
    push_files(remote, "oven-status", STATUS_FILES)
    code, out, _ = oven("status", "--repo", f"file://{remote}", "--json")
    assert code == 0
    result: dict[str, Any] = json.loads(out)
    assert set(result) == {"reconciler", "jobs"} and sorted(result["jobs"]) == ["backup", "report"]
    assert result["reconciler"]["applied_revision"] == APPLIED
    assert result["jobs"]["backup"]["last_run"]["status"] == "failed"


def test_status_without_a_status_branch_is_an_error_with_a_hint(remote: Path) -> None:
    code, out, err = oven("status", "--repo", str(remote))
    assert (code, out) == (2, "")
    assert err == (
        f"error: no branch oven-status in {remote}\n"
        "hint: has a reconciler run against this repo yet?\n"
    )


def test_status_reads_repo_and_status_branch_from_the_environment(
    remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    push_files(remote, "elsewhere", STATUS_FILES)
    monkeypatch.setenv("OVEN_REPO", str(remote))
    monkeypatch.setenv("OVEN_STATUS_BRANCH", "elsewhere")
    code, out, err = oven("status")
    assert code == 0, err
    assert "backup                       failed" in out
    code, _, err = oven("status", "--status-branch", "oven-status")
    assert code == 2 and "no branch oven-status" in err


def test_plan_reads_branch_and_status_branch_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = make_bare(tmp_path / "config.git")
    base = push_files(bare, "prod", {"jobs/good.yaml": GOOD})
    push_files(bare, "prod", {"jobs/new.yaml": GOOD.replace("good", "new")})
    push_files(bare, "prod-status", {"status/reconciler.yaml": f"applied_revision: {base}\n"})
    monkeypatch.setenv("OVEN_BRANCH", "prod")
    monkeypatch.setenv("OVEN_STATUS_BRANCH", "prod-status")
    code, out, err = oven("plan", "--repo", str(bare), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert {c["job_id"]: c["action"] for c in result["changes"]} == {
        "good": "unchanged",
        "new": "added",
    }
    new = next(c for c in result["changes"] if c["job_id"] == "new")
    assert new["next_runs"][0] == "2026-11-22T01:00:00Z"  # from the context's clock
    monkeypatch.delenv("OVEN_STATUS_BRANCH")  # no oven-status branch: nothing applied yet
    _, out, _ = oven("plan", "--repo", str(bare), "--json")
    assert {c["action"] for c in json.loads(out)["changes"]} == {"added"}
