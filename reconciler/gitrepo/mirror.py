"""A local bare mirror of one git remote, driven by dulwich, with no worktree.

Both the config source (read manifests at a commit) and the ledger (commit status files and
push them) need the same few git operations; this module is the only place that talks to
dulwich about remotes. The mirror keeps the remote's branches as its own ``refs/heads/*``
(a fetch makes them equal to the remote's, deleting branches the remote dropped), so
``resolve("main")`` and ``resolve("origin/main")`` both mean "the remote's main as of the
last fetch". Commits are built straight from trees, never through a checkout.

Remote forms: a plain path, ``file://``, ``git://`` (git daemon), ``http(s)://`` and ``ssh://``
(whatever dulwich's clients support). Every dulwich and OS error is translated here
(``faults.py`` says how): reading (fetch, resolve, read) raises ``SourceError``, writing
(commit, push) ``LedgerError``, a moved remote branch ``PushRejected``. The mirror is a cache
of the remote: when it cannot be read (a damaged pack, missing objects, a ref holding garbage,
a deleted directory) it is deleted, fetched again from the remote and the operation tried
once more; the log says so. Repositories are opened without pack bitmaps (``repos.py``).
Every method holds one lock, so a mirror shared by the source and the ledger can be used
from several worker threads.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from dulwich.client import GitClient, LocalGitClient, get_transport_and_path
from dulwich.file import FileLocked
from dulwich.object_store import commit_tree_changes
from dulwich.objects import Commit, ObjectID, ShaFile
from dulwich.objectspec import parse_commit
from dulwich.refs import Ref
from dulwich.repo import Repo

from reconciler.errors import LedgerError, OvenError, PushRejected, SourceError
from reconciler.gitrepo.credentials import Credentials
from reconciler.gitrepo.faults import DAMAGED_HINT, Errors, Faults, MirrorDamaged, redact_url
from reconciler.gitrepo.packs import Maintenance, Written, new_objects, pack_data
from reconciler.gitrepo.repos import LocalClient, open_repo, walk_graph
from reconciler.gitrepo.trees import (
    check_heads,
    empty_tree,
    files_at,
    is_ancestor,
    list_files,
    load_commit,
    read_blobs,
    tree_changes,
)
from reconciler.manifests import TreeFiles

__all__ = ["IDENTITY", "GitMirror", "files_at", "redact_url"]

log = logging.getLogger(__name__)
T = TypeVar("T")

IDENTITY = b"Agent Oven <oven@localhost>"
HEADS = Ref(b"refs/heads/")
ZERO_SHA = ObjectID(b"0" * 40)
STALE_LOCK_SECONDS = 60.0  # a ref lock older than this was left by a writer that died
MOVED = (  # what servers say when the branch moved between our read and our update
    "fetch first", "non-fast-forward", "stale info", "lock", "unable to set", "already exists",
    "failed to update ref",
)
REBUILT_HINT = "is the disk under the state directory full or failing, and is it writable?"


class GitMirror:
    """A bare repository at ``path`` that mirrors the branches of ``remote``."""

    def __init__(
        self,
        remote: str,
        path: Path,
        now: Callable[[], float] = time.time,
        credentials: Credentials | None = None,
    ) -> None:
        self.remote = remote
        self.credentials = credentials or Credentials()
        self.path = Path(path)
        self.faults = Faults(remote, self.path)
        self.display = self.faults.display
        self.rebuilds = 0  # how often the mirror was found damaged and re-created
        self.broken: dict[str, str] = {}  # branch -> the missing commit it named at the last fetch
        self._now = now
        self._lock = threading.RLock()
        self._unclosed: list[Repo] = []  # damaged: closed once the error's frames are gone
        self.maintenance = Maintenance(self._repo, self._lock)  # packs loose objects
        self.written = Written()  # what our commits added: their push reads no tree

    def __del__(self) -> None:
        while self._unclosed:  # left open by the last error; its frames are gone by now
            _close(self._unclosed.pop())

    # -- reading ------------------------------------------------------------------------

    def fetch(self) -> dict[bytes, bytes]:
        """Fetch every branch; return the remote's ``refs/heads/*`` (name -> sha, as bytes)."""
        return self._repairing(SourceError, lambda: self._fetch(SourceError), refetch=False)

    def remote_tip(self, branch: str) -> str | None:
        """The remote's current sha of ``branch`` (asks the remote, fetches nothing)."""
        ref = _head_ref(branch)
        with self._lock, self._client(LedgerError) as (client, path):
            with self._remote("list refs of", LedgerError, lambda: True):
                refs = client.get_refs(path.encode()).refs
            sha = refs.get(ref)
            return _text(sha) if sha and sha != ZERO_SHA else None

    def local_tip(self, branch: str) -> str | None:
        """The branch's sha as of the last fetch or push, or None when it does not exist."""

        def tip(repo: Repo) -> str | None:
            sha = repo.refs.as_dict().get(_head_ref(branch))
            return _text(sha) if sha else None

        return self._read(SourceError, tip)

    def resolve(self, rev: str) -> str:
        """A full commit sha for a branch name, ``origin/<branch>``, a full or a short sha."""

        def resolve(repo: Repo) -> str:
            name = rev.removeprefix("origin/").removeprefix("refs/heads/")
            sha = repo.refs.as_dict().get(_head_ref(name)) if name else None
            if sha:
                return _text(sha)
            try:
                return _text(parse_commit(repo, rev.encode()).id)
            except (KeyError, ValueError) as exc:
                raise SourceError(
                    f"unknown revision {rev!r} in {self.display}",
                    hint="is it a branch or commit of the remote? (fetch first)",
                ) from exc

        return self._read(SourceError, resolve)

    def read_files(
        self, sha: str, prefixes: Sequence[str] = ("",), links: bool = False
    ) -> dict[str, bytes]:
        """Regular files of the commit whose path is a prefix or lies under one ('' = all);
        ``links=True``: symbolic links too, as ``manifests.Symlink`` (see ``files_at``)."""
        return self._read(SourceError, lambda repo: files_at(repo, sha, prefixes, links))

    def tree_files(
        self, sha: str, prefixes: Sequence[str], keep: Callable[[str], bool]
    ) -> TreeFiles:
        """Like ``read_files(links=True)`` for the paths ``keep`` accepts, but each regular
        file is read only when asked for (``manifests.TreeFiles``)."""
        found = self._read(SourceError, lambda repo: list_files(repo, sha, prefixes, keep))
        return TreeFiles(
            found.blobs,
            found.links,
            lambda ids: self._read(SourceError, lambda repo: read_blobs(repo, ids)),
            found.tree,
            found.since,
        )

    def tree_of(self, sha: str) -> str:
        """The tree sha of a commit (equal trees mean equal content)."""
        return self._read(SourceError, lambda repo: _text(load_commit(repo, sha, SourceError).tree))

    def is_ancestor(self, ancestor: str, descendant: str | None) -> bool:
        """Whether ``ancestor`` is ``descendant`` or in its history, as far as the mirror has it."""
        if descendant is None:
            return False
        return self._read(SourceError, lambda repo: is_ancestor(repo, ancestor, descendant))

    # -- writing ------------------------------------------------------------------------

    def commit_files(
        self,
        parent: str | None,
        files: Mapping[str, bytes | None],
        message: str,
        author: bytes = IDENTITY,
    ) -> str:
        """A new commit: parent's tree with ``files`` written (None deletes); returns its sha.

        ``parent`` None makes a root commit. The commit is only stored locally; ``push`` it.
        """

        def commit(repo: Repo) -> str:
            base = load_commit(repo, parent, LedgerError).tree if parent else empty_tree(repo)
            added: list[ShaFile] = []
            changes = tree_changes(repo, base, files, added)
            store = self.written.recording(repo.object_store, added)
            tree = commit_tree_changes(store, base, changes) if changes else base
            new = Commit()
            new.tree = tree
            new.parents = [ObjectID(parent.encode())] if parent else []
            new.author = new.committer = author
            new.author_time = new.commit_time = int(self._now())
            new.author_timezone = new.commit_timezone = 0
            new.encoding = b"UTF-8"
            new.message = (message.rstrip("\n") + "\n").encode()
            repo.object_store.add_object(new)
            self.written.add(new, added)
            return _text(new.id)

        return self._read(LedgerError, commit)

    def push(self, branch: str, new_sha: str, old_sha: str | None) -> None:
        """Move the remote ``branch`` from ``old_sha`` (None: must not exist) to ``new_sha``.

        Raises PushRejected when the remote tip is not ``old_sha`` or the server refuses the
        update (someone else moved the branch): fetch, rebuild on the new tip, push again.
        A damaged mirror is re-created and the push answered with PushRejected, since the
        commit to push went with it.
        """
        with self._lock:
            try:
                return self._push(branch, new_sha, old_sha)
            except MirrorDamaged as damage:
                reason = damage.reason
            self._rebuild(reason)  # out of the handler: the error's frames are gone now
            raise PushRejected(
                f"the local git mirror at {self.path} was damaged ({reason}) and has been "
                "re-created",
                hint="fetch the branch and write on top of its tip",
            )

    def check_push(self) -> None:
        """Prove that a push would be let in, without pushing: open the remote's receive-pack
        (credentials and all) and ask it to update nothing (for ``oven doctor``). A remote on
        this machine must also be writable. LedgerError/AuthError say why not."""
        with (
            self._lock,
            self._client(LedgerError) as (client, path),
            self._remote("push to", LedgerError, lambda: True),
        ):
            client.send_pack(path.encode(), dict, _nothing_to_send)
            if isinstance(client, LocalGitClient):
                with closing(open_repo(path)) as target:
                    refs = Path(target.controldir()) / "refs"
                if not os.access(refs, os.W_OK):
                    raise LedgerError(
                        f"cannot push to {self.display}: {refs} is not writable by this user",
                        hint="run the reconciler as a user who may write the repository",
                    )

    def _push(self, branch: str, new_sha: str, old_sha: str | None) -> None:
        ref = _head_ref(branch)
        expected = old_sha.encode() if old_sha else None

        def update_refs(refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
            current = refs.get(ref)
            current = None if current in (None, ZERO_SHA) else current
            if current != expected:
                raise PushRejected(
                    f"{self.display} branch {branch!r} moved to {_short(current)} "
                    f"(expected {_short(expected)})",
                    hint="fetch the branch and write on top of the new tip",
                )
            return {ref: ObjectID(new_sha.encode())}

        with self._repo() as repo, self._client(LedgerError) as client:
            client_obj, path = client
            with self._remote("push to", LedgerError, self._healthy):
                try:
                    result = client_obj.send_pack(
                        path.encode(), update_refs, self._pack_generator(repo, new_sha, old_sha)
                    )
                except FileLocked as exc:  # a local remote's branch is being moved right now
                    raise self._locked(branch, exc) from exc
            error = (result.ref_status or {}).get(ref)
            if error:
                raise self._refused(branch, str(error))
            with self._local():
                repo.refs[ref] = ObjectID(new_sha.encode())

    def _pack_generator(self, repo: Repo, new_sha: str, old_sha: str | None) -> Callable[..., Any]:
        """The pack of a push: the objects our commits on ``old_sha`` add (``packs.py``) when
        the remote has ``old_sha``, else what dulwich finds; a read error means damage."""

        def generate(
            have: Any, want: Any, *, ofs_delta: bool = False, progress: Any = None
        ) -> Any:
            try:
                old = ObjectID(old_sha.encode()) if old_sha else None
                new = ObjectID(new_sha.encode())
                if old is not None and old in have and set(want) == {new}:
                    objects = self.written.between(new, old)
                    if objects is None:
                        objects = new_objects(repo.object_store, new, old)
                    if objects is not None:
                        self.maintenance.written(len(objects))
                        return pack_data(objects)
                known = {sha for sha in have if sha in repo.object_store}
                return repo.object_store.generate_pack_data(
                    known, set(want), progress=progress, ofs_delta=ofs_delta
                )
            except Exception as exc:  # whatever dulwich raises on a damaged repository
                raise MirrorDamaged(f"{type(exc).__name__}: {exc}") from exc

        return generate

    def _locked(self, branch: str, exc: FileLocked) -> LedgerError:
        lock = Path(os.fsdecode(exc.lockfilename))
        try:
            age = self._now() - lock.stat().st_mtime
        except OSError:
            age = 0.0
        if age < STALE_LOCK_SECONDS:
            return PushRejected(
                f"{self.display} branch {branch!r} is locked by another writer",
                hint="fetch the branch and write on top of the new tip",
            )
        return LedgerError(
            f"{self.display} branch {branch!r} has been locked for {age:.0f}s by {lock}: a git "
            "process killed while it moved the branch leaves this file behind",
            hint=f"if no git process is writing to the repository, delete {lock}",
        )

    def _refused(self, branch: str, error: str) -> LedgerError:
        if any(word in error.lower() for word in MOVED):
            return PushRejected(
                f"{self.display} refused the update of {branch!r}: {error}",
                hint="the branch moved under us; fetch and write on top of the new tip",
            )
        hint = DAMAGED_HINT if "missing" in error.lower() else (
            f"check the server's hooks and branch protection for {branch!r}"
        )
        return LedgerError(f"{self.display} refused the update of {branch!r}: {error}", hint=hint)

    # -- plumbing -----------------------------------------------------------------------

    def _fetch(self, error: Errors) -> dict[bytes, bytes]:
        with self._lock, self._repo() as repo, self._client(error) as client:
            client_obj, path = client
            seen: dict[Ref, ObjectID] = {}

            def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
                seen.update(refs)  # the refs the pack is built for (see below)
                with self._local():
                    return [
                        sha
                        for ref, sha in refs.items()
                        if ref.startswith(HEADS) and sha and sha not in repo.object_store
                    ]

            with self._remote("fetch from", error, self._healthy):
                result = client_obj.fetch(path, repo, determine_wants=wants)
            # dulwich's local client re-reads the refs after packing, so a branch moved
            # meanwhile would name a commit we did not get: trust the refs the pack was for.
            refs = seen or {ref: sha for ref, sha in result.refs.items() if sha}
            with self._local():
                named = {ref: sha for ref, sha in refs.items() if ref.startswith(HEADS) and sha}
                heads = {ref: sha for ref, sha in named.items() if sha in repo.object_store}
                _mirror_heads(repo, heads)
            missing = {ref: sha for ref, sha in named.items() if ref not in heads}
            self.broken = {_text(ref[len(HEADS) :]): _text(sha) for ref, sha in missing.items()}
            return {bytes(ref): bytes(sha) for ref, sha in heads.items()}

    def check_branch(self, branch: str, error: Errors) -> None:
        """Raise ``error`` when the last fetch met ``branch`` pointing at a missing commit."""
        sha = self.broken.get(branch.removeprefix("refs/heads/"))
        if sha is not None:
            raise error(
                f"branch {branch!r} of {self.display} points at {sha[:12]}, a commit the "
                "repository there does not hold",
                hint=DAMAGED_HINT,
            )

    def _read(self, error: Errors, op: Callable[[Repo], T]) -> T:
        """``op`` on the mirror; a damaged mirror is re-created and fetched, then ``op`` again."""

        def attempt() -> T:
            with self._repo() as repo, self._local():
                return op(repo)

        return self._repairing(error, attempt, refetch=True)

    def _repairing(self, error: Errors, op: Callable[[], T], refetch: bool) -> T:
        with self._lock:
            try:
                return op()
            except MirrorDamaged as damage:
                reason = damage.reason
            self._rebuild(reason)  # out of the handler: the error's frames are gone now
            try:
                if refetch:
                    self._fetch(error)
                return op()
            except MirrorDamaged as damage:
                raise error(
                    f"the local git mirror at {self.path} cannot be used even after "
                    f"re-creating it: {damage.reason}",
                    hint=REBUILT_HINT,
                ) from damage

    def _rebuild(self, reason: str) -> None:
        log.warning(
            "the local git mirror at %s is damaged (%s); re-creating it from %s",
            self.path, reason, self.display,
        )
        self.rebuilds += 1
        _close_all(self._unclosed)
        try:
            if self.path.is_dir() and not self.path.is_symlink():
                shutil.rmtree(self.path)
            else:
                self.path.unlink(missing_ok=True)
        except OSError as exc:  # opening it again will say what is wrong
            log.warning("cannot delete %s: %s", self.path, exc)

    def _healthy(self) -> bool:
        """Every branch of the mirror reads: its commit, trees and the blobs they name."""
        try:
            with self._repo() as repo:
                check_heads(repo, repo.refs.as_dict(HEADS).values())
        except Exception:  # whatever dulwich raises on a damaged repository
            return False
        return True

    @contextmanager
    def _repo(self) -> Iterator[Repo]:
        """The mirror, created when missing; MirrorDamaged when it cannot be opened."""
        _close_all(self._unclosed)
        try:
            if (self.path / "objects").is_dir():
                repo = open_repo(str(self.path))
            elif self.path.exists() and any(self.path.iterdir()):
                raise MirrorDamaged("it is not a git repository")
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                repo = walk_graph(Repo.init_bare(str(self.path)))
        except MirrorDamaged:
            raise
        except Exception as exc:  # NotGitRepository, OSError, a HEAD or config holding garbage
            raise MirrorDamaged(f"cannot open it: {self.faults.reason(exc)}") from exc
        try:
            yield repo
        except BaseException:
            self._unclosed.append(repo)  # closed at the next use, once the error is handled
            raise
        _close(repo)

    @contextmanager
    def _local(self) -> Iterator[None]:
        """Anything but our own errors raised by the mirror's data means it is damaged."""
        try:
            yield
        except (OvenError, MirrorDamaged):
            raise
        except Exception as exc:  # whatever dulwich raises on a damaged repository
            raise MirrorDamaged(self.faults.reason(exc)) from exc

    @contextmanager
    def _remote(
        self, action: str, error: Errors, mirror_healthy: Callable[[], bool]
    ) -> Iterator[None]:
        try:
            yield
        except (OvenError, MirrorDamaged):
            raise
        except Exception as exc:  # every dulwich and OS error, translated by where it is
            raise self.faults.translate(exc, action, error, mirror_healthy) from exc

    @contextmanager
    def _client(self, error: Errors) -> Iterator[tuple[GitClient, str]]:
        try:
            client, path = get_transport_and_path(
                self.remote, **self.credentials.client_kwargs(self.remote)
            )
        except (ValueError, OSError) as exc:
            raise error(f"cannot use git remote {self.display}: {exc}",
                        hint="use a path, file://, git://, http(s):// or ssh:// URL") from exc
        if isinstance(client, LocalGitClient):
            client = LocalClient()
        try:
            yield client, path
        finally:
            close = getattr(client, "close", None)
            if close is not None:
                close()


def _head_ref(branch: str) -> Ref:
    return Ref(HEADS + branch.removeprefix("refs/heads/").encode())


def _text(sha: bytes) -> str:
    return sha.decode("ascii")


def _short(sha: bytes | None) -> str:
    return sha[:7].decode() if sha else "nothing (no branch)"


def _close(repo: Repo) -> None:
    try:
        repo.close()
    except Exception as exc:  # a damaged pack: nothing more to do with it
        log.debug("closing %s: %s", repo.path, exc)


def _close_all(repos: list[Repo]) -> None:
    """Close the repositories an error left open.

    An error from a damaged pack holds views of the pack's memory in its traceback, and the
    pack cannot be closed while they live; by the next use of the mirror it has been handled.
    """
    if repos:
        gc.collect()  # the handled error's frames, if a reference cycle still holds them
    while repos:
        _close(repos.pop())


def _mirror_heads(repo: Repo, heads: Mapping[Ref, ObjectID]) -> None:
    for name in list(repo.refs.keys(base=HEADS)):
        if Ref(HEADS + name) not in heads:
            del repo.refs[Ref(HEADS + name)]
    for ref, sha in heads.items():
        repo.refs[ref] = sha


def _nothing_to_send(*args: Any, **kwargs: Any) -> tuple[int, Iterator[Any]]:
    return 0, iter(())
