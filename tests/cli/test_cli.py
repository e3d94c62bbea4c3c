"""The `oven` command as a user runs it: a real process, real files, real git repositories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from manifests.conftest import OVEN
from manifests.test_malformed import CASES
from support.gitutil import make_bare, push_files

ROOT = Path(__file__).resolve().parents[2]
ALLOW = "/srv/oven"
GOOD = (
    "id: good\nname: Good\ntype: docker\nimage: busybox\n"
    "schedule: {type: cron, cron: '0 2 * * *', timezone: Europe/Berlin}\n"
)


def oven(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True, timeout=60
    )


def repo(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    return tmp_path


def test_the_example_config_repo_is_valid() -> None:
    done = oven("validate", str(ROOT / "config-example"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "5 jobs valid, 0 problems in 0 files"


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_malformed_manifest_is_one_line_with_file_and_line(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    root = repo(tmp_path, {"oven.yaml": OVEN, "jobs/good.yaml": GOOD, "jobs/broken.yaml": text})
    done = oven("validate", str(root), "--allow-volume", ALLOW)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.splitlines() == [f"jobs/broken.yaml:{expected}"]
    assert "1 jobs valid, 1 problems in 1 files" in done.stderr


def test_duplicate_ids_are_reported_on_every_file(tmp_path: Path) -> None:
    root = repo(tmp_path, {"jobs/a.yaml": GOOD, "jobs/b.yaml": GOOD})
    done = oven("validate", str(root))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["jobs/a.yaml", "jobs/b.yaml"]
    assert all(":1: id: " in line and "good" in line for line in lines), lines


def test_a_missing_directory_is_a_usage_error_without_traceback() -> None:
    done = oven("validate", "/no/such/dir")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is not a directory" in done.stderr


def test_plan_between_two_revisions_as_json(tmp_path: Path) -> None:
    bare = make_bare(tmp_path / "config.git")
    base = push_files(
        bare, "main", {"jobs/good.yaml": GOOD, "jobs/old.yaml": GOOD.replace("good", "old")}
    )
    changed = GOOD.replace("0 2 * * *", "30 3 * * *")
    added = GOOD.replace("good", "new").replace("Good", "New")
    head = push_files(
        bare, "main", {"jobs/good.yaml": changed, "jobs/old.yaml": None, "jobs/new.yaml": added}
    )
    done = oven(
        "plan",
        "--repo",
        str(bare),
        "--base",
        base,
        "--head",
        head,
        "--json",
        "--now",
        "2026-11-22T00:00:00Z",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    actions = {c["job_id"]: c["action"] for c in result["changes"]}
    assert actions == {"good": "changed", "new": "added", "old": "removed"}
    good = next(c for c in result["changes"] if c["job_id"] == "good")
    assert good["fields"] == ["schedule"]
    assert good["next_runs"][0] == "2026-11-22T02:30:00Z"  # 03:30 in Berlin (UTC+1)
    text = oven("plan", "--repo", f"file://{bare}", "--base", base[:10], "--head", "main")
    assert "~ good" in text.stdout and "+ new" in text.stdout and "- old" in text.stdout
    assert "1 to add, 1 to change, 1 to remove, 0 unchanged." in text.stdout


def test_plan_against_an_unreachable_remote_is_a_clear_error() -> None:
    done = oven("plan", "--repo", "git://127.0.0.1:9/nothing.git")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and "hint: " in done.stderr


def test_explain_json_answers_why_a_run_starts(tmp_path: Path) -> None:
    path = repo(tmp_path, {"job.yaml": GOOD}) / "job.yaml"
    done = oven(
        "explain",
        str(path),
        "--now",
        "2026-11-22T09:00:00Z",
        "--last-scheduled",
        "2026-11-19T01:00:00Z",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["start"] == "2026-11-22T01:00:00Z"  # only the most recent of 3 missed days
    assert result["missed"] == 2 and result["stop_active"] is False
    assert result["next_wakeup"].startswith("2026-11-23T01:00:00")
    busy = json.loads(
        oven(
            "explain",
            str(path),
            "--now",
            "2026-11-22T09:00:00Z",
            "--last-scheduled",
            "2026-11-21T01:00:00Z",
            "--active",
            "1",
            "--json",
        ).stdout
    )
    assert busy["start"] is None and "active" in busy["reason"]


def test_next_prints_zone_and_utc_times(tmp_path: Path) -> None:
    root = repo(tmp_path, {"jobs/good.yaml": GOOD})
    done = oven(
        "next", "good", "--repo", str(root), "-n", "2", "--now", "2026-11-22T00:00:00Z", "--json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [t["utc"] for t in result["next"]] == ["2026-11-22T01:00:00Z", "2026-11-23T01:00:00Z"]
    assert result["next"][0]["local"].startswith("2026-11-22T02:00:00+01:00")


def test_backfill_rejects_a_window_that_ends_before_it_starts(tmp_path: Path) -> None:
    done = oven(
        "backfill",
        "good",
        "--from",
        "2026-11-22T00:00:00Z",
        "--to",
        "2026-11-21T00:00:00Z",
        "--state-dir",
        str(tmp_path),
    )
    assert done.returncode == 2 and "--to is before --from" in done.stderr
