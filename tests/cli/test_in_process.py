"""Commands run in process through ``main(argv, ctx)``: a fake clock, string streams, real files.

What ``--now`` leaves open comes from ``ctx.clock``; ``OVEN_*`` defaults come from the
environment (``monkeypatch.setenv``); git repos are real bare repositories.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import reconciler.cli.validate
from reconciler.cli import Context, main
from reconciler.clock import FakeClock
from reconciler.runids import manual_run_id

GOOD = (
    "id: good\nname: Good\ntype: docker\nimage: busybox\n"
    "schedule: {type: cron, cron: '0 2 * * *', timezone: Europe/Berlin}\n"
)
NOW = datetime(2026, 11, 22, tzinfo=UTC)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def oven(*argv: str, now: datetime = NOW) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Context(clock=FakeClock(now), stdout=out, stderr=err))
    return Result(code, out.getvalue(), err.getvalue())


def worktree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_validate_prints_the_summary_and_exits_0(tmp_path: Path) -> None:
    done = oven("validate", str(worktree(tmp_path, {"jobs/good.yaml": GOOD})))
    assert (done.code, done.out, done.err) == (0, "1 jobs valid, 0 problems in 0 files\n", "")


def test_validate_reports_a_problem_on_stdout_and_the_summary_on_stderr(tmp_path: Path) -> None:
    broken = GOOD.replace("0 2 * * *", "61 * * * *")
    done = oven("validate", str(worktree(tmp_path, {"jobs/good.yaml": broken})), "--json")
    assert done.code == 1
    assert [p["path"] for p in done.json()["problems"]] == ["jobs/good.yaml"]
    text = oven("validate", str(tmp_path))
    assert text.out.startswith("jobs/good.yaml:5: schedule") and "1 problems" in text.err


def test_validate_reads_the_allow_list_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mount = GOOD + 'volumes: ["/srv/oven/data:/data"]\n'
    root = worktree(tmp_path, {"jobs/good.yaml": mount})
    monkeypatch.setenv("OVEN_ALLOW_VOLUMES", "/elsewhere:/srv/other")
    refused = oven("validate", str(root))
    assert refused.code == 1 and refused.out.startswith("jobs/good.yaml:6: volumes[0]: ")
    monkeypatch.setenv("OVEN_ALLOW_VOLUMES", "/elsewhere:/srv/oven")
    assert oven("validate", str(root)).code == 0


def test_next_counts_from_the_context_clock(tmp_path: Path) -> None:
    root = worktree(tmp_path, {"jobs/good.yaml": GOOD})
    done = oven("next", "good", "--repo", str(root), "-n", "2", "--json")
    assert done.code == 0, done.err
    times = [t["utc"] for t in done.json()["next"]]
    assert times == ["2026-11-22T01:00:00Z", "2026-11-23T01:00:00Z"]
    later = oven("next", str(root / "jobs/good.yaml"), "-n", "1", "--json", now=NOW.replace(day=25))
    assert [t["utc"] for t in later.json()["next"]] == ["2026-11-25T01:00:00Z"]


def test_next_of_an_unknown_job_is_an_error_with_a_hint(tmp_path: Path) -> None:
    done = oven("next", "nope", "--repo", str(worktree(tmp_path, {"jobs/good.yaml": GOOD})))
    assert done.code == 2 and done.out == ""
    assert done.err == (
        f"error: no job 'nope' in {tmp_path}\nhint: give a job id or a manifest path\n"
    )


def test_explain_answers_in_process(tmp_path: Path) -> None:
    path = worktree(tmp_path, {"job.yaml": GOOD}) / "job.yaml"
    done = oven(
        "explain",
        str(path),
        "--now",
        "2026-11-22T09:00:00Z",
        "--last-scheduled",
        "2026-11-21T01:00:00Z",
        "--json",
    )
    assert done.code == 0, done.err
    result = done.json()
    assert result["start"] == "2026-11-22T01:00:00Z" and result["missed"] == 0
    text = oven("explain", str(path), "--now", "2026-11-22T09:00:00Z")
    assert text.code == 0 and "good" in text.out


def test_explain_of_a_broken_manifest_says_to_validate(tmp_path: Path) -> None:
    path = worktree(tmp_path, {"job.yaml": GOOD.replace("busybox", "")}) / "job.yaml"
    done = oven("explain", str(path), "--now", "2026-11-22T09:00:00Z")
    assert done.code == 2 and done.err.startswith("error: ")
    assert done.err.endswith("hint: fix the manifest first (oven validate)\n")


def test_trigger_and_backfill_write_requests_into_the_state_dir_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVEN_STATE_DIR", str(tmp_path))
    done = oven("trigger", "good", "--idempotency-key", "k1")
    assert done.code == 0 and done.out == manual_run_id("good", "k1", NOW) + "\n"
    done = oven("backfill", "good", "--from", "2026-11-20", "--to", "2026-11-21")
    assert done.out == (
        "requested a backfill of good from 2026-11-20T00:00:00Z to 2026-11-21T00:00:00Z\n"
    )
    assert len(list((tmp_path / "requests").glob("*.json"))) == 2


def test_an_interrupted_command_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(reconciler.cli.validate, "execute", interrupted)
    done = oven("validate", str(tmp_path))
    assert (done.code, done.out, done.err) == (130, "", "")


def test_run_takes_its_settings_from_flags_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reconciler.loop
    from reconciler.settings import Settings

    seen: list[Settings] = []

    async def daemon(settings: Settings) -> int:
        seen.append(settings)
        return 0

    monkeypatch.setattr(reconciler.loop, "run_daemon", daemon)
    for name, value in {
        "OVEN_REPO": "git://example.test/config.git",
        "OVEN_BRANCH": "prod",
        "OVEN_STATUS_BRANCH": "prod-status",
        "OVEN_STATE_DIR": str(tmp_path),
        "OVEN_ALLOW_VOLUMES": "/srv/a:/srv/b",
        "OVEN_KEEP_RUNS": "7",
        "OVEN_INTERVAL": "",
        "OVEN_MAX_LOG_BYTES": "65536",
    }.items():
        monkeypatch.setenv(name, value)
    done = oven("run", "--allow-volume", "/srv/c", "--tick", "0.5")
    assert done.code == 0, done.err
    assert seen == [
        Settings(
            repo="git://example.test/config.git",
            branch="prod",
            status_branch="prod-status",
            state_dir=tmp_path.resolve(),
            volume_allowlist=("/srv/a", "/srv/b", "/srv/c"),
            keep_runs=7,
            tick=0.5,
            interval=30.0,
            max_log_bytes=65536,
            log_wait=0.2,  # the daemon saves large logs off the tick
            remove_wait=0.0,  # and removes containers off the tick
            start_wait=0.0,  # and starts containers off the tick
        )
    ]


def test_run_without_a_repo_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OVEN_REPO", raising=False)
    done = oven("run")
    assert done.code == 2
    assert done.err == (
        "error: --repo is required\nhint: oven run --repo /path/or/url/of/config-repo\n"
    )
