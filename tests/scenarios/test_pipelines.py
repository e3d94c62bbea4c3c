"""Agent-pipeline jobs end to end: the real Docker engine, the runner image built with the
Agent Pipeline stand-in (tests/standin/), a source repo and a config repo on this machine.

The first test runs ``oven run`` as a real process with its real HTTP server and watches the
current stage on the page while the pipeline runs; the others drive the same cycle in this
process (real git, real engine) through every way a pipeline run can fail.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from scenarios.harness import Daemon, StatusBranch, git, push_files, wait_until
from support.standin import STANDIN_IMAGE, build_runner, make_pipeline_repo, pack_standin

from reconciler.clock import SystemClock
from reconciler.executors.docker import DockerExecutor
from reconciler.executors.labels import INSTANCE
from reconciler.ledger.git import GitLedger
from reconciler.reconcile import Reconciler
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.spool import RequestSpool
from reconciler.workspaces import GitWorkspaces

pytestmark = pytest.mark.docker

STAGES = ("plan", "build", "review")
API_KEY = "sk-ant-api03-standin-secret-4f2a9c"
GH_TOKEN = "ghp_standinTokenValue12345"


@pytest.fixture(scope="session")
def standin_image(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """agent-oven/pipeline-runner:standin, built through scripts/build-images.sh."""
    tarball = pack_standin(tmp_path_factory.mktemp("standin"))
    done = build_runner("standin", tarball)
    assert done.returncode == 0, f"building {STANDIN_IMAGE} failed:\n{done.stderr[-3000:]}"
    return STANDIN_IMAGE


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A bare source repo holding .agent-pipeline/pipelines/nightly.yml of three agents,
    writable by the agent (uid 1000) so its pushes (the stand-in's pull requests) land."""
    work = make_pipeline_repo(tmp_path / "source-work", "nightly", STAGES)
    bare = tmp_path / "source.git"
    git("clone", "--quiet", "--bare", str(work), str(bare))
    for folder, dirs, files in os.walk(bare):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.chmod(name, 0o777 if os.path.isdir(name) else 0o666)
    return bare


def pipeline_job(job_id: str, source: Path, env: dict[str, str] | None = None, **more: Any) -> str:
    data: dict[str, Any] = {
        "id": job_id,
        "name": f"Pipeline {job_id}",
        "type": "agent-pipeline",
        "source": {"repo": str(source), "branch": "main"},
        "pipeline": "nightly",
        "auth": "api-key",
        "model": "sonnet",
        "env": env or {},
        "schedule": {"type": "manual"},
        "resources": {"timeout": 300},
    }
    data.update(more)
    return yaml.safe_dump(data, sort_keys=False)


def secrets_file(tmp_path: Path, values: dict[str, str]) -> Path:
    path = tmp_path / "secrets.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def final(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    done = [r for r in runs if r["status"] not in ("running", "queued")]
    return done[0] if done else None


# -- the daemon, its page and the status branch ----------------------------------------------


def test_a_three_stage_pipeline_shows_its_stage_live_and_records_stages_tokens_and_the_pr(
    bare: Path,
    tmp_path: Path,
    source: Path,
    standin_image: str,
    daemons: Callable[..., Daemon],
    docker_client: docker.DockerClient,
    instance: str,
) -> None:
    env = {"STANDIN_STAGE_SECONDS": "3", "STANDIN_ECHO_ENV": "ANTHROPIC_API_KEY"}
    push_files(bare, "main", {"jobs/nightly.yaml": pipeline_job("nightly", source, env)})
    secrets = secrets_file(tmp_path, {"ANTHROPIC_API_KEY": API_KEY, "GITHUB_TOKEN": GH_TOKEN})
    daemon = daemons(
        f"file://{bare}", "--runner-image", standin_image, "--secrets-file", str(secrets),
        "--allow-volume", str(tmp_path),
    )
    wait_until(daemon.serving, 30, "the daemon's web server")
    RequestSpool(daemon.state_dir).submit_manual("nightly", "first")
    status = StatusBranch(bare)

    def live_stage() -> tuple[str, dict[str, Any]] | None:
        runs = daemon.get_json("/api/v1/runs?job=nightly")["runs"]
        if not runs:
            return None
        run = daemon.get_json(f"/api/v1/runs/{runs[0]['run_id']}")
        running = [s for s in run["stages"] if s["status"] == "running"]
        return (running[-1]["name"], run) if running and run["status"] == "running" else None

    name, run = wait_until(live_stage, 90, "a stage running on the API")
    assert name in STAGES

    def page_with_a_stage() -> str | None:  # one page, looked at whole (stages move on)
        page = daemon.get(f"/runs/{run['run_id']}")[2]
        return page if any(f"<strong>{s}</strong>" in page for s in STAGES) else None

    page = wait_until(page_with_a_stage, 30, "the run page to show the current stage")
    assert "Current stage" in page
    overview = daemon.get("/")[2]
    assert run["run_id"] in overview
    on_branch = wait_until(
        lambda: any(s["status"] == "running" for r in status.runs("nightly") for s in r["stages"]),
        30, "the running stage on the status branch",
    )
    assert on_branch

    recorded = wait_until(lambda: final(status.runs("nightly")), 120, "the run to be recorded")
    assert (recorded["status"], recorded["error"]) == ("succeeded", None), recorded["log_tail"]
    assert [s["name"] for s in recorded["stages"]] == list(STAGES)
    for stage in recorded["stages"]:
        assert stage["status"] == "succeeded" and stage["duration_s"] >= 3
        assert stage["tokens"]["input"] > 0 and stage["tokens"]["output"] > 0
        assert stage["commit"] and stage["model"] == "sonnet"
    assert recorded["tokens"]["input"] == sum(s["tokens"]["input"] for s in recorded["stages"])
    assert recorded["pull_request"]["url"].startswith(f"file://{str(source)[:-4]}/pull/")
    assert recorded["image"] == standin_image

    branches = git("--git-dir", str(source), "branch", "--list", "pipeline/*")
    assert "pipeline/nightly-" in branches, "the agent pushed its branch to the real remote"
    summary = status.read("status/jobs/nightly.yaml")
    assert summary["tokens"]["last_run"] == recorded["tokens"]
    assert summary["tokens"]["last_7_days"] == recorded["tokens"]

    wait_until(lambda: not list((daemon.state_dir / "checkouts").glob("nightly-*")), 30,
               "the checkout to be removed after the result was recorded")
    # the secret the pipeline printed is nowhere: status branch, log files, page, API
    history = git("--git-dir", str(bare), "log", "-p", "--all")
    assert API_KEY not in history and "standin: ANTHROPIC_API_KEY=***" in recorded["log_tail"]
    for log in (daemon.state_dir / "logs").rglob("*.log"):
        assert API_KEY not in log.read_text(errors="replace"), log
    assert API_KEY not in daemon.get(f"/runs/{recorded['run_id']}")[2]
    assert API_KEY not in json.dumps(daemon.get_json(f"/api/v1/runs/{recorded['run_id']}"))
    assert API_KEY not in daemon.output(), "nor in the daemon's own log"
    mine = docker_client.containers.list(all=True, filters={"label": f"{INSTANCE}={instance}"})
    assert mine == [], "the container is removed once its result is committed"


# -- the cycle in this process: every way a run can fail -------------------------------------


class Driver:
    """The reconcile cycle in this process on the real engine, with pipeline checkouts."""

    def __init__(self, bare: Path, state: Path, instance: str, image: str, allow: str,
                 secrets: dict[str, str]) -> None:
        settings = Settings(repo=f"file://{bare}", state_dir=state, instance=instance,
                            volume_allowlist=(allow,), heartbeat=3600, runner_image=image)
        source = GitSource(settings.repo, "main", state)
        self.spool = RequestSpool(state)
        self.workspaces = GitWorkspaces(state / "checkouts", claude_dir=state / "no-login")
        self.reconciler = Reconciler(
            settings, source=source, clock=SystemClock(), spool=self.spool,
            executor=DockerExecutor(state_dir=state, instance=instance),
            ledger=GitLedger(source.mirror, "oven-status"),
            secrets=SecretStore(secrets), workspaces=self.workspaces,
        )
        self.reconciler.restore()
        self.status = StatusBranch(bare)

    def run(self, job_id: str, timeout: float = 90) -> dict[str, Any]:
        self.spool.submit_manual(job_id, "once")

        def step() -> dict[str, Any] | None:
            self.reconciler.tick(fetch=True)
            return final(self.status.runs(job_id))

        return wait_until(step, timeout, f"the run of {job_id} to be recorded", every=0.2)


@pytest.fixture
def driver(bare: Path, tmp_path: Path, instance: str, standin_image: str,
           docker_client: docker.DockerClient) -> Iterator[Callable[..., Driver]]:
    def make(files: dict[str, str], secrets: dict[str, str] | None = None) -> Driver:
        push_files(bare, "main", files, "jobs")
        keys = {"ANTHROPIC_API_KEY": API_KEY} if secrets is None else secrets
        return Driver(bare, tmp_path / "state", instance, standin_image, str(tmp_path), keys)

    yield make
    for container in docker_client.containers.list(
        all=True, filters={"label": f"{INSTANCE}={instance}"}
    ):
        container.remove(force=True)


AUTH_MODES = [
    ("auth-invalid-key", "ANTHROPIC_API_KEY"),
    ("auth-not-logged-in", "claude login"),
    ("auth-login-expired", "Claude login expired: run `claude login` on the host"),
    ("auth-oauth-expired", "claude setup-token"),
    ("auth-invalid-credentials", "CLAUDE_CODE_OAUTH_TOKEN"),
]


def test_each_auth_failure_text_is_an_auth_error_with_its_hint(
    driver: Callable[..., Driver], source: Path
) -> None:
    files = {
        f"jobs/{mode}.yaml": pipeline_job(mode, source, {"STANDIN_MODE": mode})
        for mode, _ in AUTH_MODES
    }
    d = driver(files)
    for mode, hint in AUTH_MODES:
        run = d.run(mode)
        assert (run["status"], run["error"]["class"]) == ("failed", "AuthError"), run
        assert hint in run["error"]["hint"], (mode, run["error"])
        first = run["stages"][0]
        assert (first["name"], first["status"]) == ("plan", "failed")


def test_a_usage_limit_is_usage_limit_with_its_reset_time(
    driver: Callable[..., Driver], source: Path
) -> None:
    d = driver({"jobs/limited.yaml": pipeline_job("limited", source,
                                                   {"STANDIN_MODE": "usage-limit"})})
    run = d.run("limited")
    assert (run["status"], run["error"]["class"]) == ("failed", "UsageLimit")
    assert "resets 3pm (Europe/Berlin)" in run["error"]["message"]


def test_missing_credentials_are_never_launched_and_say_why(
    driver: Callable[..., Driver], source: Path, docker_client: docker.DockerClient,
    instance: str,
) -> None:
    d = driver(
        {
            "jobs/no-key.yaml": pipeline_job("no-key", source),
            "jobs/no-token.yaml": pipeline_job("no-token", source, auth="oauth-token"),
            "jobs/no-login.yaml": pipeline_job("no-login", source, auth="host-login"),
        },
        secrets={},
    )
    for job_id, text in (("no-key", "ANTHROPIC_API_KEY"), ("no-token", "CLAUDE_CODE_OAUTH_TOKEN"),
                         ("no-login", "does not exist")):
        run = d.run(job_id)
        assert (run["status"], run["error"]["class"]) == ("failed", "AuthError"), run
        assert text in run["error"]["message"] and "not started" in run["error"]["message"]
        assert run["started_at"] and run["exit_code"] is None
        summary = d.status.read(f"status/jobs/{job_id}.yaml")
        assert summary["last_run"]["status"] == "failed"
    created = docker_client.containers.list(all=True, filters={"label": f"{INSTANCE}={instance}"})
    assert created == [], "no container was ever created"
    assert d.workspaces.runs() == [], "and no checkout was left"


def test_an_error_result_with_exit_code_zero_is_a_failure(
    driver: Callable[..., Driver], source: Path
) -> None:
    d = driver({"jobs/quiet.yaml": pipeline_job("quiet", source,
                                                 {"STANDIN_MODE": "result-is-error"})})
    run = d.run("quiet")
    assert (run["status"], run["exit_code"], run["error"]["class"]) == ("failed", 0, "AgentError")
    assert "429" in run["error"]["message"]


def test_a_failed_stage_is_stage_failed_and_later_stages_are_skipped(
    driver: Callable[..., Driver], source: Path
) -> None:
    d = driver({"jobs/broken.yaml": pipeline_job("broken", source,
                                                  {"STANDIN_MODE": "stage-failed"})})
    run = d.run("broken")
    assert (run["status"], run["error"]["class"]) == ("failed", "StageFailed")
    assert [(s["name"], s["status"]) for s in run["stages"]] == [
        ("plan", "succeeded"), ("build", "failed"), ("review", "skipped")]
    assert "simulated agent failure" in run["stages"][1]["error"]["message"]


def test_an_unknown_pipeline_lists_the_ones_there(
    driver: Callable[..., Driver], source: Path
) -> None:
    d = driver({"jobs/typo.yaml": pipeline_job("typo", source, pipeline="nightlly")})
    run = d.run("typo")
    assert (run["status"], run["error"]["class"]) == ("failed", "PipelineNotFound")
    assert "has: nightly" in run["error"]["message"]


def test_an_image_without_agent_pipeline_is_not_installed_and_never_launched(
    bare: Path, tmp_path: Path, instance: str, source: Path, docker_client: docker.DockerClient,
) -> None:
    done = build_runner("no-pipeline", None)
    assert done.returncode == 0, done.stderr[-2000:]
    push_files(bare, "main", {"jobs/bare.yaml": pipeline_job("bare", source)}, "jobs")
    d = Driver(bare, tmp_path / "state", instance, "agent-oven/pipeline-runner:no-pipeline",
               str(tmp_path), {"ANTHROPIC_API_KEY": API_KEY})
    run = d.run("bare")
    assert (run["status"], run["error"]["class"]) == ("failed", "NotInstalled")
    assert "AGENT_PIPELINE_PACKAGE" in run["error"]["hint"]
    mine = docker_client.containers.list(all=True, filters={"label": f"{INSTANCE}={instance}"})
    assert mine == [], "never launched"



def test_host_login_runs_on_a_per_run_copy_and_leaves_the_hosts_files_unchanged(
    bare: Path, tmp_path: Path, instance: str, source: Path, standin_image: str,
    docker_client: docker.DockerClient,
) -> None:
    """The login files are the host user's own (mode 600); the agent (uid 1000) still reads its
    copy, writes to it as Claude Code does, and the host's files stay as they were."""
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    expires = int((time.time() + 8 * 3600) * 1000)
    creds = json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-host", "expiresAt": expires,
                                           "refreshToken": "sk-ant-ort01-host"}})
    (home / ".claude" / ".credentials.json").write_text(creds)
    (home / ".claude" / ".credentials.json").chmod(0o600)
    (home / ".claude.json").write_text('{"numStartups": 1}')
    before = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    job = pipeline_job("desk", source, {"STANDIN_WRITE_HOME": "1"}, auth="host-login")
    push_files(bare, "main", {"jobs/desk.yaml": job}, "jobs")
    d = Driver(bare, tmp_path / "state", instance, standin_image, str(tmp_path), {})
    d.workspaces.claude_dir = home / ".claude"
    d.workspaces.claude_json = home / ".claude.json"
    d.workspaces.gh_dir = home / ".config" / "gh"
    run = d.run("desk")
    assert (run["status"], run["error"]) == ("succeeded", None), run["log_tail"]
    after = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    assert after == before, "the host's login files are untouched"
    assert not (tmp_path / "state" / "checkouts" / ".logins").exists() or not any(
        (tmp_path / "state" / "checkouts" / ".logins").iterdir()
    ), "the run's copy is removed with its checkout"
