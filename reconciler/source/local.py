"""The config source for a directory on this machine, watched with watchfiles.

For a checkout people edit in place (or a plain directory that is not a repository). The
revision names the content: the HEAD sha when the manifests on disk equal HEAD's, otherwise
``worktree:<hash>`` of the files themselves, so an uncommitted edit is still a new revision.
``wait_for_change`` blocks until a manifest changes (run it in a worker thread).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import watchfiles
from dulwich.errors import NotGitRepository
from dulwich.repo import Repo

from reconciler.errors import SourceError
from reconciler.gitrepo.trees import files_at
from reconciler.manifests import Symlink
from reconciler.source.git import MANIFEST_PREFIXES, is_manifest_path

WORKTREE = "worktree:"


class LocalSource:
    """Manifests from the files under ``path`` as they are on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._snapshot: tuple[str, dict[str, bytes]] | None = None

    def fetch(self) -> str:
        """Read the manifests on disk; return their revision."""
        files = read_worktree(self.path)
        revision = self._head_if_equal(files) or WORKTREE + content_hash(files)
        self._snapshot = (revision, files)
        return revision

    def files(self, revision: str) -> dict[str, bytes]:
        """The manifests of the last fetch, or of a commit when the directory is a repo."""
        if self._snapshot and self._snapshot[0] == revision:
            return dict(self._snapshot[1])
        if revision.startswith(WORKTREE):
            if self.fetch() == revision and self._snapshot:
                return dict(self._snapshot[1])
            raise SourceError(f"the files in {self.path} no longer match {revision}",
                              hint="fetch again to read the current revision")
        with self._repo() as repo:
            found = files_at(repo, revision, MANIFEST_PREFIXES, links=True)
        return {path: data for path, data in found.items() if is_manifest_path(path)}

    def wait_for_change(self, timeout: float) -> bool:
        """Block until a manifest is added, changed or removed, or timeout seconds pass."""
        deadline = threading.Event()  # other files changing must not extend the wait
        timer = threading.Timer(timeout, deadline.set)
        timer.daemon = True
        timer.start()
        watcher = watchfiles.watch(
            self.path,
            watch_filter=lambda _change, name: self._is_watched(name),
            stop_event=deadline,
            rust_timeout=max(1, int(timeout * 1000)),
            yield_on_timeout=True,
            debounce=300,
            step=50,
        )
        try:
            return bool(next(watcher, set()))
        finally:
            watcher.close()
            timer.cancel()

    def _is_watched(self, name: str) -> bool:
        try:
            rel = Path(name).resolve().relative_to(self.path.resolve()).as_posix()
        except ValueError:
            return False
        return rel == "jobs" or is_manifest_path(rel)

    def _head_if_equal(self, files: dict[str, bytes]) -> str | None:
        if not (self.path / ".git").exists():
            return None
        with self._repo() as repo:
            try:
                head = repo.head().decode()
            except KeyError:
                return None  # a repository without commits
            committed = files_at(repo, head, MANIFEST_PREFIXES, links=True)
        committed = {path: data for path, data in committed.items() if is_manifest_path(path)}
        return head if committed == files else None

    def _repo(self) -> Repo:
        try:
            return Repo(str(self.path))
        except NotGitRepository as exc:
            raise SourceError(f"{self.path} is not a git repository",
                              hint="commit revisions exist only in a git checkout") from exc


def read_worktree(root: Path) -> dict[str, bytes]:
    """oven.yaml and jobs/**/*.y(a)ml on disk; a symlink is not followed but handed on as a
    ``manifests.Symlink``, which the loader reports as a problem."""
    if not root.is_dir():
        raise SourceError(f"config directory {root} does not exist",
                          hint="pass the path of a checkout of the config repo")
    found: dict[str, bytes] = {}
    candidates = [root / "oven.yaml"]
    for folder, dirs, names in os.walk(root / "jobs"):
        dirs.sort()
        candidates.extend(Path(folder) / name for name in names)
    for path in candidates:
        rel = path.relative_to(root).as_posix()
        if is_manifest_path(rel) and path.is_symlink():
            found[rel] = Symlink(os.fsencode(os.readlink(path)))
        elif is_manifest_path(rel) and path.is_file():
            try:
                found[rel] = path.read_bytes()
            except OSError as exc:
                raise SourceError(f"cannot read {path}: {exc.strerror}",
                                  hint="check the file's permissions") from exc
    return found


def content_hash(files: dict[str, bytes]) -> str:
    """A short hash over paths and contents: equal hashes mean equal manifests."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return digest.hexdigest()[:16]
