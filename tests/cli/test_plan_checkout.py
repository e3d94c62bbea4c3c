"""``oven plan --repo .`` in a CI-shaped checkout, against a daemon on the same revisions.

CI checks a pull request out as a detached commit of a clone with no local ``main``: the
revisions people write there (``origin/main``, ``HEAD``, ``HEAD~1``, tags, short ids) must
name what git names. The pull request here changes a schedule, adds a job and adds a file
that claims an id another file has: the daemon keeps running that job (last-good rule), so
the plan must not say it goes away. Real git throughout; the daemon is an in-process
Reconciler on the same bare repo.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.gitutil import git, make_bare, push_files

from reconciler.cli import Context, main
from reconciler.clock import FakeClock
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.ledger.memory import MemoryLedger
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.git import GitSource

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def job(job_id: str, cron: str, zone: str = "Europe/Berlin") -> str:
    return (
        f"id: {job_id}\nname: {job_id}\ntype: docker\nimage: busybox\n"
        f"schedule: {{type: cron, cron: '{cron}', timezone: {zone}}}\n"
    )


REPORT_OLD, REPORT_NEW = job("report", "0 2 * * *"), job("report", "30 3 * * *")
DISK = job("disk-report", "*/5 * * * *", "UTC")
CLAIMANT = job("disk-report", "0 * * * *", "UTC")  # a second file with the same id
FRESH = job("fresh", "0 9 * * 1", "America/New_York")


def oven(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Context(clock=FakeClock(NOW), stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


class World:
    """A config remote with main and a pull-request branch, and CI's checkout of the PR."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bare = make_bare(tmp / "config.git")
        self.main = push_files(
            self.bare, "main", {"jobs/report.yaml": REPORT_OLD, "jobs/disk.yaml": DISK}
        )
        git("--git-dir", str(self.bare), "tag", "v1", self.main)
        work = tmp / "author"
        git("clone", "--quiet", str(self.bare), str(work))
        git("checkout", "--quiet", "-b", "pr", cwd=work)  # the pull request, on top of main
        self.first = self.commit(work, {"jobs/report.yaml": REPORT_NEW})
        self.pr = self.commit(work, {"jobs/a-dup.yaml": CLAIMANT, "jobs/fresh.yaml": FRESH})
        git("push", "--quiet", "origin", "pr", cwd=work)
        self.ci = tmp / "ci"
        git("clone", "--quiet", str(self.bare), str(self.ci))
        git("checkout", "--quiet", "--detach", self.pr, cwd=self.ci)
        git("branch", "-D", "main", cwd=self.ci)  # CI: no local main, only origin/main

    @staticmethod
    def commit(work: Path, files: dict[str, str]) -> str:
        for name, content in files.items():
            (work / name).write_text(content)
            git("add", name, cwd=work)
        git("commit", "--quiet", "-m", "change", cwd=work)
        return git("rev-parse", "HEAD", cwd=work)

    def plan(self, *argv: str) -> tuple[int, dict, str]:
        code, out, err = oven("plan", "--repo", str(self.ci), "--json", *argv)
        return code, json.loads(out) if out else {}, err


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def actions(result: dict) -> dict[str, str]:
    return {c["job_id"]: c["action"] for c in result["changes"]}


def test_a_detached_ci_checkout_plans_origin_main_against_head(world: World) -> None:
    assert git("branch", "--list", "main", cwd=world.ci) == ""
    code, result, err = world.plan("--base", "origin/main", "--head", "HEAD")
    assert result["base_revision"] == world.main and result["head_revision"] == world.pr, err
    # disk-report keeps running: the claimant is a problem, not a replacement nor a removal
    assert actions(result) == {
        "disk-report": "unchanged", "fresh": "added", "report": "changed"
    }  # fmt: skip
    report = next(c for c in result["changes"] if c["job_id"] == "report")
    assert report["diffs"] == [{"field": "schedule.cron", "old": "0 2 * * *", "new": "30 3 * * *"}]
    assert report["fields"] == ["schedule"]
    assert report["next_runs_local"][:3] == [
        "2026-11-23T03:30:00+01:00", "2026-11-24T03:30:00+01:00", "2026-11-25T03:30:00+01:00"
    ]  # fmt: skip
    fresh = next(c for c in result["changes"] if c["job_id"] == "fresh")
    assert fresh["next_runs"][0] == "2026-11-23T14:00:00Z"  # Monday 09:00 in New York
    assert [(p["path"], p["line"], p["field"]) for p in result["problems"]] == [
        ("jobs/a-dup.yaml", 1, "id"), ("jobs/disk.yaml", 1, "id")
    ]  # fmt: skip
    assert code == 1  # the head has problems


def test_head_tilde_one_short_ids_and_tags_name_what_git_names(world: World) -> None:
    _, result, err = world.plan("--base", "HEAD~1")
    assert result["base_revision"] == world.first, err
    assert result["head_revision"] == world.main  # no --head: the head of --branch (origin/main)
    _, result, _ = world.plan("--base", "HEAD~1", "--head", "HEAD")
    assert actions(result) == {"disk-report": "unchanged", "fresh": "added", "report": "unchanged"}
    _, result, _ = world.plan("--base", "v1", "--head", world.first[:8])
    assert (result["base_revision"], result["head_revision"]) == (world.main, world.first)
    assert actions(result)["report"] == "changed"


def test_an_unknown_revision_is_a_clear_error(world: World) -> None:
    code, out, err = oven("plan", "--repo", str(world.ci), "--base", "main", "--head", "HEAD")
    assert code == 2 and out == ""
    assert "unknown revision 'main'" in err and "hint:" in err


def test_base_and_head_resolve_in_one_git_run_and_an_error_names_the_head_first(
    world: World,
) -> None:
    code, out, err = oven("plan", "--repo", str(world.ci), "--base", "no-b", "--head", "no-h")
    assert code == 2 and out == "" and "unknown revision 'no-h'" in err
    assert world.plan("--base", "v1", "--head", "HEAD")[1]["head_revision"] == world.pr


def test_the_duplicate_id_plan_agrees_with_the_daemon(world: World, tmp_path: Path) -> None:
    """The daemon applies main, then the pull request merged: it runs what the plan said."""
    state = tmp_path / "state"
    state.mkdir()
    source = GitSource(str(world.bare), "main", state)
    daemon = Reconciler(
        Settings(repo=str(world.bare), state_dir=state, instance="plan-test"),
        source=source,
        executor=MemoryExecutor(MemoryEngine(), state_dir=state, instance="plan-test"),
        ledger=MemoryLedger(),
        clock=FakeClock(NOW),
    )
    daemon.tick(fetch=True)
    git("--git-dir", str(world.bare), "update-ref", "refs/heads/main", world.pr)
    daemon.tick(fetch=True)
    assert daemon.desired is not None and daemon.desired.revision == world.pr
    _, result, _ = world.plan("--base", "origin/main", "--head", "HEAD")
    planned = {c["job_id"] for c in result["changes"] if c["action"] != "removed"}
    assert planned == set(daemon.desired.jobs)
    assert daemon.desired.jobs["disk-report"].path == "jobs/disk.yaml"
    assert [str(p) for p in daemon.desired.problems] == [
        f"{p['path']}:{p['line']}: {p['field']}: {p['message']}" for p in result["problems"]
    ]


def test_text_and_markdown_show_old_and_new_values_and_fire_times(world: World) -> None:
    args = ("plan", "--repo", str(world.ci), "--base", "origin/main", "--head", "HEAD")
    code, text, _ = oven(*args)
    assert code == 1
    assert 'schedule.cron: "0 2 * * *" -> "30 3 * * *"' in text
    assert "2026-11-23 03:30 CET" in text and "problem: jobs/a-dup.yaml:" in text
    assert "- disk-report" not in text
    code, md, _ = oven(
        "plan", "--repo", str(world.ci), "--base", "origin/main", "--head", "HEAD",
        "--format", "markdown",
    )  # fmt: skip
    assert code == 1
    assert "| ✏️ changed | `report` |" in md and "| ➕ added | `fresh` |" in md
    assert '`schedule.cron`: `"0 2 * * *"` → `"30 3 * * *"`' in md
    assert "- `jobs/a-dup.yaml:" in md


def test_exit_code_signals_changes_with_three(world: World) -> None:
    args = ("plan", "--repo", str(world.ci), "--exit-code")
    assert oven(*args, "--base", "origin/main", "--head", "HEAD~1")[0] == 3
    assert oven(*args, "--base", "HEAD~1", "--head", "HEAD~1")[0] == 0
    assert oven("plan", "--repo", str(world.ci), "--base", "v1", "--head", "HEAD~1")[0] == 0
