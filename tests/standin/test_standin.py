"""The Agent Pipeline stand-in against the documented formats (the integration reference).

Runs the real stand-in with this machine's `node` (20 here; the runner image has 22) in real git
repos, with a real bare `origin`, and checks every line, file and exit code the reconciler will
parse. The expected shapes below are the reference's, written out as patterns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from support.gitutil import git, make_bare
from support.standin import STANDIN_BIN, make_pipeline_repo, pack_standin, pipeline_yaml

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
STAGES = ("plan", "build", "review")
TOKEN_KEYS = {
    "estimated_input",
    "actual_input",
    "output",
    "cache_creation",
    "cache_read",
    "num_turns",
    "thinking_tokens",
}
AUTH_TEXTS = {
    "auth-invalid-key": "Invalid API key · Please run /login",
    "auth-not-logged-in": "Not logged in · Please run /login",
    "auth-login-expired": "Login expired · Please run /login",
    "auth-oauth-expired": (
        'Failed to authenticate. API Error: 401 {"type":"error","error":{"type":'
        '"authentication_error","message":"OAuth token has expired. Please obtain a new token '
        'or refresh your existing token."}'
    ),
    "auth-invalid-credentials": (
        'API Error: 401 {"type":"error","error":{"type":"authentication_error",'
        '"message":"Invalid authentication credentials"}'
    ),
}


def run(
    repo: Path, *args: str, home: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STANDIN_") and k not in ("ANTHROPIC_MODEL", "HOME")
    }
    full_env = {
        **inherited,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(home or repo.parent / "home"),
        **env,
    }
    return subprocess.run(
        [str(NODE), str(STANDIN_BIN), *args],
        cwd=repo,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    return make_bare(tmp_path / "origin.git")


@pytest.fixture
def repo(tmp_path: Path, origin: Path) -> Path:
    return make_pipeline_repo(tmp_path / "repo", "review", STAGES, origin=origin)


def state_files(repo: Path) -> list[Path]:
    runs = repo / ".agent-pipeline" / "state" / "runs"
    return sorted(runs.glob("*.json")) if runs.exists() else []


def only_state(repo: Path) -> dict:
    files = state_files(repo)
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


# ---------------------------------------------------------------- list, not found, validation


def test_list_prints_the_pipelines_by_file_name(repo: Path) -> None:
    (repo / ".agent-pipeline" / "pipelines" / "nightly.yml").write_text(
        pipeline_yaml("nightly", ["a"])
    )
    done = run(repo, "list")
    assert done.returncode == 0
    assert done.stdout == "Available pipelines:\n  - nightly\n  - review\n"


def test_list_without_pipelines_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run(empty, "list")
    assert done.returncode == 0
    assert done.stdout == "No pipelines found in .agent-pipeline/pipelines/\n"


def test_a_missing_pipeline_is_not_found_with_exit_1(repo: Path) -> None:
    done = run(repo, "run", "nightly", "--quiet")
    assert done.returncode == 1
    assert done.stderr == "Pipeline not found: nightly\n"
    assert done.stdout == ""
    assert state_files(repo) == []


def test_a_pipeline_file_outside_the_yaml_subset_fails_validation_with_its_line(repo: Path) -> None:
    (repo / ".agent-pipeline" / "pipelines" / "bad.yml").write_text(
        "name: bad\nagents:\n  - name: a\n    agent: &anchor a.md\n"
    )
    done = run(repo, "run", "bad", "--quiet")
    assert done.returncode == 1
    assert done.stderr.startswith("❌ Pipeline validation failed:\n")
    assert "line 4: unsupported YAML: &anchor a.md" in done.stderr


def test_an_unknown_dependency_fails_validation(repo: Path) -> None:
    (repo / ".agent-pipeline" / "pipelines" / "bad.yml").write_text(
        "name: bad\nagents:\n  - name: a\n    agent: a.md\n    dependsOn: [nope]\n"
    )
    done = run(repo, "run", "bad", "--quiet")
    assert done.returncode == 1
    assert "agents[0].dependsOn: unknown stage nope" in done.stderr


# ---------------------------------------------------------------- a completed run


def test_a_completed_run_prints_the_documented_progress_lines(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    state = only_state(repo)
    patterns = [r"Pipeline: review", rf"Run ID: {state['runId'][:8]}"]
    for stage in STAGES:
        patterns += [
            rf"Stage: {stage} - STARTED",
            rf"▶ {stage}\.\.\.",
            rf"Stage: {stage} - COMPLETED \(\d+\.\ds\) \[[0-9a-f]{{7}}\]",
            rf"✅ {stage} \(\d+s\)",
        ]
    patterns += [r"Pipeline COMPLETED", r"Total duration: \d+\.\ds", r"Stages executed: 3"]
    assert len(lines) == len(patterns), lines
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)


def test_each_stage_is_a_real_commit_with_the_documented_message_and_trailers(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet")
    assert done.returncode == 0, done.stderr
    state = only_state(repo)
    shas = re.findall(r"COMPLETED \(\d+\.\ds\) \[([0-9a-f]{7})\]", done.stdout)
    for stage, short, recorded in zip(STAGES, shas, state["stages"], strict=True):
        assert recorded["commitSha"].startswith(short)
        message = git("log", "-1", "--format=%B", recorded["commitSha"], cwd=repo)
        assert message == (
            f"[pipeline:{stage}] Apply {stage} changes\n\n"
            f"Agent-Pipeline: true\nPipeline-Run-ID: {state['runId']}\nPipeline-Stage: {stage}"
        )
    assert git("rev-parse", "HEAD", cwd=repo) == state["artifacts"]["finalCommit"]
    assert git("rev-parse", "main", cwd=repo) == state["artifacts"]["initialCommit"]


def test_the_state_file_has_the_documented_fields(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet")
    assert done.returncode == 0, done.stderr
    (path,) = state_files(repo)
    state = json.loads(path.read_text())
    assert UUID4.match(state["runId"]) and path.name == f"{state['runId']}.json"
    assert state["status"] == "completed"
    assert state["trigger"]["type"] == "manual"
    assert state["trigger"]["commitSha"] == state["artifacts"]["initialCommit"]
    assert [s["stageName"] for s in state["stages"]] == list(STAGES)
    for index, stage in enumerate(state["stages"]):
        assert stage["status"] == "success"
        assert re.fullmatch(ISO, stage["startTime"]) and re.fullmatch(ISO, stage["endTime"])
        assert isinstance(stage["duration"], int | float) and stage["duration"] >= 0
        assert set(stage["tokenUsage"]) == TOKEN_KEYS
        assert stage["tokenUsage"]["actual_input"] == 1200 + 100 * index
        assert stage["tokenUsage"]["output"] == 300 + 10 * index
        assert stage["retryAttempt"] == 0 and stage["maxRetries"] == 0
        assert "error" not in stage
    artifacts = state["artifacts"]
    assert artifacts["totalDuration"] >= 0
    assert sorted(artifacts["changedFiles"]) == [
        f"agent-output/review/{s}.md" for s in sorted(STAGES)
    ]
    assert artifacts["logPath"] == ".agent-pipeline/logs/review.log"


def test_the_branch_is_pushed_to_origin_and_the_pull_request_url_derives_from_it(
    repo: Path, origin: Path
) -> None:
    done = run(repo, "run", "review", "--quiet")
    assert done.returncode == 0, done.stderr
    state = only_state(repo)
    pr = state["artifacts"]["pullRequest"]
    assert pr["branch"] == f"pipeline/review-{state['runId'][:8]}"
    assert pr["baseBranch"] == "main"
    assert pr["number"] == 1
    assert pr["url"] == f"file://{str(origin)[: -len('.git')]}/pull/1"
    assert git("rev-parse", pr["branch"], cwd=origin) == state["artifacts"]["finalCommit"]


def test_a_github_origin_gives_a_github_pull_request_url(
    tmp_path: Path, repo: Path, origin: Path
) -> None:
    # git rewrites the GitHub address to the local bare repo, so the push really happens.
    url = "git@github.com:acme/widgets.git"
    git("remote", "set-url", "origin", url, cwd=repo)
    git("config", f"url.{origin}.insteadOf", url, cwd=repo)
    done = run(repo, "run", "review", "--quiet")
    assert done.returncode == 0, done.stderr
    assert (
        only_state(repo)["artifacts"]["pullRequest"]["url"]
        == "https://github.com/acme/widgets/pull/1"
    )


def test_without_an_origin_there_is_a_pr_error_and_still_exit_0(tmp_path: Path) -> None:
    repo = make_pipeline_repo(tmp_path / "lonely", "review", STAGES)
    done = run(repo, "run", "review", "--quiet")
    assert done.returncode == 0
    artifacts = only_state(repo)["artifacts"]
    assert "pullRequest" not in artifacts
    assert artifacts["prError"] == "No origin remote: pull request not created"


def test_the_log_file_holds_the_progress_lines_with_iso_prefixes(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet")
    logged = (repo / ".agent-pipeline" / "logs" / "review.log").read_text().splitlines()
    assert len(logged) == len(done.stdout.splitlines())
    for entry, line in zip(logged, done.stdout.splitlines(), strict=True):
        match = re.fullmatch(rf"\[({ISO})\] (.*)", entry)
        assert match and match.group(2) == line


def test_the_state_file_appears_only_after_the_first_group_of_stages(repo: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")},
        "GIT_CONFIG_GLOBAL": os.devnull,
        "HOME": str(repo.parent),
        "STANDIN_STAGE_SECONDS": "1",
    }
    seen_before_first_completed = None
    status_after_first = None
    with subprocess.Popen(
        [str(NODE), str(STANDIN_BIN), "run", "review", "--quiet"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Stage: plan - STARTED"):
                seen_before_first_completed = state_files(repo)
            if line.startswith("Stage: build - STARTED"):
                status_after_first = only_state(repo)
        assert proc.wait(timeout=30) == 0
    assert seen_before_first_completed == []
    assert status_after_first is not None
    assert status_after_first["status"] == "running"
    assert [s["status"] for s in status_after_first["stages"]] == ["success"]


def test_the_model_reaches_each_stage_and_the_pipeline_file_wins(tmp_path: Path) -> None:
    yaml_text = pipeline_yaml("review", STAGES, stage_models={"review": "opus"})
    repo = make_pipeline_repo(tmp_path / "repo", "review", STAGES, yaml_text=yaml_text)
    done = run(repo, "run", "review", "--quiet", ANTHROPIC_MODEL="claude-test-model")
    assert done.returncode == 0, done.stderr
    models = [s["model"] for s in only_state(repo)["stages"]]
    assert models == ["claude-test-model", "claude-test-model", "opus"]
    assert "model: claude-test-model" in (repo / "agent-output" / "review" / "plan.md").read_text()


def test_dry_run_commits_nothing(repo: Path) -> None:
    head = git("rev-parse", "HEAD", cwd=repo)
    done = run(repo, "run", "review", "--quiet", "--dry-run")
    assert done.returncode == 0
    assert "[" not in "".join(x for x in done.stdout.splitlines() if "COMPLETED" in x)
    assert git("rev-parse", "HEAD", cwd=repo) == head


# ---------------------------------------------------------------- modes


def test_a_failed_stage_fails_the_pipeline_and_skips_the_rest(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet", STANDIN_MODE="stage-failed")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"Stage: build - FAILED: .+", lines[lines.index("▶ build...") + 1])
    assert re.fullmatch(r"❌ build \(\d+s\)", lines[lines.index("▶ build...") + 2])
    assert "Stage: review - STARTED" not in lines
    assert lines[-3] == "Pipeline FAILED"
    assert re.fullmatch(r"Total duration: \d+\.\ds", lines[-2])
    assert lines[-1] == "Stages executed: 2"
    state = only_state(repo)
    assert state["status"] == "failed"
    assert [s["status"] for s in state["stages"]] == ["success", "failed", "skipped"]
    assert state["stages"][1]["error"]["message"].startswith("Claude CLI exited with code 1.")
    assert "pullRequest" not in state["artifacts"]


def test_partial_runs_every_stage_and_exits_1(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet", STANDIN_MODE="partial")
    assert done.returncode == 1
    assert "Pipeline PARTIAL" in done.stdout.splitlines()
    state = only_state(repo)
    assert state["status"] == "partial"
    assert [s["status"] for s in state["stages"]] == ["success", "failed", "success"]


def test_retry_prints_the_attempt_line(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet", STANDIN_MODE="retry")
    assert done.returncode == 0
    assert "Stage: build (attempt 2) - STARTED" in done.stdout.splitlines()
    assert only_state(repo)["stages"][1]["retryAttempt"] == 1


@pytest.mark.parametrize("mode", sorted(AUTH_TEXTS))
def test_each_auth_failure_text_fails_the_first_stage(repo: Path, mode: str) -> None:
    done = run(repo, "run", "review", "--quiet", STANDIN_MODE=mode)
    assert done.returncode == 1
    text = AUTH_TEXTS[mode]
    failed = [x for x in done.stdout.splitlines() if x.startswith("Stage: plan - FAILED: ")]
    assert len(failed) == 1 and text in failed[0]
    assert text in done.stderr
    assert "Pipeline FAILED" in done.stdout
    assert text in only_state(repo)["stages"][0]["error"]["message"]


def test_the_usage_limit_text_names_the_reset_time(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet", STANDIN_MODE="usage-limit")
    assert done.returncode == 1
    assert (
        "Stage: plan - FAILED: Claude CLI exited with code 1. stderr: "
        "You've hit your limit · resets 3pm (Europe/Berlin)" in done.stdout.splitlines()
    )


def test_the_usage_limit_epoch_form(repo: Path) -> None:
    done = run(
        repo, "run", "review", "--quiet", STANDIN_MODE="usage-limit", STANDIN_LIMIT_FORM="epoch"
    )
    match = re.search(r"Claude AI usage limit reached\|(\d+)", done.stdout)
    assert done.returncode == 1 and match
    assert time.time() < int(match.group(1)) <= time.time() + 2 * 3600 + 60


def test_a_result_line_with_is_error_still_exits_0(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet", STANDIN_MODE="result-is-error")
    assert done.returncode == 0
    results = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    assert len(results) == 1
    assert results[0]["type"] == "result" and results[0]["is_error"] is True
    assert set(results[0]["usage"]) >= {"input_tokens", "output_tokens"}
    assert "Pipeline COMPLETED" in done.stdout


def test_fail_stage_picks_the_stage(repo: Path) -> None:
    done = run(
        repo, "run", "review", "--quiet", STANDIN_MODE="stage-failed", STANDIN_FAIL_STAGE="review"
    )
    assert "Stage: review - FAILED: " in done.stdout
    assert "Stage: build - COMPLETED" in done.stdout


def test_echo_env_prints_the_value_to_stdout_stderr_and_the_log(repo: Path) -> None:
    secret = f"sk-test-{uuid.uuid4().hex}"
    done = run(repo, "run", "review", "--quiet", STANDIN_ECHO_ENV="MY_TOKEN", MY_TOKEN=secret)
    assert f"standin: MY_TOKEN={secret}" in done.stdout.splitlines()
    assert f"standin: MY_TOKEN={secret}" in done.stderr
    assert secret in (repo / ".agent-pipeline" / "logs" / "review.log").read_text()


def test_an_unknown_mode_is_refused(repo: Path) -> None:
    done = run(repo, "run", "review", "--quiet", STANDIN_MODE="nonsense")
    assert done.returncode == 2
    assert "unknown STANDIN_MODE=nonsense" in done.stderr


def test_sigint_aborts_with_exit_130_and_an_aborted_state(repo: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")},
        "GIT_CONFIG_GLOBAL": os.devnull,
        "HOME": str(repo.parent),
        "STANDIN_STAGE_SECONDS": "5",
    }
    with subprocess.Popen(
        [str(NODE), str(STANDIN_BIN), "run", "review", "--quiet"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("▶ plan"):
                break
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
        assert proc.wait(timeout=10) == 130
    assert "Pipeline ABORTED" in rest.splitlines()
    state = only_state(repo)
    assert state["status"] == "aborted"
    assert state["stages"][0]["status"] == "failed"


def test_write_home_writes_like_claude_code_and_fails_on_a_read_only_home(
    repo: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude.json").write_text('{"numStartups": 4}\n')
    done = run(repo, "run", "review", "--quiet", home=home, STANDIN_WRITE_HOME="1")
    assert done.returncode == 0, done.stderr
    assert json.loads((home / ".claude.json").read_text())["numStartups"] == 5
    assert len(list((home / ".claude" / "todos").glob("*.json"))) == 1
    if os.geteuid() == 0:
        return  # root writes through read-only modes; the image test covers a read-only mount
    (home / ".claude" / "todos").chmod(0o500)
    try:
        done = run(repo, "run", "review", "--quiet", home=home, STANDIN_WRITE_HOME="1")
    finally:
        (home / ".claude" / "todos").chmod(0o700)
    assert done.returncode == 1
    assert "standin: cannot write the Claude Code home" in done.stderr


def test_npm_pack_ships_the_stand_in_without_dependencies(tmp_path: Path) -> None:
    tarball = pack_standin(tmp_path / "pack")
    assert tarball.name == "agent-pipeline-0.1.5-standin.tgz"
    listing = subprocess.run(
        ["tar", "-tzf", str(tarball)], capture_output=True, text=True, check=True
    )
    names = set(listing.stdout.split())
    assert {"package/package.json", "package/bin/agent-pipeline.js", "package/lib/cli.js"} <= names
    manifest = json.loads((Path(__file__).parent / "agent-pipeline" / "package.json").read_text())
    assert manifest["bin"] == {"agent-pipeline": "bin/agent-pipeline.js"}
    assert "dependencies" not in manifest
