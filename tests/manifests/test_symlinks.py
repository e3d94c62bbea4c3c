"""Symlinked manifests and unreadable file names: the same problems on disk and in git.

``oven validate`` reads the working tree; the daemon reads the commit (GitSource from a remote,
LocalSource from a checkout). A link committed as a git symlink (mode 120000) or lying on disk
is named as a problem in all three, never followed and never silently skipped.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from reconciler.manifests import load_tree, validate_worktree
from reconciler.source.git import GitSource
from reconciler.source.local import LocalSource

from .conftest import DOCKER_JOB

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Person",
    "GIT_AUTHOR_EMAIL": "person@example.test",
    "GIT_COMMITTER_NAME": "Test Person",
    "GIT_COMMITTER_EMAIL": "person@example.test",
}
LINK = "is a symlink (to {}); manifests must be regular files: copy the file, or share values "
LINK += "through oven.yaml defaults"
EXPECTED = [
    "jobs/\\x1b[2J.yaml:1: (file): file name has control characters or is not UTF-8; rename "
    "the file",
    "jobs/shared.yaml:1: (file): " + LINK.format("'../../etc/passwd'"),
    "jobs/twin.yaml:1: (file): " + LINK.format("'real.yaml'"),
    "oven.yaml:1: (file): " + LINK.format("'jobs/real.yaml'"),
]


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _checkout_with_links(root: Path) -> str:
    """A committed checkout: one real job, links to it and out of the repo, an odd name."""
    (root / "jobs").mkdir(parents=True)
    (root / "jobs" / "real.yaml").write_text(DOCKER_JOB)
    (root / "jobs" / "twin.yaml").symlink_to("real.yaml")
    (root / "jobs" / "shared.yaml").symlink_to("../../etc/passwd")
    (root / "oven.yaml").symlink_to("jobs/real.yaml")
    (root / "jobs" / "\x1b[2J.yaml").write_text(DOCKER_JOB.replace("backup-db", "other"))
    _git("init", "--quiet", "--initial-branch=main", str(root), cwd=root)
    _git("add", "-A", cwd=root)
    _git("commit", "--quiet", "-m", "links", cwd=root)
    assert "120000" in _git("ls-tree", "-r", "HEAD", "jobs/twin.yaml", cwd=root)
    return _git("rev-parse", "HEAD", cwd=root)


def _lines(files: dict[str, bytes]) -> list[str]:
    state = load_tree(files, "rev")
    assert list(state.jobs) == ["backup-db"], "the regular file still loads"
    return [str(p) for p in state.problems]


def test_validate_names_every_link_and_odd_name_in_the_working_tree(tmp_path: Path) -> None:
    _checkout_with_links(tmp_path / "repo")
    state = validate_worktree(tmp_path / "repo")
    assert [str(p) for p in state.problems] == EXPECTED
    assert list(state.jobs) == ["backup-db"]


def test_the_daemon_sees_the_same_problems_in_a_remote_git_tree(tmp_path: Path) -> None:
    head = _checkout_with_links(tmp_path / "repo")
    source = GitSource(str(tmp_path / "repo"), "main", tmp_path / "state")
    assert source.fetch() == head
    assert _lines(source.files(head)) == EXPECTED


def test_the_daemon_sees_the_same_problems_in_a_local_checkout(tmp_path: Path) -> None:
    head = _checkout_with_links(tmp_path / "repo")
    source = LocalSource(tmp_path / "repo")
    assert source.fetch() == head, "the committed links equal the links on disk"
    assert _lines(source.files(head)) == EXPECTED
