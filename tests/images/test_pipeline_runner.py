"""agent-oven/pipeline-runner on the real engine: the tools run as the non-root user, the
entry script's contract (not-installed line, host-login copy, model hand-over, signals), the
labels the reconciler pre-flights with, and the build script's handling of AGENT_PIPELINE_PACKAGE.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
import time
from pathlib import Path

import docker
import pytest
from support.gitutil import git, make_bare
from support.standin import (
    NOT_INSTALLED,
    STANDIN_ID,
    build_runner,
    make_pipeline_repo,
)

from .conftest import Containers, give_to_container_user

pytestmark = pytest.mark.docker

STAGES = ("plan", "build", "review")


def checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A pipeline repo with a bare origin, both writable by the container's user."""
    origin = make_bare(tmp_path / "origin.git")
    repo = make_pipeline_repo(tmp_path / "repo", "review", STAGES, origin=origin)
    give_to_container_user(tmp_path)
    return repo, origin


def mounts(repo: Path, origin: Path) -> dict[str, dict[str, str]]:
    # origin is mounted at its own path, so the address in the checkout works inside too.
    return {
        str(repo): {"bind": "/work", "mode": "rw"},
        str(origin): {"bind": str(origin), "mode": "rw"},
    }


def snapshot(path: Path) -> dict[str, tuple[int, float, str]]:
    """Every file and directory under PATH: mode, mtime and content hash."""
    result = {}
    for item in sorted(path.rglob("*")):
        info = item.lstat()
        digest = hashlib.sha256(item.read_bytes()).hexdigest() if item.is_file() else ""
        result[str(item.relative_to(path))] = (info.st_mode, info.st_mtime, digest)
    return result


def read_from(container: object, path: str) -> dict[str, bytes]:
    """The files under PATH in a (stopped) container, by their path inside the archive."""
    stream, _ = container.get_archive(path)  # type: ignore[attr-defined]
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def test_the_tools_run_as_the_non_root_user(standin_image: str, containers: Containers) -> None:
    script = (
        "id -u; id -un; echo $HOME; pwd; node --version; claude --version; gh --version | head -1;"
        " git --version; agent-pipeline --version"
    )
    done = containers.run(standin_image, ["sh", "-c", script])
    assert done.code == 0, done.stderr
    uid, user, home, cwd, node, claude, gh, git_version, pipeline = done.stdout.splitlines()
    assert (uid, user, home, cwd) == ("1000", "agent", "/home/agent", "/work")
    assert int(re.fullmatch(r"v(\d+)\.\d+\.\d+", node).group(1)) >= 22  # type: ignore[union-attr]
    assert re.fullmatch(r"\d+\.\d+\.\d+ \(Claude Code\)", claude)
    assert gh.startswith("gh version 2.")
    assert git_version.startswith("git version 2.")
    assert pipeline == "0.1.5-standin"


def test_the_labels_tell_what_is_installed(
    standin_image: str, no_pipeline_image: str, docker_client: docker.DockerClient
) -> None:
    standin = docker_client.images.get(standin_image).labels
    bare = docker_client.images.get(no_pipeline_image).labels
    assert standin["agent-oven.agent-pipeline"] == STANDIN_ID
    assert bare["agent-oven.agent-pipeline"] == "none"
    assert re.fullmatch(r"\d+\.\d+\.\d+", standin["agent-oven.claude-code"])
    config = docker_client.images.get(standin_image).attrs["Config"]
    assert config["User"] == "agent"
    assert config["WorkingDir"] == "/work"
    assert config["Entrypoint"] == ["/usr/bin/tini", "--"]


def test_without_agent_pipeline_the_entry_script_says_how_to_add_it(
    no_pipeline_image: str, containers: Containers
) -> None:
    done = containers.run(no_pipeline_image, ["oven-pipeline", "review"])
    assert done.code == 127
    assert done.stderr == NOT_INSTALLED + "\n"
    assert done.stdout == ""


def test_the_build_without_a_package_says_so_in_one_line(
    no_pipeline_build: subprocess.CompletedProcess[str],
) -> None:
    hints = [
        line
        for line in no_pipeline_build.stderr.splitlines()
        if line.startswith("build-images:") and "AGENT_PIPELINE_PACKAGE=" in line
    ]
    assert hints == [
        "build-images: agent-oven/pipeline-runner:no-pipeline has no Agent Pipeline; add it with "
        "AGENT_PIPELINE_PACKAGE=<npm spec, git URL or /path/to/agent-pipeline-X.tgz> make images"
    ]


def test_a_file_that_is_no_package_tarball_is_refused(tmp_path: Path, standin_image: str) -> None:
    bogus = tmp_path / "agent-pipeline.tgz"
    bogus.write_text("not a tarball\n")
    done = build_runner("bogus", bogus, timeout=300)
    assert done.returncode != 0
    assert f"AGENT_PIPELINE_PACKAGE={bogus}: {bogus} is not an npm package tarball" in done.stderr


def test_a_second_build_with_nothing_changed_rebuilds_nothing(
    standin_build: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    from support.standin import pack_standin

    done = build_runner("standin", pack_standin(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "agent-oven/pipeline-runner:standin is up to date" in done.stderr
    assert "building" not in done.stderr


def test_agent_pipeline_list_runs_in_a_repo(
    standin_image: str, containers: Containers, tmp_path: Path
) -> None:
    repo, origin = checkout(tmp_path)
    done = containers.run(standin_image, ["agent-pipeline", "list"], volumes=mounts(repo, origin))
    assert done.code == 0, done.stderr
    assert done.stdout == "Available pipelines:\n  - review\n"


def test_a_pipeline_runs_and_the_job_model_reaches_the_agent(
    standin_image: str, containers: Containers, tmp_path: Path
) -> None:
    repo, origin = checkout(tmp_path)
    done = containers.run(
        standin_image,
        ["oven-pipeline", "review"],
        volumes=mounts(repo, origin),
        environment={"OVEN_MODEL": "claude-test-model"},
    )
    assert done.code == 0, done.stderr
    assert done.stdout.splitlines()[-3] == "Pipeline COMPLETED"
    (state_file,) = (repo / ".agent-pipeline" / "state" / "runs").glob("*.json")
    state = json.loads(state_file.read_text())
    assert [s["model"] for s in state["stages"]] == ["claude-test-model"] * 3
    pr = state["artifacts"]["pullRequest"]
    pushed = git("-c", "safe.directory=*", "rev-parse", pr["branch"], cwd=origin)
    assert pushed == state["artifacts"]["finalCommit"]


def test_the_host_login_is_a_writable_copy_and_the_host_files_never_change(
    standin_image: str, containers: Containers, tmp_path: Path
) -> None:
    repo, origin = checkout(tmp_path / "co")
    login = tmp_path / "login"
    (login / ".claude").mkdir(parents=True)
    (login / ".claude" / ".credentials.json").write_text(
        '{"claudeAiOauth": {"accessToken": "x"}}\n'
    )
    (login / ".claude.json").write_text('{"numStartups": 7}\n')
    (login / ".config" / "gh").mkdir(parents=True)
    (login / ".config" / "gh" / "hosts.yml").write_text("github.com:\n  user: someone\n")
    for item in [login, *login.rglob("*")]:
        item.chmod(0o755 if item.is_dir() else 0o644)
    before = snapshot(login)

    done = containers.run(
        standin_image,
        ["oven-pipeline", "review"],
        volumes={**mounts(repo, origin), str(login): {"bind": "/oven/host-login", "mode": "ro"}},
        environment={"STANDIN_WRITE_HOME": "1"},
    )
    assert done.code == 0, done.stdout + done.stderr
    assert snapshot(login) == before
    claude = read_from(done.container, "/home/agent/.claude")
    assert claude[".claude/.credentials.json"] == b'{"claudeAiOauth": {"accessToken": "x"}}\n'
    assert len([name for name in claude if name.startswith(".claude/todos/")]) == 1
    state = read_from(done.container, "/home/agent/.claude.json")
    assert json.loads(state[".claude.json"])["numStartups"] == 8
    gh = read_from(done.container, "/home/agent/.config/gh")
    assert gh["gh/hosts.yml"] == b"github.com:\n  user: someone\n"


def test_a_read_only_login_mounted_straight_into_home_breaks_the_agent(
    standin_image: str, containers: Containers, tmp_path: Path
) -> None:
    # Why the entry script copies: Claude Code (here the stand-in acting like it) must write.
    repo, origin = checkout(tmp_path / "co")
    login = tmp_path / "login" / ".claude"
    (login / "todos").mkdir(parents=True)
    for item in [login, *login.rglob("*")]:
        item.chmod(0o755)
    done = containers.run(
        standin_image,
        ["oven-pipeline", "review"],
        volumes={**mounts(repo, origin), str(login): {"bind": "/home/agent/.claude", "mode": "ro"}},
        environment={"STANDIN_WRITE_HOME": "1"},
    )
    assert done.code == 1
    assert "standin: cannot write the Claude Code home" in done.stderr


def test_sigint_reaches_the_pipeline_through_tini(
    standin_image: str, containers: Containers, tmp_path: Path
) -> None:
    repo, origin = checkout(tmp_path)
    container = containers.create(
        standin_image,
        ["oven-pipeline", "review"],
        volumes=mounts(repo, origin),
        environment={"STANDIN_STAGE_SECONDS": "20"},
    )
    container.start()
    deadline = time.monotonic() + 30
    while b"\xe2\x96\xb6 plan..." not in container.logs() and time.monotonic() < deadline:
        time.sleep(0.1)
    container.kill(signal="SIGINT")
    assert int(container.wait(timeout=30)["StatusCode"]) == 130
    assert "Pipeline ABORTED" in container.logs().decode().splitlines()


def test_an_unreadable_host_login_stops_before_the_pipeline_with_one_line(
    standin_image: str, containers: Containers, tmp_path: Path
) -> None:
    repo, origin = checkout(tmp_path / "co")
    login = tmp_path / "login"
    (login / ".claude").mkdir(parents=True)
    secret = login / ".claude" / ".credentials.json"
    secret.write_text("{}\n")
    login.chmod(0o755)
    (login / ".claude").chmod(0o755)
    secret.chmod(0o600)  # owned by this test's user, not by uid 1000
    if secret.stat().st_uid == 1000:
        pytest.skip("the test runs as uid 1000, which can read its own files")
    done = containers.run(
        standin_image,
        ["oven-pipeline", "review"],
        volumes={**mounts(repo, origin), str(login): {"bind": "/oven/host-login", "mode": "ro"}},
    )
    assert done.code == 78
    assert done.stderr == (
        "oven: cannot read the host login copy /oven/host-login/.claude (mounted at "
        "/oven/host-login): its files must be readable by uid 1000\n"
    )
    assert done.stdout == ""
