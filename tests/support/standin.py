"""The Agent Pipeline stand-in (tests/standin/agent-pipeline) and the runner image built with it.

Helpers for tests that run pipelines: pack the stand-in with the real `npm pack`, make a git repo
holding a pipeline, build `agent-oven/pipeline-runner:<tag>` through scripts/build-images.sh.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from support.gitutil import GIT_ENV, git

ROOT = Path(__file__).resolve().parents[2]
STANDIN_DIR = ROOT / "tests" / "standin" / "agent-pipeline"
STANDIN_BIN = STANDIN_DIR / "bin" / "agent-pipeline.js"
STANDIN_ID = "agent-pipeline@0.1.5-standin"
BUILD_IMAGES = ROOT / "scripts" / "build-images.sh"
RUNNER = "agent-oven/pipeline-runner"
STANDIN_IMAGE = f"{RUNNER}:standin"
NO_PIPELINE_IMAGE = f"{RUNNER}:no-pipeline"
NOT_INSTALLED = (
    "oven: agent-pipeline is not installed in this image; rebuild it with "
    "AGENT_PIPELINE_PACKAGE=<npm spec or tarball> make images"
)


def pack_standin(dest: Path) -> Path:
    """`npm pack` the stand-in into DEST; return the tarball's path."""
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "pack", "--silent", "--pack-destination", str(dest), str(STANDIN_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"npm pack failed: {done.stderr}"
    return dest / done.stdout.strip().splitlines()[-1]


def pipeline_yaml(
    name: str,
    stages: Sequence[str],
    *,
    model: str | None = None,
    stage_models: Mapping[str, str] | None = None,
) -> str:
    """A pipeline file whose stages run one after the other."""
    lines = [f"name: {name}", "trigger: manual", ""]
    if model:
        lines += ["runtime:", "  type: claude-code-headless", "  options:", f"    model: {model}"]
    lines += ["git:", "  branchPrefix: pipeline", "  mergeStrategy: pull-request", "", "agents:"]
    previous = None
    for stage in stages:
        lines += [f"  - name: {stage}", f"    agent: .agent-pipeline/agents/{stage}.md"]
        if stage_models and stage in stage_models:
            lines.append(f"    model: {stage_models[stage]}")
        if previous:
            lines += ["    dependsOn:", f"      - {previous}"]
        previous = stage
    return "\n".join(lines) + "\n"


def make_pipeline_repo(
    path: Path,
    name: str = "review",
    stages: Sequence[str] = ("plan", "build", "review"),
    *,
    origin: Path | None = None,
    yaml_text: str | None = None,
) -> Path:
    """A git repo (branch main, one commit) holding .agent-pipeline/pipelines/<name>.yml."""
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--initial-branch=main", str(path))
    pipelines = path / ".agent-pipeline" / "pipelines"
    agents = path / ".agent-pipeline" / "agents"
    pipelines.mkdir(parents=True)
    agents.mkdir(parents=True)
    (pipelines / f"{name}.yml").write_text(yaml_text or pipeline_yaml(name, stages))
    for stage in stages:
        (agents / f"{stage}.md").write_text(f"You are the {stage} agent.\n")
    (path / "README.md").write_text("a project\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "initial", cwd=path)
    if origin is not None:
        git("remote", "add", "origin", str(origin), cwd=path)
    return path


def build_runner(
    tag: str, package: Path | None, timeout: float = 1500
) -> subprocess.CompletedProcess[str]:
    """Build agent-oven/pipeline-runner:TAG with PACKAGE (an npm pack tarball) or without."""
    env = {k: v for k, v in os.environ.items() if k != "AGENT_PIPELINE_PACKAGE"}
    env["OVEN_RUNNER_TAG"] = tag
    if package is not None:
        env["AGENT_PIPELINE_PACKAGE"] = str(package)
    return subprocess.run(
        [str(BUILD_IMAGES), "pipeline-runner"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def git_env() -> dict[str, str]:
    """The isolated git environment the stand-in's commits should use in host-side tests."""
    return dict(GIT_ENV)
