"""Fixtures for the ledger tests: one contract, run against MemoryLedger and GitLedger.

The git kit uses real bare repos (by path and over `git daemon`) and the real `git` client
for the other writer, who pushes to the status branch while the ledger is busy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import gitutil

from reconciler.gitrepo import GitMirror
from reconciler.ledger.git import GitLedger
from reconciler.ledger.memory import MemoryLedger

_names = itertools.count()
Files = Mapping[str, str | None]


@dataclass
class LedgerKit:
    """A ledger plus ways for 'someone else' to move its branch."""

    ledger: Any
    other_write: Callable[[Files], None]  # another writer commits now
    interfere_next: Callable[[Files], None]  # ...right before our next push
    force_write: Callable[[Files], None]  # a force-push: the branch becomes only these files


@pytest.fixture
def bare(repo_base: Path) -> Path:
    return gitutil.make_bare(repo_base / f"config-{next(_names)}.git")


@pytest.fixture(params=["path", "git"])
def remote_url(request: pytest.FixtureRequest, bare: Path) -> str:
    if request.param == "path":
        return str(bare)
    return str(request.getfixturevalue("git_daemon").url(bare.name))


@pytest.fixture
def git() -> Callable[..., str]:
    return gitutil.git


@pytest.fixture
def push() -> Callable[..., str]:
    return gitutil.push_files


def make_git_ledger(url: str, state: Path, branch: str = "oven-status", **kw: Any) -> GitLedger:
    return GitLedger(GitMirror(url, state / "mirror.git"), branch, **kw)


def git_kit(bare: Path, url: str, state: Path) -> LedgerKit:
    ledger = make_git_ledger(url, state)
    real_push = ledger.mirror.push
    pending: list[Files] = []

    def other_write(files: Files) -> None:
        gitutil.push_files(bare, ledger.branch, files, message="someone else")

    def push_after_interference(branch: str, new: str, old: str | None) -> None:
        if pending:  # one interference per push attempt, like the memory ledger
            other_write(pending.pop(0))
        real_push(branch, new, old)

    def force_write(files: Files) -> None:
        work = state / f"force-{next(_names)}"
        gitutil.git("init", "--quiet", "--initial-branch=x", str(work))
        for name, content in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(content or "")
        gitutil.git("add", "-A", cwd=work)
        gitutil.git("commit", "--quiet", "--allow-empty", "-m", "rewritten", cwd=work)
        gitutil.git("push", "--quiet", "--force", str(bare), f"HEAD:refs/heads/{ledger.branch}",
                    cwd=work)

    ledger.mirror.push = push_after_interference  # type: ignore[method-assign]
    return LedgerKit(ledger, other_write, pending.append, force_write)


def memory_kit() -> LedgerKit:
    ledger = MemoryLedger()

    def other_write(files: Files) -> None:
        ledger.external_write(_encoded(files))

    def interfere_next(files: Files) -> None:
        ledger.reject_next(lambda: other_write(files))

    def force_write(files: Files) -> None:
        ledger.force_write({path: (text or "").encode() for path, text in files.items()})

    return LedgerKit(ledger, other_write, interfere_next, force_write)


@pytest.fixture(params=["memory", "git-path", "git-daemon"])
def kit(request: pytest.FixtureRequest, bare: Path, tmp_path: Path) -> LedgerKit:
    """The same ledger contract for every implementation; git over a path and git://."""
    if request.param == "memory":
        return memory_kit()
    if request.param == "git-path":
        return git_kit(bare, str(bare), tmp_path / "state")
    daemon = request.getfixturevalue("git_daemon")
    return git_kit(bare, daemon.url(bare.name), tmp_path / "state")


def _encoded(files: Files) -> dict[str, bytes | None]:
    return {path: None if text is None else text.encode() for path, text in files.items()}
