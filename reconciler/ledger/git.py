"""The ledger on a git branch: status files committed on top of the remote tip and pushed.

``read`` fetches and returns ``status/**`` at the remote tip of the status branch. ``write``
builds one commit with every given file on top of the current tip (a root commit when the
branch does not exist yet) and pushes it; when the push is rejected because someone else
moved the branch, it fetches the new tip and builds the same change on top of that, so their
commit and our records both survive. The status branch may be the manifests branch itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from reconciler.errors import LedgerError, PushRejected, SourceError
from reconciler.gitrepo import GitMirror

log = logging.getLogger(__name__)
STATUS_PREFIX = "status/"
DEFAULT_ATTEMPTS = 5
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class GitLedger:
    """Status files on ``branch`` of the mirror's remote."""

    def __init__(
        self, mirror: GitMirror, branch: str = "oven-status", attempts: int = DEFAULT_ATTEMPTS
    ) -> None:
        self.mirror = mirror
        self.branch = branch
        self.attempts = attempts

    def read(self) -> dict[str, bytes]:
        """Every file under status/ at the remote tip; empty before the first write."""
        with _ledger_errors():
            tip = self._fetch_tip()
            return self.mirror.read_files(tip, [STATUS_PREFIX]) if tip else {}

    def write(self, files: Mapping[str, bytes | None], message: str) -> str | None:
        """Commit ``files`` (None deletes) on the tip and push; None when nothing changes."""
        for attempt in range(1, self.attempts + 1):
            with _ledger_errors():
                tip = self._fetch_tip()
                commit = self.mirror.commit_files(tip, files, message)
                if self._same_tree(tip, commit):
                    return None
            try:
                self.mirror.push(self.branch, commit, tip)
            except PushRejected as exc:
                log.info("status push rejected (attempt %d of %d): %s; writing on the new tip",
                         attempt, self.attempts, exc)
                continue
            return commit
        raise LedgerError(
            f"could not push status to {self.branch!r} of {self.mirror.display}: "
            f"the branch moved {self.attempts} times in a row",
            hint="something keeps pushing to the status branch; the next write retries",
        )

    def _fetch_tip(self) -> str | None:
        self.mirror.fetch()
        self.mirror.check_branch(self.branch, LedgerError)
        return self.mirror.local_tip(self.branch)

    def _same_tree(self, tip: str | None, commit: str) -> bool:
        before = self.mirror.tree_of(tip) if tip else EMPTY_TREE
        return self.mirror.tree_of(commit) == before


@contextmanager
def _ledger_errors() -> Iterator[None]:
    """Reading the remote is part of writing status: report it as a ledger failure."""
    try:
        yield
    except SourceError as exc:
        raise LedgerError(exc.message, hint=exc.hint) from exc
