"""The workspaces contract (real git and in memory), then what only the real one does: git://
clones, credentials kept out of the checkout, ownership for the container's user, login copies.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Protocol

import pytest
from support.gitutil import GitDaemon, git, make_bare, push_files

from reconciler.errors import SourceError
from reconciler.workspaces import GitWorkspaces, MemoryWorkspaces
from reconciler.workspaces.git import AGENT_UID

PIPELINE = ".agent-pipeline/pipelines/nightly.yml"
FILES = {PIPELINE: "name: nightly\n", "README.md": "hello\n"}


class Harness(Protocol):
    workspaces: Any
    repo: str

    def file_in_checkout(self, run_id: str, path: str, data: bytes) -> None: ...


class GitHarness:
    def __init__(self, tmp: Path) -> None:
        bare = make_bare(tmp / "source.git")
        push_files(bare, "main", FILES)
        self.repo = str(bare)
        # as uid 1000 nothing is handed over, so this process's git may read the checkout
        self.workspaces = GitWorkspaces(tmp / "checkouts", uid=AGENT_UID)

    def file_in_checkout(self, run_id: str, path: str, data: bytes) -> None:
        target = self.workspaces.root / run_id / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class MemoryHarness:
    def __init__(self, tmp: Path) -> None:
        self.repo = str(tmp / "source.git")
        self.workspaces = MemoryWorkspaces({self.repo: {k: v.encode() for k, v in FILES.items()}})

    def file_in_checkout(self, run_id: str, path: str, data: bytes) -> None:
        self.workspaces.write(run_id, path, data)


@pytest.fixture(params=["git", "memory"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    return GitHarness(tmp_path) if request.param == "git" else MemoryHarness(tmp_path)


def test_a_checkout_has_the_branch_and_is_listed_until_removed(harness: Harness) -> None:
    space = harness.workspaces
    made = space.prepare("run-1", harness.repo, "main", None)
    assert made.run_id == "run-1" and made.path.endswith("run-1")
    assert made.volumes == (f"{harness.repo}:{harness.repo}:rw",), "a local source is mounted"
    assert space.list_dir("run-1", ".agent-pipeline/pipelines") == ["nightly.yml"]
    assert space.read("run-1", PIPELINE) == b"name: nightly\n"
    assert space.runs() == ["run-1"]
    space.remove("run-1")
    assert space.runs() == [] and space.read("run-1", PIPELINE) is None
    space.remove("run-1")  # quiet when gone


def test_what_the_pipeline_writes_can_be_read_back(harness: Harness) -> None:
    harness.workspaces.prepare("run-2", harness.repo, "main", None)
    harness.file_in_checkout("run-2", ".agent-pipeline/state/runs/abc.json", b"{}")
    assert harness.workspaces.list_dir("run-2", ".agent-pipeline/state/runs") == ["abc.json"]
    assert harness.workspaces.read("run-2", ".agent-pipeline/state/runs/abc.json") == b"{}"
    assert harness.workspaces.list_dir("run-2", "no/such/dir") == []


def test_an_unknown_repo_is_a_source_error_naming_it(harness: Harness, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.git")
    with pytest.raises(SourceError) as caught:
        harness.workspaces.prepare("run-3", missing, "main", None)
    assert "nowhere.git" in caught.value.message
    assert harness.workspaces.runs() == []


# -- the real one only --------------------------------------------------------------------


@pytest.fixture
def real(tmp_path: Path) -> GitHarness:
    return GitHarness(tmp_path)


def test_a_missing_branch_says_so_with_a_hint(real: GitHarness) -> None:
    with pytest.raises(SourceError) as caught:
        real.workspaces.prepare("run-4", real.repo, "release", None)
    assert "no branch 'release'" in caught.value.message and "source.branch" in str(
        caught.value.hint
    )
    assert not (real.workspaces.root / "run-4").exists()


def test_paths_outside_the_checkout_cannot_be_read(real: GitHarness, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("no")
    real.workspaces.prepare("run-5", real.repo, "main", None)
    assert real.workspaces.read("run-5", "../../secret.txt") is None
    assert real.workspaces.list_dir("run-5", "../..") == []


def test_a_git_daemon_remote_is_cloned_and_stays_origin(
    git_daemon: GitDaemon, repo_base: Path, tmp_path: Path
) -> None:
    bare = make_bare(repo_base / "served-source.git")
    push_files(bare, "main", FILES)
    url = git_daemon.url("served-source.git")
    workspaces = GitWorkspaces(tmp_path / "checkouts", uid=AGENT_UID)
    made = workspaces.prepare("run-6", url, "main", None)
    assert made.volumes == (), "a remote repo is not mounted"
    assert git("-C", made.path, "remote", "get-url", "origin") == url
    assert git("-C", made.path, "log", "--format=%s", "-1") == "change"


def test_an_https_token_reaches_git_by_reference_only(real: GitHarness, tmp_path: Path) -> None:
    """The checkout's credential helper answers git from OVEN_GIT_TOKEN; the token itself is in
    the container's environment, never in .git/config (the agent could commit that)."""
    workspaces = real.workspaces
    made = workspaces.prepare("run-7", real.repo, "main", None)
    git("-C", made.path, "remote", "set-url", "origin", "https://git.example.test/app.git")
    from reconciler.workspaces.remotes import HTTPS_HELPER

    git("-C", made.path, "config", "credential.helper", HTTPS_HELPER)
    asked = subprocess.run(
        ["git", "-C", made.path, "credential", "fill"],
        input="protocol=https\nhost=git.example.test\n\n",
        env={**os.environ, "OVEN_GIT_TOKEN": "tok-123456", "GIT_TERMINAL_PROMPT": "0"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "password=tok-123456" in asked.stdout, asked.stderr
    assert "tok-123456" not in (Path(made.path) / ".git" / "config").read_text()


def test_a_token_for_a_local_repo_goes_in_the_environment_only(real: GitHarness) -> None:
    made = real.workspaces.prepare("run-8", real.repo, "main", "tok-abcdef")
    assert made.env == {"OVEN_GIT_TOKEN": "tok-abcdef"}
    for path in Path(made.path, ".git").rglob("*"):
        if path.is_file():
            assert b"tok-abcdef" not in path.read_bytes(), path


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files over needs root")
def test_as_root_the_checkout_is_handed_to_the_containers_user(
    real: GitHarness, tmp_path: Path
) -> None:
    workspaces = GitWorkspaces(tmp_path / "as-root")
    made = workspaces.prepare("run-9", real.repo, "main", None)
    owners = {p.stat().st_uid for p in Path(made.path).rglob("*")} | {
        Path(made.path).stat().st_uid
    }
    assert owners == {AGENT_UID} and made.user is None
    workspaces.remove("run-9")
    assert workspaces.runs() == []


def test_another_user_runs_the_container_as_itself_with_its_own_home(tmp_path: Path) -> None:
    bare = make_bare(tmp_path / "src.git")
    push_files(bare, "main", FILES)
    workspaces = GitWorkspaces(tmp_path / "checkouts", uid=os.geteuid(), gid=os.getegid())
    workspaces.uid = 4321  # as if the reconciler ran as uid 4321 (nothing is chowned then)
    made = workspaces.prepare("run-10", str(bare), "main", None)
    assert made.user == f"4321:{os.getegid()}" and made.env["HOME"] == "/tmp/oven-home"


def test_the_login_copy_leaves_history_out_and_goes_with_the_checkout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".claude" / "projects" / "p1").mkdir(parents=True)
    (home / ".claude" / "projects" / "p1" / "big.jsonl").write_text("x" * 1000)
    creds = {"claudeAiOauth": {"accessToken": "at", "expiresAt": 1}}
    (home / ".claude" / ".credentials.json").write_text(json.dumps(creds))
    (home / ".claude.json").write_text("{}")
    (home / ".config" / "gh").mkdir(parents=True)
    (home / ".config" / "gh" / "hosts.yml").write_text("github.com: {}\n")
    bare = make_bare(tmp_path / "src.git")
    push_files(bare, "main", FILES)
    workspaces = GitWorkspaces(
        tmp_path / "checkouts",
        claude_dir=home / ".claude",
        claude_json=home / ".claude.json",
        gh_dir=home / ".config" / "gh",
    )
    login = workspaces.host_login()
    assert login.claude_dir_exists and login.claude_json_exists and login.gh_dir_exists
    assert json.loads(login.credentials or b"") == creds
    workspaces.prepare("run-11", str(bare), "main", None)
    copy = Path(workspaces.copy_login("run-11"))
    assert not copy.is_relative_to(workspaces.root / "run-11"), "never inside the checkout"
    assert (copy / ".claude" / ".credentials.json").read_text() == json.dumps(creds)
    assert not (copy / ".claude" / "projects").exists()
    assert (copy / ".claude.json").exists() and (copy / ".config" / "gh" / "hosts.yml").exists()
    assert workspaces.runs() == ["run-11"], "the copy is not a run"
    workspaces.remove("run-11")
    assert not copy.exists()
