"""An in-memory ledger for unit tests: a dict of files per commit, same contract as git.

``external_write`` plays another writer moving the branch (a person or a second reconciler),
and ``reject_next`` makes the next writes meet such a move between reading the tip and
pushing, as a real remote would; ``write`` then retries on the new tip like ``GitLedger``.
``force_write`` plays a force-push that replaces the branch's history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

from reconciler.errors import LedgerError, StatusRewritten
from reconciler.interfaces import LeaseRead
from reconciler.lease import LEASE_PATH
from reconciler.status.files import under

STATUS_PREFIX = "status/"


class MemoryLedger:
    """Status files kept in a dict; each write that changes something is one 'commit'."""

    def __init__(self, attempts: int = 5) -> None:
        self.attempts = attempts
        self.files: dict[str, bytes] = {}
        self.commits: list[tuple[str, str]] = []  # (sha, message), oldest first
        self.interference: list[Callable[[], None]] = []
        self.base: str | None = None  # the last tip read or written (like GitLedger.base)

    def read(self, paths: Sequence[str] = (STATUS_PREFIX,)) -> dict[str, bytes]:
        self.base = self.tip
        return self.read_known(paths)

    def read_known(self, paths: Sequence[str]) -> dict[str, bytes]:
        """The files under ``paths`` (this twin keeps only the tip: it reads that)."""
        return {
            p: data
            for p, data in self.files.items()
            if p.startswith(STATUS_PREFIX) and under(p, paths)
        }

    def write(self, files: Mapping[str, bytes | None], message: str) -> str | None:
        for _attempt in range(self.attempts):
            tip = self.tip
            self.verify_history()
            self.base = tip
            merged = _apply(self.files, files)
            if self.interference:
                self.interference.pop(0)()
            if self.tip != tip:
                continue  # rejected: the branch moved; build on the new tip
            if merged == self.files:
                return None
            self.base = self._commit(merged, message)
            return self.base
        raise LedgerError(f"the memory ledger moved {self.attempts} times in a row")

    def external_write(self, files: Mapping[str, bytes | None], message: str = "other") -> str:
        """Another writer's commit, straight onto the branch."""
        return self._commit(_apply(self.files, files), message)

    def verify_history(self) -> None:
        if self.base is not None and self.base not in {sha for sha, _ in self.commits}:
            self.base = None
            raise StatusRewritten("the memory ledger's branch was rewritten")

    def force_write(self, files: Mapping[str, bytes], message: str = "force") -> str:
        """A force-push: the branch becomes one new commit holding exactly ``files``."""
        self.commits = []
        self.files = {}
        return self._commit(dict(files), message)

    def read_lease(self) -> LeaseRead:
        return LeaseRead(self.files.get(LEASE_PATH), self.tip)

    def swap_lease(self, content: bytes, version: str | None, message: str) -> bool:
        if self.interference:
            self.interference.pop(0)()
        if self.tip != version:
            return False
        self._commit(_apply(self.files, {LEASE_PATH: content}), message)
        return True

    def fence(self, token: str) -> None:
        """No fence: tests share one MemoryLedger between two daemons (``GitLedger`` fences)."""

    def forget_queued(self) -> int:
        return 0  # nothing is ever queued here

    def reject_next(self, change: Callable[[], None]) -> None:
        """Run ``change`` between the next write's read of the tip and its 'push'."""
        self.interference.append(change)

    @property
    def tip(self) -> str | None:
        return self.commits[-1][0] if self.commits else None

    def _commit(self, files: dict[str, bytes], message: str) -> str:
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update((self.tip or "").encode() + message.encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + files[path])
        self.files = files
        self.commits.append((digest.hexdigest(), message))
        return digest.hexdigest()


def _apply(base: Mapping[str, bytes], files: Mapping[str, bytes | None]) -> dict[str, bytes]:
    merged = dict(base)
    for path, content in files.items():
        if content is None:
            merged.pop(path, None)
        else:
            merged[path] = content
    return merged
