"""Fixtures shared by every test folder: bare git remotes and a `git daemon` serving them.

Helpers that are not fixtures live in tests/support/ (importable as ``support``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import gitutil


@pytest.fixture(scope="session")
def repo_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("remotes")


@pytest.fixture(scope="session")
def git_daemon(repo_base: Path) -> Iterator[gitutil.GitDaemon]:
    daemon = gitutil.GitDaemon(repo_base).start()
    yield daemon
    daemon.stop()
