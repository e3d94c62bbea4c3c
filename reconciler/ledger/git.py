"""The ledger on a git branch: status files committed on top of the remote tip and pushed.

``read`` fetches and returns ``status/**`` at the remote tip of the status branch. ``write``
builds one commit with every given file on top of the tip it last read or pushed (a root
commit when the branch does not exist yet) and pushes it, without fetching first: a write
costs what it changes, not what the branch holds. When the push is rejected because someone
else moved the branch, it fetches the new tip and builds the same change on top of that, so
their commit and our records both survive. The status branch may be the manifests branch
itself.

Before building on a tip, ``write`` checks that the tip still descends from the last commit
this ledger read or wrote. When it does not, the branch was rewritten (a force-push) or
deleted and files written before may be gone: ``StatusRewritten`` tells the recorder to read
the branch and write the whole current status again.

Given a queue directory (the daemon's state dir), nothing written is lost while the remote is
unreachable: every write is first saved in the queue (``queue.py``), and each write pushes
all queued writes, oldest first, as one commit each on the tip, and only then forgets them.
When the push cannot reach the remote, the write raises ``StatusQueued``: for the recorder the
files are written. ``read`` returns the remote's files with the queued writes on top (the
local mirror's tip when the remote cannot be reached), so a restart during an outage starts
from everything it recorded.

The leader lease (``lease.py``) lives on the same branch. Unlike status files it is never
replayed on a newer tip: ``swap_lease`` pushes once, on the tip the lease was read at. Once
``fence`` names this daemon's holder id, a status write never lands on a tip whose lease names
another holder (a daemon that kept writing after its lease was taken over): ``LeaseLost`` is
raised and the queued writes are dropped, since the new leader adopts the containers and
records what it sees; writing them later would put stale records on top of its own. For the
same reason ``forget_queued`` drops them when this daemon takes the lease over from another.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from reconciler.errors import (
    LeaseLost,
    LedgerError,
    OvenError,
    PushRejected,
    SourceError,
    StatusQueued,
    StatusRewritten,
)
from reconciler.gitrepo import GitMirror
from reconciler.interfaces import LeaseRead
from reconciler.lease import LEASE_PATH, Holder, parse_lease
from reconciler.ledger.queue import Entry, StatusQueue
from reconciler.status import load_yaml
from reconciler.status.files import under

log = logging.getLogger(__name__)
STATUS_PREFIX = "status/"
DEFAULT_ATTEMPTS = 5
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class GitLedger:
    """Status files on ``branch`` of the mirror's remote."""

    def __init__(
        self,
        mirror: GitMirror,
        branch: str = "oven-status",
        attempts: int = DEFAULT_ATTEMPTS,
        queue_dir: Path | None = None,
    ) -> None:
        self.mirror = mirror
        self.branch = branch
        self.attempts = attempts
        self.base: str | None = None  # the last tip we read or wrote: later tips descend from it
        self.tip: str | None = None  # the remote's tip as we last saw or made it; None: fetch
        self.queue = StatusQueue(queue_dir)
        # ``base`` and the queue move together under this lock: a page reading a run on
        # another thread (``read_known``) sees a write either queued or pushed, never neither
        self._view = threading.Lock()
        self._fence: str | None = None  # the holder id status writes are made for; None: any
        self._fenced_tip: str | None = None  # the last tip whose lease was checked (or ours)

    def read(self, paths: Sequence[str] = (STATUS_PREFIX,)) -> dict[str, bytes]:
        """Every file at or under ``paths`` (default: status/) at the remote tip, with the
        writes still queued on top; empty before the first write."""
        queued = self.queue.entries()
        try:
            with _ledger_errors():
                tip = self._fetch_tip()
        except LedgerError as exc:
            if not queued or isinstance(exc, StatusRewritten):
                raise
            with _ledger_errors():  # unreachable: start from our last view and our queue
                tip = self.mirror.local_tip(self.branch)
            log.warning(
                "%s; reading the status as last fetched, with %d queued write(s)",
                exc.message,
                len(queued),
            )
        with _ledger_errors():
            files = self.mirror.read_files(tip, list(paths)) if tip else {}
        with self._view:
            self.base = self.tip = tip
        return _with_queued(files, queued, paths)

    def read_known(self, paths: Sequence[str]) -> dict[str, bytes]:
        """Like ``read``, at the tip last read or written, without asking the remote: how a
        restarted reconciler reads the runs it did not load at start, when they are needed."""
        with _ledger_errors():
            with self._view:
                tip = self.base or self.mirror.local_tip(self.branch)
                queued = self.queue.entries()
            files = self.mirror.read_files(tip, list(paths)) if tip else {}
        return _with_queued(files, queued, paths)

    @property
    def queued(self) -> int:
        """How many writes wait to be pushed."""
        return len(self.queue.entries())

    def write(self, files: Mapping[str, bytes | None], message: str) -> str | None:
        """Queue ``files`` (None deletes), then commit every queued write on the tip, in order,
        and push; None when nothing changes. ``StatusQueued`` when the remote cannot be
        reached and a queue directory keeps the writes for the next try."""
        self.queue.append(files, message)
        try:
            return self._push_queue()
        except (PushRejected, StatusRewritten):
            self.queue.clear_memory()
            raise
        except LeaseLost:
            raise  # its queue is dropped: the writes belong to a lease that ended
        except LedgerError as exc:
            if self.queue.path is None:
                self.queue.clear_memory()
                raise
            waiting = self.queue.entries()
            raise StatusQueued(
                f"{exc.message}; {len(waiting)} status write(s) wait in {self.queue.path} "
                "and are pushed in order when the remote answers",
                hint=exc.hint,
            ) from exc
        except OvenError:
            self.queue.clear_memory()
            raise

    def _push_queue(self) -> str | None:
        known = self.tip is not None  # push on the tip we know; fetch only once rejected
        for attempt in range(1, self.attempts + 1):
            entries = self.queue.entries()
            if not entries:
                return None
            with _ledger_errors():
                tip = self.tip if known else self._fetch_tip()
                self._check_history(tip)
                self._check_lease(tip, entries)
                commit = self._chain(tip, entries)
            if commit is None:
                with self._view:
                    self.queue.drop(entries[-1].seq)
                return None
            try:
                self.mirror.push(self.branch, commit, tip)
            except PushRejected as exc:
                log.info(
                    "status push rejected (attempt %d of %d): %s; writing on the new tip",
                    attempt,
                    self.attempts,
                    exc,
                )
                known = False
                continue
            with self._view:
                self.base = self.tip = self._fenced_tip = commit
                self.queue.drop(entries[-1].seq)
            if len(entries) > 1:
                log.info("pushed %d queued status writes to %r", len(entries), self.branch)
            return commit
        self.queue.clear_memory()
        raise LedgerError(
            f"could not push status to {self.branch!r} of {self.mirror.display}: "
            f"the branch moved {self.attempts} times in a row",
            hint="something keeps pushing to the status branch; the next write retries",
        )

    def verify_history(self) -> None:
        """StatusRewritten when the branch as last fetched lost our last commit (no network)."""
        with _ledger_errors():
            self._check_history(self.mirror.local_tip(self.branch))

    # -- the leader lease ---------------------------------------------------------------
    def read_lease(self) -> LeaseRead:
        """The lease file at the remote tip of the status branch."""
        with _ledger_errors():
            tip = self._fetch_tip()
            found = self.mirror.read_files(tip, [LEASE_PATH]) if tip else {}
        self.tip = tip
        return LeaseRead(found.get(LEASE_PATH), tip)

    def swap_lease(self, content: bytes, version: str | None, message: str) -> bool:
        """Commit the lease on ``version`` and push it there once; False if the tip moved."""
        with _ledger_errors():
            commit = self.mirror.commit_files(version, {LEASE_PATH: content}, message)
        try:
            self.mirror.push(self.branch, commit, version)
        except PushRejected as exc:
            log.info("lease write lost the race: %s", exc)
            self.tip = None
            return False
        self.tip = commit
        holder = _lease_holder(content)
        if self._fence is not None and holder is not None and holder.token == self._fence:
            self._fenced_tip = commit  # our own lease: no need to read it back
        return True

    def fence(self, token: str) -> None:
        """Refuse status writes on a tip whose lease names a holder other than ``token``."""
        self._fence = token

    def forget_queued(self) -> int:
        """Drop every queued write (the daemon took the lease over from another one)."""
        with self._view:
            entries = self.queue.entries()
            self._drop_queue(entries)
        if entries:
            log.warning(
                "dropped %d status write(s) queued before another daemon led: the status "
                "branch holds what it recorded since",
                len(entries),
            )
        return len(entries)

    def _check_lease(self, tip: str | None, entries: list[Entry]) -> None:
        """``LeaseLost`` (dropping ``entries``) when the lease at ``tip`` names another holder."""
        if self._fence is None or tip is None or tip == self._fenced_tip:
            return
        content = self.mirror.read_files(tip, [LEASE_PATH]).get(LEASE_PATH)
        holder = _lease_holder(content) if content is not None else None
        if holder is not None and holder.token != self._fence:
            with self._view:
                self._drop_queue(entries)
            log.warning(
                "status write refused: the lease on %r now names %s; dropped %d unpushed "
                "status write(s) (the leader records what it sees)",
                self.branch,
                holder.describe(),
                len(entries),
            )
            raise LeaseLost(
                f"the lease on the status branch {self.branch!r} is held by "
                f"{holder.describe()}: this daemon no longer leads and writes no status",
                hint="it stands by; the leader adopts its containers and records their runs",
            )
        self._fenced_tip = tip

    # -- helpers ------------------------------------------------------------------------
    def _drop_queue(self, entries: list[Entry]) -> None:
        """Forget ``entries`` (the queue as read) without pushing them; hold ``_view``."""
        if entries:
            self.queue.drop(entries[-1].seq)
        self.queue.clear_memory()

    def _fetch_tip(self) -> str | None:
        self.mirror.fetch()
        self.mirror.check_branch(self.branch, LedgerError)
        self.tip = self.mirror.local_tip(self.branch)
        return self.tip

    def _check_history(self, tip: str | None) -> None:
        base = self.base
        if base is None or base == tip:
            return
        if not self.mirror.is_ancestor(base, tip):
            self.base = None  # once said; the recorder reads the branch again
            what = "deleted" if tip is None else "rewritten (a force-push?)"
            raise StatusRewritten(
                f"the status branch {self.branch!r} of {self.mirror.display} was {what}: it "
                f"no longer holds commit {base[:12]} that this reconciler read or wrote",
                hint="the reconciler writes the whole current status again",
            )
        self.base = tip

    def _chain(self, tip: str | None, entries: list[Entry]) -> str | None:
        """One commit per entry on ``tip``, oldest first; None when none changes anything."""
        head = tip
        for entry in entries:
            commit = self.mirror.commit_files(head, entry.files, entry.message)
            if not self._same_tree(head, commit):
                head = commit
        return head if head != tip else None

    def _same_tree(self, tip: str | None, commit: str) -> bool:
        before = self.mirror.tree_of(tip) if tip else EMPTY_TREE
        return self.mirror.tree_of(commit) == before


def _with_queued(
    files: dict[str, bytes], queued: list[Entry], paths: Sequence[str]
) -> dict[str, bytes]:
    """``files`` with the queued writes under ``paths`` (and under status/) on top."""
    for entry in queued:
        for path, content in entry.files.items():
            if not path.startswith(STATUS_PREFIX) or not under(path, paths):
                continue
            if content is None:
                files.pop(path, None)
            else:
                files[path] = content
    return files


@contextmanager
def _ledger_errors() -> Iterator[None]:
    """Reading the remote is part of writing status: report it as a ledger failure."""
    try:
        yield
    except SourceError as exc:
        raise LedgerError(exc.message, hint=exc.hint) from exc


def _lease_holder(content: bytes) -> Holder | None:
    """Who a lease file names; None when it cannot be read (it counts as no lease, as for
    ``Leadership``)."""
    try:
        return parse_lease(load_yaml(content)).holder
    except (LedgerError, ValueError):
        return None
