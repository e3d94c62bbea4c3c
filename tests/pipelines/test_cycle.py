"""Agent-pipeline runs through the reconcile cycle on a fake clock, with every adapter in memory.

What the cycle does with a pipeline job: pre-flight (never a container for missing
credentials), the request (runner image, checkout at /work, the auth mode's credentials,
OVEN_MODEL), live stages from the output (a status commit only when a stage changes), the
final record from the output and the state file, redaction, and the checkout removed once the
result is committed. The same on the real engine and real git: tests/scenarios/test_pipelines.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.clock import FakeClock
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.ledger.memory import MemoryLedger
from reconciler.reconcile import Reconciler
from reconciler.runids import manual_run_id
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.source.memory import MemorySource
from reconciler.spool import RequestSpool
from reconciler.status import load_yaml
from reconciler.workspaces import MemoryWorkspaces

T0 = datetime(2026, 11, 22, 2, 0, 0, tzinfo=UTC)
RUNNER = "agent-oven/pipeline-runner:latest"
REPO = "https://git.example.com/app.git"
SOURCE_FILES = {".agent-pipeline/pipelines/nightly.yml": b"name: nightly\n",
                ".agent-pipeline/pipelines/weekly.yml": b"name: weekly\n"}
KEY = "sk-ant-api-very-secret-1234"
STATE = {
    "runId": "1a2b3c4d-0000-4000-8000-000000000001",
    "status": "completed",
    "stages": [
        {"stageName": "review", "status": "success", "duration": 12.3, "commitSha": "abc1234",
         "tokenUsage": {"actual_input": 1000, "output": 200}},
        {"stageName": "fix", "status": "success", "duration": 4.5,
         "tokenUsage": {"actual_input": 500, "output": 50}},
    ],
    "artifacts": {"pullRequest": {"url": "https://git.example.com/app/pull/9", "number": 9,
                                  "branch": "pipeline/nightly"}},
}


def pipeline_job(**fields: Any) -> str:
    data: dict[str, Any] = {
        "id": "agent",
        "name": "agent",
        "type": "agent-pipeline",
        "source": {"repo": REPO, "branch": "main"},
        "pipeline": "nightly",
        "auth": "api-key",
        "model": "sonnet",
        "schedule": {"type": "manual"},
    }
    data.update(fields)
    return yaml.safe_dump(data)


class World:
    def __init__(self, tmp: Path, secrets: dict[str, str], label: str = "agent-pipeline@0.1.5"):
        self.clock = FakeClock(T0)
        self.engine = MemoryEngine(self.clock, images=[RUNNER],
                                   labels={RUNNER: {"agent-oven.agent-pipeline": label}})
        self.executor = MemoryExecutor(self.engine, state_dir=tmp, instance="t")
        self.source, self.ledger = MemorySource(), MemoryLedger()
        self.spool = RequestSpool(tmp)
        self.workspaces = MemoryWorkspaces({REPO: SOURCE_FILES})
        self.reconciler = Reconciler(
            Settings(repo="memory", state_dir=tmp, heartbeat=3600),
            source=self.source, executor=self.executor, ledger=self.ledger, clock=self.clock,
            secrets=SecretStore(secrets), spool=self.spool, workspaces=self.workspaces,
        )

    def start(self, manifest: str) -> str:
        self.source.commit({"jobs/agent.yaml": manifest})
        self.spool.submit_manual("agent", "k1")
        self.tick()
        return manual_run_id("agent", "k1", T0)

    def tick(self, seconds: float = 0) -> None:
        self.clock.advance(seconds)
        self.reconciler.tick(fetch=True)

    def run(self, run_id: str) -> dict[str, Any]:
        data: dict[str, Any] = load_yaml(self.ledger.read()[f"status/runs/agent/{run_id}.yaml"])
        return data

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = load_yaml(self.ledger.read()["status/jobs/agent.yaml"])
        return data


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, {"ANTHROPIC_API_KEY": KEY, "GITHUB_TOKEN": "ghp-token-abcdef"})


def test_the_container_runs_the_runner_on_the_checkout_with_the_credentials(world: World):
    run_id = world.start(pipeline_job())
    (container,) = world.engine.containers.values()
    request = container.request
    assert (request.image, request.command) == (RUNNER, ("oven-pipeline", "nightly"))
    assert request.volumes[0] == f"/checkouts/{run_id}:/work:rw"
    assert request.env["ANTHROPIC_API_KEY"] == KEY and request.env["OVEN_MODEL"] == "sonnet"
    assert request.env["GH_TOKEN"] == request.env["GITHUB_TOKEN"] == "ghp-token-abcdef"
    run = world.run(run_id)
    assert (run["status"], run["image"]) == ("running", RUNNER)
    assert {"ANTHROPIC_API_KEY", "GH_TOKEN", "GITHUB_TOKEN"} <= set(run["secret_names"])


def test_stages_go_live_and_only_a_stage_change_makes_a_status_commit(world: World):
    run_id = world.start(pipeline_job())
    world.executor.emit(run_id, "Pipeline: nightly\nRun ID: 1a2b3c4d\nStage: review - STARTED\n")
    world.tick(1)
    stages = world.run(run_id)["stages"]
    assert [(s["name"], s["status"]) for s in stages] == [("review", "running")]
    commits = len(world.ledger.commits)
    for _ in range(5):
        world.executor.emit(run_id, "agent chatter that is not a progress line\n")
        world.tick(1)
    assert len(world.ledger.commits) == commits, "no stage changed, so no status commit"
    world.executor.emit(run_id, "Stage: review - COMPLETED (12.3s) [abc1234]\nStage: fix - STA")
    world.tick(1)
    stages = world.run(run_id)["stages"]
    assert [(s["name"], s["status"]) for s in stages] == [("review", "succeeded")]
    assert len(world.ledger.commits) == commits + 1
    world.executor.emit(run_id, "RTED\n")
    world.tick(1)
    assert [s["status"] for s in world.run(run_id)["stages"]] == ["succeeded", "running"]
    snapshot = world.reconciler.snapshot.runs[run_id]
    assert snapshot["stages"][-1]["name"] == "fix", "the page's snapshot has the current stage"


def test_the_end_fills_in_tokens_commits_and_the_pull_request_then_the_checkout_goes(
    world: World,
):
    run_id = world.start(pipeline_job())
    world.executor.emit(run_id, "Run ID: 1a2b3c4d\nStage: review - STARTED\n")
    world.tick(1)
    world.executor.emit(run_id, "Stage: review - COMPLETED (12.3s) [abc1234]\n"
                                "Stage: fix - STARTED\nStage: fix - COMPLETED (4.5s)\n"
                                "Pipeline COMPLETED\n")
    world.workspaces.write(run_id, f".agent-pipeline/state/runs/{STATE['runId']}.json",
                           json.dumps(STATE).encode())
    world.executor.finish(run_id, 0)
    world.tick(1)
    run = world.run(run_id)
    assert (run["status"], run["error"]) == ("succeeded", None)
    review, fix = run["stages"]
    assert (review["name"], review["duration_s"], review["commit"]) == ("review", 12.3, "abc1234")
    assert review["tokens"] == {"input": 1000, "output": 200} and review["model"] == "sonnet"
    assert review["started_at"] == "2026-11-22T02:00:01Z", "the time it was first seen live"
    assert fix["tokens"] == {"input": 500, "output": 50}
    assert run["tokens"] == {"input": 1500, "output": 250}
    assert run["pull_request"]["url"] == "https://git.example.com/app/pull/9"
    assert world.workspaces.runs() == [], "the checkout is removed once the result is committed"
    summary = world.summary()
    assert summary["tokens"]["last_run"] == {"input": 1500, "output": 250}
    assert summary["tokens"]["last_7_days"] == {"input": 1500, "output": 250}


@pytest.mark.parametrize(
    ("secrets", "manifest", "cls", "text"),
    [
        ({}, pipeline_job(), "AuthError", "ANTHROPIC_API_KEY"),
        ({"ANTHROPIC_API_KEY": KEY}, pipeline_job(auth="oauth-token"), "AuthError",
         "CLAUDE_CODE_OAUTH_TOKEN"),
        ({}, pipeline_job(auth="host-login"), "AuthError", "does not exist"),
        ({"ANTHROPIC_API_KEY": KEY},
         pipeline_job(source={"repo": REPO, "secret": "APP_TOKEN"}), "AuthError", "APP_TOKEN"),
    ],
    ids=["api-key without key", "oauth-token without token", "host-login without login",
         "source secret missing"],
)
def test_missing_credentials_never_launch_a_container(
    tmp_path: Path, secrets: dict[str, str], manifest: str, cls: str, text: str
) -> None:
    world = World(tmp_path, secrets)
    run_id = world.start(manifest)
    run = world.run(run_id)
    assert (run["status"], run["error"]["class"]) == ("failed", cls)
    assert text in run["error"]["message"] and run["error"]["hint"]
    assert world.engine.containers == {}, "no container was created"
    assert world.workspaces.runs() == [], "and no checkout is left behind"
    assert world.summary()["last_run"]["status"] == "failed"


def test_an_image_without_agent_pipeline_is_not_installed_and_never_launched(tmp_path: Path):
    world = World(tmp_path, {"ANTHROPIC_API_KEY": KEY}, label="none")
    run = world.run(world.start(pipeline_job()))
    assert (run["status"], run["error"]["class"]) == ("failed", "NotInstalled")
    assert "AGENT_PIPELINE_PACKAGE" in run["error"]["hint"]
    assert world.engine.containers == {}


def test_an_auth_text_in_the_output_is_an_auth_error_and_secrets_are_redacted(world: World):
    run_id = world.start(pipeline_job())
    world.executor.emit(run_id, f"Stage: review - STARTED\nStage: review - FAILED: key {KEY} "
                                "refused: Invalid API key · Please run /login\n")
    world.tick(1)
    live = world.run(run_id)["stages"][0]["error"]["message"]
    assert KEY not in live and "***" in live, "live stage errors are redacted too"
    world.executor.finish(run_id, 1)
    world.tick(1)
    run = world.run(run_id)
    assert (run["status"], run["error"]["class"]) == ("failed", "AuthError")
    assert "ANTHROPIC_API_KEY" in run["error"]["hint"]
    assert KEY not in json.dumps(run) and KEY not in json.dumps(world.reconciler.snapshot.runs)


def test_pipeline_not_found_lists_the_pipelines_of_the_checkout(world: World):
    run_id = world.start(pipeline_job(pipeline="nightlly"))
    world.executor.emit(run_id, "Pipeline not found: nightlly\n")
    world.executor.finish(run_id, 1)
    world.tick(1)
    error = world.run(run_id)["error"]
    assert error["class"] == "PipelineNotFound"
    assert "nightly, weekly" in error["message"]


def test_an_https_source_token_also_serves_gh_when_no_github_token_is_set(tmp_path: Path):
    world = World(tmp_path, {"ANTHROPIC_API_KEY": KEY, "APP_TOKEN": "tok-app-123456"})
    run_id = world.start(pipeline_job(source={"repo": REPO, "secret": "APP_TOKEN"}))
    (container,) = world.engine.containers.values()
    env = container.request.env
    assert env["OVEN_GIT_TOKEN"] == env["GH_TOKEN"] == env["GITHUB_TOKEN"] == "tok-app-123456"
    assert world.workspaces.credentials[run_id] == "tok-app-123456"
    assert "APP_TOKEN" in world.run(run_id)["secret_names"]


def test_a_checkout_without_a_run_is_swept_but_a_running_ones_stays(world: World):
    run_id = world.start(pipeline_job())
    world.workspaces.write("agent-gone-run", "README.md", b"left by a crash")
    world.tick(1)
    assert world.workspaces.runs() == [run_id], "the orphan goes, the running one stays"


def test_a_restarted_reconciler_keeps_the_stage_times_it_recorded(world: World, tmp_path: Path):
    run_id = world.start(pipeline_job())
    world.executor.emit(run_id, "Stage: review - STARTED\n")
    world.tick(1)
    started = world.run(run_id)["stages"][0]["started_at"]
    world.reconciler = Reconciler(
        Settings(repo="memory", state_dir=tmp_path, heartbeat=3600),
        source=world.source, executor=world.executor, ledger=world.ledger, clock=world.clock,
        secrets=SecretStore({"ANTHROPIC_API_KEY": KEY}), spool=world.spool,
        workspaces=world.workspaces,
    )
    world.reconciler.restore()
    world.executor.emit(run_id, "Stage: review - COMPLETED (30.0s)\n")
    world.tick(30)
    stage = world.run(run_id)["stages"][0]
    assert (stage["status"], stage["started_at"]) == ("succeeded", started)


def test_the_host_logins_tokens_are_redacted_like_secrets(tmp_path: Path):
    from reconciler.pipelines import HostLogin

    world = World(tmp_path, {})
    creds = {"claudeAiOauth": {"accessToken": "sk-ant-oat01-hostsecret", "refreshToken": "rt-x",
                               "expiresAt": int(T0.timestamp() * 1000) + 3600_000}}
    world.workspaces.login = HostLogin(
        "/h/.claude", "/h/.claude.json", "/h/gh", claude_dir_exists=True,
        credentials=json.dumps(creds).encode(), claude_json_exists=True,
    )
    run_id = world.start(pipeline_job(auth="host-login"))
    (container,) = world.engine.containers.values()
    assert f"/logins/{run_id}:/oven/host-login:ro" in container.request.volumes
    world.executor.emit(run_id, "Stage: review - STARTED\nStage: review - FAILED: token "
                                "sk-ant-oat01-hostsecret leaked\n")
    world.executor.finish(run_id, 1)
    world.tick(1)
    run = world.run(run_id)
    assert "sk-ant-oat01-hostsecret" not in json.dumps(run)
    assert "***" in run["stages"][0]["error"]["message"] and "***" in run["log_tail"]
    assert world.workspaces.logins == set(), "the login copy went with the checkout"
