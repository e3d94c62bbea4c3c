"""A local bare mirror of one git remote, driven by dulwich, with no worktree.

Both the config source (read manifests at a commit) and the ledger (commit status files and
push them) need the same few git operations; this module is the only place that talks to
dulwich about remotes. The mirror keeps the remote's branches as its own ``refs/heads/*``
(a fetch makes them equal to the remote's, deleting branches the remote dropped), so
``resolve("main")`` and ``resolve("origin/main")`` both mean "the remote's main as of the
last fetch". Commits are built straight from trees, never through a checkout.

Remote forms: a plain path, ``file://``, ``git://`` (git daemon), ``http(s)://`` and ``ssh://``
(whatever dulwich's clients support). dulwich and OS errors are translated here:
reading (fetch, resolve, read) raises ``SourceError``, writing (commit, push) ``LedgerError``,
a moved remote branch ``PushRejected``. Every method holds one lock, so a mirror shared by
the source and the ledger can be used from several worker threads.
"""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dulwich.client import GitClient, get_transport_and_path
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository, NotTreeError
from dulwich.object_store import commit_tree_changes, iter_tree_contents
from dulwich.objects import Blob, Commit, Tree
from dulwich.objectspec import parse_commit
from dulwich.repo import Repo

from reconciler.errors import LedgerError, OvenError, PushRejected, SourceError

IDENTITY = b"Agent Oven <oven@localhost>"
HEADS = b"refs/heads/"
ZERO_SHA = b"0" * 40
FILE_MODE = 0o100644
UNREACHABLE_HINT = "is the remote URL right and the server up?"
Errors = type[OvenError]


def redact_url(remote: str) -> str:
    """The remote without any password, safe for messages and logs."""
    parts = urlsplit(remote)
    if not parts.scheme or parts.password is None:
        return remote
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class GitMirror:
    """A bare repository at ``path`` that mirrors the branches of ``remote``."""

    def __init__(self, remote: str, path: Path, now: Callable[[], float] = time.time) -> None:
        self.remote = remote
        self.path = Path(path)
        self.display = redact_url(remote)
        self._now = now
        self._lock = threading.RLock()

    # -- reading ------------------------------------------------------------------------

    def fetch(self) -> dict[bytes, bytes]:
        """Fetch every branch; return the remote's ``refs/heads/*`` (name -> sha, as bytes)."""
        with self._lock, self._repo(SourceError) as repo, self._client(SourceError) as client:
            client_obj, path = client

            def wants(refs: Mapping[bytes, Any], depth: int | None = None) -> list[bytes]:
                return [
                    sha
                    for ref, sha in refs.items()
                    if ref.startswith(HEADS) and sha and sha not in repo.object_store
                ]

            with self._translate("fetch from", SourceError):
                result = client_obj.fetch(path, repo, determine_wants=wants)
            heads = {ref: sha for ref, sha in result.refs.items() if ref.startswith(HEADS) and sha}
            _mirror_heads(repo, heads)
            return heads

    def remote_tip(self, branch: str) -> str | None:
        """The remote's current sha of ``branch`` (asks the remote, fetches nothing)."""
        ref = _head_ref(branch)
        with self._lock, self._client(LedgerError) as (client, path):
            with self._translate("list refs of", LedgerError):
                refs = client.get_refs(path.encode()).refs
            sha = refs.get(ref)
            return sha.decode() if sha and sha != ZERO_SHA else None

    def local_tip(self, branch: str) -> str | None:
        """The branch's sha as of the last fetch or push, or None when it does not exist."""
        with self._lock, self._repo(SourceError) as repo:
            sha = repo.refs.as_dict().get(_head_ref(branch))
            return sha.decode() if sha else None

    def resolve(self, rev: str) -> str:
        """A full commit sha for a branch name, ``origin/<branch>``, a full or a short sha."""
        with self._lock, self._repo(SourceError) as repo:
            name = rev.removeprefix("origin/").removeprefix("refs/heads/")
            sha = repo.refs.as_dict().get(_head_ref(name)) if name else None
            if sha:
                return sha.decode()
            try:
                return parse_commit(repo, rev.encode()).id.decode()
            except (KeyError, ValueError) as exc:
                raise SourceError(
                    f"unknown revision {rev!r} in {self.display}",
                    hint="is it a branch or commit of the remote? (fetch first)",
                ) from exc

    def read_files(self, sha: str, prefixes: Sequence[str] = ("",)) -> dict[str, bytes]:
        """Regular files of the commit whose path is a prefix or lies under one ('' = all)."""
        with self._lock, self._repo(SourceError) as repo:
            return files_at(repo, sha, prefixes)

    def tree_of(self, sha: str) -> str:
        """The tree sha of a commit (equal trees mean equal content)."""
        with self._lock, self._repo(SourceError) as repo:
            return _commit(repo, sha, SourceError).tree.decode()

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
        with self._lock, self._repo(LedgerError) as repo:
            base = _commit(repo, parent, LedgerError).tree if parent else _empty_tree(repo)
            changes = _tree_changes(repo, base, files)
            tree = commit_tree_changes(repo.object_store, base, changes) if changes else base
            commit = Commit()
            commit.tree = tree
            commit.parents = [parent.encode()] if parent else []
            commit.author = commit.committer = author
            commit.author_time = commit.commit_time = int(self._now())
            commit.author_timezone = commit.commit_timezone = 0
            commit.encoding = b"UTF-8"
            commit.message = (message.rstrip("\n") + "\n").encode()
            repo.object_store.add_object(commit)
            return commit.id.decode()

    def push(self, branch: str, new_sha: str, old_sha: str | None) -> None:
        """Move the remote ``branch`` from ``old_sha`` (None: must not exist) to ``new_sha``.

        Raises PushRejected when the remote tip is not ``old_sha`` or the server refuses the
        update (someone else moved the branch): fetch, rebuild on the new tip, push again.
        """
        ref = _head_ref(branch)
        expected = old_sha.encode() if old_sha else None

        def update_refs(refs: dict[bytes, bytes]) -> dict[bytes, bytes]:
            current = refs.get(ref)
            current = None if current in (None, ZERO_SHA) else current
            if current != expected:
                raise PushRejected(
                    f"{self.display} branch {branch!r} moved to {_short(current)} "
                    f"(expected {_short(expected)})",
                    hint="fetch the branch and write on top of the new tip",
                )
            return {ref: new_sha.encode()}

        with self._lock, self._repo(LedgerError) as repo, self._client(LedgerError) as client:
            client_obj, path = client
            with self._translate("push to", LedgerError):
                result = client_obj.send_pack(
                    path.encode(), update_refs, _pack_generator(repo)
                )
            error = (result.ref_status or {}).get(ref)
            if error:
                raise PushRejected(
                    f"{self.display} refused the update of {branch!r}: {error}",
                    hint="the branch moved under us; fetch and write on top of the new tip",
                )
            repo.refs[ref] = new_sha.encode()

    # -- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _repo(self, error: Errors) -> Iterator[Repo]:
        try:
            if (self.path / "objects").is_dir():
                repo = Repo(str(self.path))
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                repo = Repo.init_bare(str(self.path))
        except (OSError, NotGitRepository) as exc:
            raise error(
                f"cannot open the local git mirror at {self.path}: {exc}",
                hint="is the state directory writable? delete the mirror to rebuild it",
            ) from exc
        with repo:
            yield repo

    @contextmanager
    def _client(self, error: Errors) -> Iterator[tuple[GitClient, str]]:
        try:
            client, path = get_transport_and_path(self.remote)
        except (ValueError, OSError) as exc:
            raise error(f"cannot use git remote {self.display}: {exc}",
                        hint="use a path, file://, git://, http(s):// or ssh:// URL") from exc
        try:
            yield client, path
        finally:
            close = getattr(client, "close", None)
            if close is not None:
                close()

    @contextmanager
    def _translate(self, action: str, error: Errors) -> Iterator[None]:
        try:
            yield
        except OvenError:
            raise
        except NotGitRepository as exc:
            raise error(f"cannot {action} git remote {self.display}: no repository there",
                        hint="is the remote path right? it must be a git repository") from exc
        except (OSError, HangupException, GitProtocolError) as exc:
            raise error(f"cannot {action} git remote {self.display}: {_reason(exc)}",
                        hint=UNREACHABLE_HINT) from exc


def _head_ref(branch: str) -> bytes:
    return HEADS + branch.removeprefix("refs/heads/").encode()


def _short(sha: bytes | None) -> str:
    return sha[:7].decode() if sha else "nothing (no branch)"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _mirror_heads(repo: Repo, heads: Mapping[bytes, bytes]) -> None:
    for ref in list(repo.refs.keys(base=HEADS)):
        if HEADS + ref not in heads:
            del repo.refs[HEADS + ref]
    for ref, sha in heads.items():
        repo.refs[ref] = sha


def _commit(repo: Repo, sha: str, error: Errors) -> Commit:
    try:
        obj = repo.object_store[sha.encode()]
    except (KeyError, ValueError) as exc:
        raise error(f"commit {sha} not found in the git repository at {repo.path}",
                    hint="is the revision right? for a remote, fetch it first") from exc
    if not isinstance(obj, Commit):
        raise error(f"{sha} is not a commit")
    return obj


def _empty_tree(repo: Repo) -> bytes:
    tree = Tree()
    repo.object_store.add_object(tree)
    return tree.id


def _exists(repo: Repo, tree: bytes, path: bytes) -> bool:
    try:
        repo.object_store[tree].lookup_path(repo.object_store.__getitem__, path)  # type: ignore[union-attr]
    except (KeyError, NotTreeError):
        return False
    return True


def _tree_changes(
    repo: Repo, base: bytes, files: Mapping[str, bytes | None]
) -> list[tuple[bytes, int | None, bytes | None]]:
    changes: list[tuple[bytes, int | None, bytes | None]] = []
    for name in sorted(files):
        path = _safe_path(name)
        content = files[name]
        if content is None:
            if _exists(repo, base, path):
                changes.append((path, None, None))
            continue
        blob = Blob.from_string(content)
        repo.object_store.add_object(blob)
        changes.append((path, FILE_MODE, blob.id))
    return changes


def _safe_path(name: str) -> bytes:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise LedgerError(f"refusing to commit the path {name!r}",
                          hint="paths are relative, without '.', '..' or '.git' parts")
    return name.encode()


def files_at(repo: Repo, sha: str, prefixes: Sequence[str] = ("",)) -> dict[str, bytes]:
    """Regular files of a commit of any dulwich repo (bare or not) under the prefixes."""
    tree = _commit(repo, sha, SourceError).tree
    found: dict[str, bytes] = {}
    for prefix in prefixes:
        found.update(_files_under(repo, tree, prefix.strip("/")))
    return found


def _files_under(repo: Repo, tree: bytes, prefix: str) -> dict[str, bytes]:
    store = repo.object_store
    root, base = tree, ""
    if prefix:
        try:
            mode, root = store[tree].lookup_path(store.__getitem__, prefix.encode())  # type: ignore[union-attr]
        except (KeyError, NotTreeError):
            return {}
        if stat.S_ISREG(mode):
            return {prefix: store[root].as_raw_string()}
        if not stat.S_ISDIR(mode):
            return {}
        base = prefix + "/"
    return {
        base + entry.path.decode(): store[entry.sha].as_raw_string()
        for entry in iter_tree_contents(store, root)
        if entry.mode is not None and stat.S_ISREG(entry.mode) and entry.sha is not None
    }


def _pack_generator(repo: Repo) -> Callable[..., Any]:
    def generate(have: Any, want: Any, *, ofs_delta: bool = False, progress: Any = None) -> Any:
        known = {sha for sha in have if sha in repo.object_store}
        return repo.object_store.generate_pack_data(
            known, set(want), progress=progress, ofs_delta=ofs_delta
        )

    return generate
