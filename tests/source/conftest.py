"""Fixtures for the source tests: real bare repos reachable by path, file://, git:// and
http://, and the kits that run one ConfigSource contract over every source."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import gitutil

from reconciler.source.git import GitSource
from reconciler.source.local import WORKTREE, LocalSource, content_hash, read_worktree
from reconciler.source.memory import MemorySource

_names = itertools.count()


@pytest.fixture(scope="session")
def git_http(repo_base: Path) -> Iterator[object]:
    server = gitutil.GitHttpServer(repo_base).start()
    yield server
    server.stop()


@pytest.fixture(params=["path", "file", "git", "http"])
def remote(request: pytest.FixtureRequest, repo_base: Path) -> tuple[Path, str]:
    """A fresh bare repo and the URL to reach it by: a path, file://, git:// or http://."""
    bare = gitutil.make_bare(repo_base / f"repo-{next(_names)}.git")
    if request.param == "path":
        return bare, str(bare)
    if request.param == "file":
        return bare, bare.as_uri()
    if request.param == "git":
        return bare, request.getfixturevalue("git_daemon").url(bare.name)
    return bare, request.getfixturevalue("git_http").url(bare.name)


@pytest.fixture
def push() -> Callable[..., str]:
    return gitutil.push_files


@pytest.fixture
def git() -> Callable[..., str]:
    return gitutil.git


# --- the ConfigSource contract (test_contract.py): one suite over every source -------------

Files = Mapping[str, str | None]


@dataclass
class SourceKit:
    """A config source plus a way for someone to move its branch, and what it promises."""

    source: Any
    push: Callable[[Files], str]  # someone moves the branch (None deletes); the new head
    missing: Callable[[], Any]  # the same kind of source, pointed at a repo that is not there
    # Does files() still read a revision older than the last fetch? Commits stay readable
    # (memory, git, a git checkout); a plain directory only has what is on disk now.
    old_revisions_readable: bool


def memory_kit() -> SourceKit:
    source = MemorySource()
    return SourceKit(source, source.commit, MemorySource, old_revisions_readable=True)


def git_kit(bare: Path, url: str, state: Path) -> SourceKit:
    def push(files: Files) -> str:
        return gitutil.push_files(bare, "main", files)

    def missing() -> GitSource:
        return GitSource(str(bare.parent / "no-such-repo.git"), "main", state / "missing")

    return SourceKit(GitSource(url, "main", state), push, missing, old_revisions_readable=True)


def write_tree(root: Path, files: Files) -> None:
    for name, content in files.items():
        path = root / name
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)


def local_kit(root: Path) -> SourceKit:
    """A plain directory: a revision names the manifests on disk (``worktree:<hash>``)."""
    root.mkdir()

    def push(files: Files) -> str:
        write_tree(root, files)
        return WORKTREE + content_hash(read_worktree(root))

    def missing() -> LocalSource:
        return LocalSource(root.parent / "no-such-dir")

    return SourceKit(LocalSource(root), push, missing, old_revisions_readable=False)


def local_git_kit(root: Path) -> SourceKit:
    """A git checkout edited and committed in place: a revision is the HEAD commit."""
    gitutil.git("init", "--quiet", "--initial-branch=main", str(root))

    def push(files: Files) -> str:
        write_tree(root, files)
        gitutil.git("add", "--all", cwd=root)
        gitutil.git("commit", "--quiet", "--allow-empty", "-m", "change", cwd=root)
        return gitutil.git("rev-parse", "HEAD", cwd=root)

    def missing() -> LocalSource:
        return LocalSource(root.parent / "no-such-checkout")

    return SourceKit(LocalSource(root), push, missing, old_revisions_readable=True)


@pytest.fixture(params=["memory", "local", "local-git", "git-path", "git-daemon"])
def kit(request: pytest.FixtureRequest, repo_base: Path, tmp_path: Path) -> SourceKit:
    """The same ConfigSource contract for every source; git over a path and over git://."""
    if request.param == "memory":
        return memory_kit()
    if request.param == "local":
        return local_kit(tmp_path / "config")
    if request.param == "local-git":
        return local_git_kit(tmp_path / "checkout")
    bare = gitutil.make_bare(repo_base / f"source-{next(_names)}.git")
    if request.param == "git-path":
        return git_kit(bare, str(bare), tmp_path / "state")
    url = request.getfixturevalue("git_daemon").url(bare.name)
    return git_kit(bare, url, tmp_path / "state")
