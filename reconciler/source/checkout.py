"""A git repository on this machine read in place: for ``oven plan --repo .`` in a checkout.

A mirror (``GitMirror``) copies only branches, so in a CI checkout (detached ``HEAD``, no local
``main``, remote-tracking ``origin/main``) it cannot name the revisions a reviewer means. This
reads the repository itself and lets git resolve the revision, so every spelling git accepts
works: ``HEAD``, ``HEAD~1``, ``origin/main``, tags, full and short commit ids. Nothing is written.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.objectspec import parse_commit
from dulwich.repo import Repo

from reconciler.errors import SourceError
from reconciler.gitrepo.trees import files_at, list_files, read_blobs
from reconciler.manifests import TreeFiles
from reconciler.source.git import MANIFEST_PREFIXES, is_manifest_path

GIT_TIMEOUT = 30.0


def is_local_path(repo: str) -> bool:
    """A path on this machine (not a URL nor ``host:path``) that is a directory."""
    if "://" in repo:
        return False
    return Path(repo).is_dir()


class Checkout:
    """Revisions and manifests of the git repository (bare or not) at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            Repo(str(self.path)).close()
        except NotGitRepository as exc:
            raise SourceError(
                f"{self.path} is not a git repository",
                hint="pass the top of a git checkout, or a URL of the config repo",
            ) from exc

    def resolve(self, revision: str) -> str:
        """The full commit id ``revision`` names, as ``git rev-parse`` reads it."""
        if revision.startswith("-") or not revision:
            raise SourceError(f"unknown revision {revision!r} in {self.path}")
        git = shutil.which("git")
        if git is None:  # without git: refs, full and short ids (no HEAD~1)
            return self._resolve_dulwich(revision)
        try:
            done = subprocess.run(
                [git, "-C", str(self.path), "rev-parse", "--verify", "--quiet",
                 "--end-of-options", f"{revision}^{{commit}}"],
                capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceError(f"cannot run git in {self.path}: {exc}") from exc
        sha = done.stdout.strip()
        if done.returncode != 0 or not sha:
            raise SourceError(
                f"unknown revision {revision!r} in {self.path}",
                hint="any revision git names works: HEAD, HEAD~1, origin/main, a tag, a commit id"
                " (in CI, fetch the base branch first: git fetch origin main)",
            )
        return sha

    def resolve_all(self, *revisions: str) -> list[str]:
        """``resolve`` of each, in one run of git when every one names a commit (a plan's
        base and head); otherwise one by one, so an error names the revision at fault."""
        git = shutil.which("git")
        if git is None or len(revisions) < 2 or any(not r or r.startswith("-") for r in revisions):
            return [self.resolve(r) for r in revisions]
        names = [f"{revision}^{{commit}}" for revision in revisions]
        try:
            done = subprocess.run(
                [git, "-C", str(self.path), "rev-parse", "--end-of-options", *names],
                capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return [self.resolve(r) for r in revisions]
        shas = done.stdout.split()
        if done.returncode != 0 or len(shas) != len(revisions) or not all(map(_is_id, shas)):
            return [self.resolve(r) for r in revisions]
        return shas

    def first(self, *revisions: str) -> str | None:
        """The commit id of the first of ``revisions`` that exists, else None."""
        for revision in revisions:
            try:
                return self.resolve(revision)
            except SourceError:
                continue
        return None

    def files(self, sha: str) -> TreeFiles:
        """oven.yaml and jobs/**/*.y(a)ml of the commit; each file read when first asked for."""
        with Repo(str(self.path)) as repo:
            found = list_files(repo, sha, MANIFEST_PREFIXES, is_manifest_path)
        return TreeFiles(found.blobs, found.links, self._blobs, found.tree, found.since)

    def _blobs(self, ids: list[str]) -> dict[str, bytes]:
        with Repo(str(self.path)) as repo:
            return read_blobs(repo, ids)

    def read(self, sha: str, prefix: str) -> dict[str, bytes]:
        """Every file of the commit under ``prefix``."""
        with Repo(str(self.path)) as repo:
            return files_at(repo, sha, (prefix,))

    def _resolve_dulwich(self, revision: str) -> str:
        with Repo(str(self.path)) as repo:
            try:
                return parse_commit(repo, revision.encode()).id.decode()
            except (KeyError, ValueError) as exc:
                raise SourceError(
                    f"unknown revision {revision!r} in {self.path}",
                    hint="install git to name revisions like HEAD~1",
                ) from exc


def _is_id(text: str) -> bool:
    """A full commit id (sha1 or sha256)."""
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)
