"""Opening dulwich repositories on disk the way the mirror needs them: without pack bitmaps.

dulwich answers "which commits does the other side already have?" with pack bitmaps as soon as
one pack of a repository has a ``.bitmap`` file, and then asks every pack for its bitmap.
``git gc`` writes a bitmap for the one big pack of a bare repository
(``repack.writeBitmaps`` is on by default there); the next push, by dulwich or by ``git push``
with many objects, adds a pack without one. From then on every fetch from that repository by
path (and every push out of a mirror that git repacked) fails with ``FileNotFoundError:
…/pack-<sha>.bitmap``, for good. dulwich 1.2.13 (#2344, PR #2345) made the probe that picks
bitmaps tolerate a vanished pack, but the lookup itself (``bitmap.find_commit_bitmaps``) still
reads ``Pack.bitmap`` of every pack, and 1.2.21 fails the same way (see
tests/source/test_mirror_faults.py). The repositories we mirror are small, so walking the commit
graph costs nothing worth a bitmap: every repository opened here walks the graph instead.

A remote on this machine is read and written the way a small change costs least. A push writes
its objects loose, as ``git receive-pack`` does below ``receive.unpackLimit`` (100): dulwich
would add a pack per push and, to name it, hash the object list of every pack already there
(the cost of the whole repository on every status commit); the remote's own ``git gc`` packs
them later. A fetch of commits that each build on a branch tip the mirror has copies what
they add (``packs.objects_for``) instead of walking every tree the mirror has and looking
through every pack of the remote for deltas; anything else is dulwich's fetch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

from dulwich.client import FetchPackResult, LocalGitClient
from dulwich.object_store import BaseObjectStore
from dulwich.objects import ObjectID, ShaFile
from dulwich.pack import UnpackedObject
from dulwich.protocol import agent_string
from dulwich.refs import Ref
from dulwich.repo import Repo

from reconciler.gitrepo.packs import objects_for, pack_data

__all__ = ["LocalClient", "open_repo", "walk_graph"]

UNPACK_LIMIT = 100  # git's receive.unpackLimit: smaller pushes land as loose objects


def walk_graph(repo: Repo) -> Repo:
    """Make ``repo`` answer reachability by walking commits, never through pack bitmaps."""
    store: BaseObjectStore = repo.object_store
    provider = store.get_reachability_provider

    def without_bitmaps(prefer_bitmaps: bool = True) -> Any:
        return provider(prefer_bitmaps=False)

    store.get_reachability_provider = without_bitmaps  # type: ignore[method-assign]
    return repo


def open_repo(path: str) -> Repo:
    """``Repo(path)`` that walks the commit graph (see the module docstring)."""
    return walk_graph(Repo(path))


class LocalClient(LocalGitClient):
    """dulwich's client for remotes given as a path or ``file://``, without pack bitmaps."""

    def fetch(  # type: ignore[override]
        self,
        path: bytes | str,
        target: Repo,
        determine_wants: Callable[..., list[ObjectID]] | None = None,
        **kwargs: Any,
    ) -> FetchPackResult:
        """A fetch that copies only the objects new commits add, when it can (see above)."""
        if determine_wants is None or kwargs.get("depth"):
            return super().fetch(path, target, determine_wants, **kwargs)
        with self._open_repo(path) as remote:
            store = remote.object_store
            refs = remote.get_refs()
            present = {ref: sha for ref, sha in refs.items() if sha in store}  # as dulwich does
            wants = determine_wants(present)
            heads = target.refs.as_dict(Ref(b"refs/heads/")).values()
            haves = {sha for sha in heads if sha in store}
            objects = objects_for(store, haves, wants) if wants else []
            if objects is None:
                return super().fetch(path, target, lambda _refs, depth=None: wants, **kwargs)
            if len(objects) >= UNPACK_LIMIT:
                target.object_store.add_pack_data(*pack_data(objects))
            else:
                for obj in objects:
                    target.object_store.add_object(obj)
            return FetchPackResult(
                {ref: sha for ref, sha in refs.items()},
                remote.refs.get_symrefs(),
                agent_string(),
            )

    @classmethod
    def _open_repo(cls, path: str | bytes) -> closing[Repo]:
        text = path if isinstance(path, str) else path.decode()
        return closing(_unpacking_small_pushes(open_repo(text)))


def _unpacking_small_pushes(repo: Repo) -> Repo:
    """``repo`` whose ``add_pack_data`` stores fewer than UNPACK_LIMIT whole objects loose."""
    store = repo.object_store
    add_pack = store.add_pack_data

    def add_pack_data(count: int, records: Iterator[UnpackedObject], progress: Any = None) -> Any:
        if count >= UNPACK_LIMIT:
            return add_pack(count, records, progress=progress)
        objects = list(records)
        if any(record.delta_base is not None for record in objects):
            return add_pack(len(objects), iter(objects), progress=progress)
        for record in objects:
            assert record.obj_type_num is not None and record.obj_chunks is not None
            store.add_object(ShaFile.from_raw_chunks(record.obj_type_num, record.obj_chunks))
        return None

    store.add_pack_data = add_pack_data  # type: ignore[method-assign,assignment]
    return repo
