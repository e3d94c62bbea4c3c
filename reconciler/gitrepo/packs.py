"""The pack of a push, made of exactly the objects our new commits add, and keeping the
mirror's object store small in the background.

dulwich builds the pack of a push by walking what the remote has and what it wants, then
looking through every pack of the mirror for deltas to reuse: that costs the size of the
store, not the size of the change (on a status branch of 10k files, ~0.5 s per push). A status
commit changes a few files, so its new objects are its commit, the blobs written and the
trees along their paths: ``new_objects`` finds them by comparing each commit's tree with its
parent's, descending only into subtrees whose id changed. The pack holds those objects whole
(no deltas), which every git server accepts.

Commits land as loose objects, one file each; fetches add one pack each. ``Maintenance``
packs the loose objects, and joins the packs when they are many, on a background thread,
never on the write path (the mirror's lock keeps readers out while files move).
"""

from __future__ import annotations

import logging
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Set
from contextlib import AbstractContextManager

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, ObjectID, ShaFile, Tree
from dulwich.pack import UnpackedObject, full_unpacked_object
from dulwich.repo import Repo

log = logging.getLogger(__name__)

MAX_CHAIN = 256  # commits between the remote's tip and ours; longer: let dulwich walk
LOOSE_LIMIT = 1024  # objects written since the last packing that start one
PACK_LIMIT = 24  # packs in the store that make a packing join them all


def new_objects(
    store: BaseObjectStore, new: ObjectID, old: ObjectID | Set[ObjectID]
) -> list[ShaFile] | None:
    """Every object reachable from commit ``new`` but not from its ancestor ``old`` (or the
    first of several met), when ``new`` reaches it through single-parent commits within
    ``MAX_CHAIN`` commits; else None (the caller lets dulwich walk)."""
    stops = {old} if isinstance(old, bytes) else old
    commits: list[Commit] = []
    sha = new
    while sha not in stops:
        if len(commits) >= MAX_CHAIN or sha not in store:
            return None
        commit = store[sha]
        if not isinstance(commit, Commit) or len(commit.parents) != 1:
            return None
        commits.append(commit)
        sha = commit.parents[0]
    found: dict[ObjectID, ShaFile] = {}
    for commit in commits:
        found[commit.id] = commit
        parent = store[commit.parents[0]]
        assert isinstance(parent, Commit)
        _tree_delta(store, commit.tree, parent.tree, found)
    return list(found.values())


def _tree_delta(
    store: BaseObjectStore, tree: ObjectID, old: ObjectID | None, found: dict[ObjectID, ShaFile]
) -> None:
    """Add ``tree`` and what it holds that ``old`` (the same path before) does not hold."""
    if tree == old or tree in found:
        return
    node = store[tree]
    assert isinstance(node, Tree)
    found[tree] = node
    before: dict[bytes, tuple[int, ObjectID]] = {}
    if old is not None:
        old_node = store[old]
        if isinstance(old_node, Tree):
            before = {entry.path: (entry.mode, entry.sha) for entry in old_node.iteritems()}
    for entry in node.iteritems():
        was = before.get(entry.path)
        if was is not None and was[1] == entry.sha:
            continue
        if stat.S_ISDIR(entry.mode):
            previous = was[1] if was is not None and stat.S_ISDIR(was[0]) else None
            _tree_delta(store, entry.sha, previous, found)
        elif stat.S_IFMT(entry.mode) != 0o160000 and entry.sha not in found:
            found[entry.sha] = store[entry.sha]


class Written:
    """The objects each commit this process made added, so its push sends them without
    reading a tree back (``new_objects`` reads both trees of each changed directory, which on
    a branch of 100k files is most of a commit's cost). Keeps the last ``limit`` commits."""

    def __init__(self, limit: int = MAX_CHAIN) -> None:
        self.limit = limit
        self._commits: dict[ObjectID, tuple[ObjectID | None, list[ShaFile]]] = {}

    def recording(self, store: BaseObjectStore, added: list[ShaFile]) -> BaseObjectStore:
        """``store``, noting in ``added`` every object written through it."""
        return _Recording(store, added)  # type: ignore[return-value]

    def add(self, commit: Commit, added: list[ShaFile]) -> None:
        parent = commit.parents[0] if len(commit.parents) == 1 else None
        self._commits[commit.id] = (parent, [*added, commit])
        while len(self._commits) > self.limit:
            del self._commits[next(iter(self._commits))]

    def between(self, new: ObjectID, old: ObjectID) -> list[ShaFile] | None:
        """What our commits from ``old`` up to ``new`` added, if this process made them all."""
        found: dict[ObjectID, ShaFile] = {}
        sha: ObjectID | None = new
        while sha != old:
            if sha is None or sha not in self._commits or len(found) > 100_000:
                return None
            sha, objects = self._commits[sha]
            found.update((obj.id, obj) for obj in objects)
        return list(found.values())


class _Recording:
    """An object store that notes what is written through it (for ``commit_tree_changes``)."""

    def __init__(self, store: BaseObjectStore, added: list[ShaFile]) -> None:
        self._store = store
        self._added = added

    def __getitem__(self, sha: ObjectID) -> ShaFile:
        return self._store[sha]

    def __contains__(self, sha: ObjectID) -> bool:
        return sha in self._store

    def add_object(self, obj: ShaFile) -> None:
        self._added.append(obj)
        self._store.add_object(obj)


def pack_data(objects: list[ShaFile]) -> tuple[int, Iterator[UnpackedObject]]:
    """``generate_pack_data``'s answer for whole objects."""
    return len(objects), (full_unpacked_object(obj) for obj in objects)


def objects_for(
    store: BaseObjectStore, have: Iterable[ObjectID], want: Iterable[ObjectID]
) -> list[ShaFile] | None:
    """The objects each wanted commit adds on top of one in ``have`` (``new_objects``), or
    None when a wanted commit does not lead to one that way."""
    haves = set(have)
    found: dict[ObjectID, ShaFile] = {}
    for sha in want:
        objects = new_objects(store, sha, haves) if haves else None
        if objects is None:
            return None
        found.update((obj.id, obj) for obj in objects)
    return list(found.values())


class Maintenance:
    """Packs the loose objects of a repository (and joins its packs) off the write path.

    ``written(n)`` counts objects written; past ``LOOSE_LIMIT`` a background thread opens the
    repository under ``lock`` and packs. One packing at a time; a failure is logged and the
    next count tries again (a damaged store is found and re-created by its next reader).
    """

    def __init__(
        self,
        open_repo: Callable[[], AbstractContextManager[Repo]],
        lock: AbstractContextManager[object],
    ) -> None:
        self._open = open_repo
        self._lock = lock
        self._written = 0
        self._thread: threading.Thread | None = None
        self.packings = 0  # finished packings (tests and the bench read it)

    def written(self, count: int) -> None:
        self._written += count
        if self._written >= LOOSE_LIMIT:
            self.start()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._written = 0
        self._thread = threading.Thread(target=self._run, name="oven-git-repack", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Until the packing under way (if any) has finished."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            with self._lock, self._open() as repo:
                store = repo.object_store
                packed = store.pack_loose_objects()
                packs = len(store.packs)
                if packs >= PACK_LIMIT:
                    store.repack()
            self.packings += 1
            log.debug("packed %d loose objects of %s (%d packs before)", packed, repo.path, packs)
        except Exception as exc:  # whatever dulwich raises; the next reader repairs
            log.warning("packing the git mirror failed: %s", exc)
