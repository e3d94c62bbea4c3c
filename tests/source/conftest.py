"""Fixtures for the git source tests: real bare repos reachable by path, file:// and git://."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import gitutil

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
