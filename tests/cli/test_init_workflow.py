"""The workflow `oven init` writes, run as a script here: its `run:` steps in order, without GitHub.

A CI-shaped checkout: a bare origin with `main` and a pull-request branch, `git clone`, then
`git checkout --detach` of the pull request's commit (no local branch of it), as
actions/checkout leaves it. Each `run:` step of `.github/workflows/oven.yml` whose `if:` holds
for a `pull_request` event runs with GitHub's default shell (`bash -eo pipefail`), its `env:`
with the event's values, and the real `oven` (this source tree) first on PATH. The one step not
run is "Install oven" (`pip install`, which needs a package index): oven is already here. The
`uses:` steps (checkout, setup-python, the comment) are GitHub's; the comment posts the file
the Plan step wrote, which is what is checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

import pytest
import yaml
from support.ghworkflow import check_workflow
from support.gitutil import GIT_ENV, git, make_bare

from reconciler.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]


def init_repo(where: Path) -> Path:
    assert main(["init", str(where)]) == 0
    return where


def steps(workflow: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(workflow.read_text())
    (job,) = data["jobs"].values()
    return list(job["steps"])


def oven_on_path(tmp: Path) -> dict[str, str]:
    """The environment of a step: git isolated, `oven` this source tree's CLI."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "oven"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reconciler "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVEN_")}
    return {
        **env,
        **GIT_ENV,
        "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
        "PYTHONPATH": str(ROOT),
        "GITHUB_EVENT_NAME": "pull_request",
    }


def markdown_plan_exists(env: dict[str, str]) -> bool:
    done = subprocess.run(
        ["oven", "plan", "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    return "--format" in done.stdout


def run_pull_request_steps(
    checkout: Path, workflow: Path, env: dict[str, str], event: dict[str, str]
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run the workflow's `run:` steps for a pull request; stop at the first that fails."""
    markdown = markdown_plan_exists(env)
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    for step in steps(workflow):
        if "run" not in step:
            continue
        condition = step.get("if")
        assert condition in (None, "github.event_name == 'pull_request'"), condition
        name = step.get("name", step["run"])
        if name == "Install oven":
            assert step["run"].startswith("python -m pip install"), step
            continue
        step_env = dict(env)
        for key, value in (step.get("env") or {}).items():
            expr = re.fullmatch(r"\$\{\{ (.+) \}\}", str(value))
            step_env[key] = event[expr.group(1)] if expr else str(value)
        script = step["run"]
        if not markdown:  # until `oven plan --format markdown` is in: the text plan
            script = script.replace(" --format markdown", "")
        done = subprocess.run(
            [*SHELL, script],
            cwd=checkout,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        results[name] = done
        if done.returncode != 0:
            break
    return results


def pull_request_checkout(tmp: Path, change: dict[str, str | None]) -> tuple[Path, str]:
    """origin (bare) with main = `oven init`'s repo, a PR branch with ``change``; a CI clone."""
    work = init_repo(tmp / "work")
    git("init", "--quiet", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "oven init", cwd=work)
    base = git("rev-parse", "HEAD", cwd=work)
    origin = make_bare(tmp / "origin.git")
    git("push", "--quiet", str(origin), "main", cwd=work)
    git("checkout", "--quiet", "-b", "change", cwd=work)
    for name, content in change.items():
        if content is None:
            (work / name).unlink()
        else:
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(content)
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "the pull request", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work)
    git("push", "--quiet", str(origin), "change", cwd=work)
    checkout = tmp / "ci"
    git("clone", "--quiet", str(origin), str(checkout))
    git("checkout", "--quiet", "--detach", head, cwd=checkout)
    git("branch", "--quiet", "-D", "main", cwd=checkout)  # CI has no local main
    return checkout, base


def plan_in_ci_checkout_landed() -> bool:
    """Issue 8 item 1 (another branch): `oven plan --repo .` resolving HEAD in a detached
    checkout without a local main, with `--format markdown`. Until then `oven plan` says
    `unknown revision 'HEAD'` there, and the two pull-request tests below are expected to fail.
    """
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--help"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "--format" in done.stdout


WAITS_FOR_PLAN = pytest.mark.xfail(
    not plan_in_ci_checkout_landed(),
    reason="oven plan in a CI checkout and --format markdown (issue 8 item 1) not merged yet",
    strict=True,
)

NEW_JOB = """\
id: backup
name: Backup
type: docker
image: agent-oven/base-tasks:latest
command: ["sh", "-c", "echo backup"]
schedule:
  type: cron
  cron: "30 1 * * *"
  timezone: Europe/Berlin
"""


@WAITS_FOR_PLAN
def test_the_init_workflow_posts_the_plan_of_a_pull_request(tmp_path: Path) -> None:
    checkout, base = pull_request_checkout(tmp_path, {"jobs/backup.yaml": NEW_JOB})
    env = oven_on_path(tmp_path)
    event = {"github.event.pull_request.base.sha": base}
    results = run_pull_request_steps(checkout, checkout / ".github/workflows/oven.yml", env, event)
    assert list(results) == ["Plan", "Validate"], {k: v.stderr for k, v in results.items()}
    assert all(r.returncode == 0 for r in results.values()), results
    comment = (checkout / "oven-plan.md").read_text()
    assert results["Plan"].stdout == comment  # the log shows what is posted
    assert "backup" in comment, comment
    if markdown_plan_exists(env):
        assert re.search(r"^\|.*backup.*\|$", comment, re.MULTILINE), comment
    assert "2 jobs valid, 0 problems" in results["Validate"].stdout


@WAITS_FOR_PLAN
def test_a_broken_pull_request_gets_its_plan_and_fails_validate(tmp_path: Path) -> None:
    broken = NEW_JOB.replace('cron: "30 1 * * *"', 'cron: "61 1 * * *"')
    checkout, base = pull_request_checkout(tmp_path, {"jobs/backup.yaml": broken})
    env = oven_on_path(tmp_path)
    event = {"github.event.pull_request.base.sha": base}
    results = run_pull_request_steps(checkout, checkout / ".github/workflows/oven.yml", env, event)
    assert list(results) == ["Plan", "Validate"], {k: v.stderr for k, v in results.items()}
    assert results["Plan"].returncode == 0, results["Plan"].stderr
    assert results["Validate"].returncode == 1
    assert "jobs/backup.yaml:" in results["Validate"].stdout


def test_the_init_workflow_is_a_valid_github_workflow(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    check_workflow(repo / ".github" / "workflows" / "oven.yml")


def gitlab_job() -> dict[str, Any]:
    """The `.gitlab-ci.yml` snippet of docs/config-repo.md."""
    text = (ROOT / "docs" / "config-repo.md").read_text()
    section = text.split("## On every merge request: GitLab CI", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block, "docs/config-repo.md has no GitLab CI yaml block"
    data: dict[str, Any] = yaml.safe_load(block.group(1))
    return dict(data["oven"])


class Notes(BaseHTTPRequestHandler):
    """GitLab's notes API, as far as the snippet uses it: records each POST."""

    received: ClassVar[list[tuple[str, str, str]]] = []

    def do_POST(self) -> None:  # noqa: N802 (the http.server name)
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        Notes.received.append((self.path, self.headers["PRIVATE-TOKEN"], body))
        self.send_response(201)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@WAITS_FOR_PLAN
def test_the_gitlab_snippet_posts_the_plan_as_a_merge_request_note(tmp_path: Path) -> None:
    checkout, base = pull_request_checkout(tmp_path, {"jobs/backup.yaml": NEW_JOB})
    job = gitlab_job()
    install, script, validate = job["script"]
    assert install.startswith("python -m pip install")  # oven is already here
    server = ThreadingHTTPServer(("127.0.0.1", 0), Notes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Notes.received.clear()
    env = {
        **oven_on_path(tmp_path),
        **{k: str(v) for k, v in job["variables"].items()},
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_API_V4_URL": f"http://127.0.0.1:{server.server_address[1]}/api/v4",
        "CI_PROJECT_ID": "42",
        "OVEN_NOTE_TOKEN": "glpat-test",
    }
    try:
        for line in (script, validate):
            done = subprocess.run(
                [*SHELL, line], cwd=checkout, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stdout + done.stderr
    finally:
        server.shutdown()
        server.server_close()
    ((path, token, body),) = Notes.received
    assert path == "/api/v4/projects/42/merge_requests/7/notes" and token == "glpat-test"
    note = parse_qs(body)["body"][0]
    assert note == (checkout / "oven-plan.md").read_text() and "backup" in note
