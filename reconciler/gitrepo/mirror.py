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

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dulwich.client import (
    GitClient,
    HTTPProxyUnauthorized,
    HTTPUnauthorized,
    get_transport_and_path,
)
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.file import FileLocked
from dulwich.object_store import commit_tree_changes
from dulwich.objects import Commit, ObjectID
from dulwich.objectspec import parse_commit
from dulwich.refs import Ref
from dulwich.repo import Repo

from reconciler.errors import AuthError, LedgerError, OvenError, PushRejected, SourceError
from reconciler.gitrepo.trees import Errors, empty_tree, files_at, load_commit, tree_changes

__all__ = ["IDENTITY", "GitMirror", "files_at", "redact_url"]

IDENTITY = b"Agent Oven <oven@localhost>"
HEADS = Ref(b"refs/heads/")
ZERO_SHA = ObjectID(b"0" * 40)
UNREACHABLE_HINT = "is the remote URL right and the server up?"


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
        self._password = urlsplit(remote).password if "://" in remote else None
        self._now = now
        self._lock = threading.RLock()

    # -- reading ------------------------------------------------------------------------

    def fetch(self) -> dict[bytes, bytes]:
        """Fetch every branch; return the remote's ``refs/heads/*`` (name -> sha, as bytes)."""
        with self._lock, self._repo(SourceError) as repo, self._client(SourceError) as client:
            client_obj, path = client
            seen: dict[Ref, ObjectID] = {}

            def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
                seen.update(refs)  # the refs the pack is built for (see below)
                return [
                    sha
                    for ref, sha in refs.items()
                    if ref.startswith(HEADS) and sha and sha not in repo.object_store
                ]

            with self._translate("fetch from", SourceError):
                result = client_obj.fetch(path, repo, determine_wants=wants)
            # dulwich's local client re-reads the refs after packing, so a branch moved
            # meanwhile would name a commit we did not get: trust the refs the pack was for.
            refs = seen or {ref: sha for ref, sha in result.refs.items() if sha}
            heads = {
                ref: sha
                for ref, sha in refs.items()
                if ref.startswith(HEADS) and sha and sha in repo.object_store
            }
            _mirror_heads(repo, heads)
            return {bytes(ref): bytes(sha) for ref, sha in heads.items()}

    def remote_tip(self, branch: str) -> str | None:
        """The remote's current sha of ``branch`` (asks the remote, fetches nothing)."""
        ref = _head_ref(branch)
        with self._lock, self._client(LedgerError) as (client, path):
            with self._translate("list refs of", LedgerError):
                refs = client.get_refs(path.encode()).refs
            sha = refs.get(ref)
            return _text(sha) if sha and sha != ZERO_SHA else None

    def local_tip(self, branch: str) -> str | None:
        """The branch's sha as of the last fetch or push, or None when it does not exist."""
        with self._lock, self._repo(SourceError) as repo:
            sha = repo.refs.as_dict().get(_head_ref(branch))
            return _text(sha) if sha else None

    def resolve(self, rev: str) -> str:
        """A full commit sha for a branch name, ``origin/<branch>``, a full or a short sha."""
        with self._lock, self._repo(SourceError) as repo:
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

    def read_files(
        self, sha: str, prefixes: Sequence[str] = ("",), links: bool = False
    ) -> dict[str, bytes]:
        """Regular files of the commit whose path is a prefix or lies under one ('' = all);
        ``links=True``: symbolic links too, as ``manifests.Symlink`` (see ``files_at``)."""
        with self._lock, self._repo(SourceError) as repo:
            return files_at(repo, sha, prefixes, links)

    def tree_of(self, sha: str) -> str:
        """The tree sha of a commit (equal trees mean equal content)."""
        with self._lock, self._repo(SourceError) as repo:
            return _text(load_commit(repo, sha, SourceError).tree)

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
            base = load_commit(repo, parent, LedgerError).tree if parent else empty_tree(repo)
            changes = tree_changes(repo, base, files)
            tree = commit_tree_changes(repo.object_store, base, changes) if changes else base
            commit = Commit()
            commit.tree = tree
            commit.parents = [ObjectID(parent.encode())] if parent else []
            commit.author = commit.committer = author
            commit.author_time = commit.commit_time = int(self._now())
            commit.author_timezone = commit.commit_timezone = 0
            commit.encoding = b"UTF-8"
            commit.message = (message.rstrip("\n") + "\n").encode()
            repo.object_store.add_object(commit)
            return _text(commit.id)

    def push(self, branch: str, new_sha: str, old_sha: str | None) -> None:
        """Move the remote ``branch`` from ``old_sha`` (None: must not exist) to ``new_sha``.

        Raises PushRejected when the remote tip is not ``old_sha`` or the server refuses the
        update (someone else moved the branch): fetch, rebuild on the new tip, push again.
        """
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

        with self._lock, self._repo(LedgerError) as repo, self._client(LedgerError) as client:
            client_obj, path = client
            with self._translate("push to", LedgerError):
                try:
                    result = client_obj.send_pack(
                        path.encode(), update_refs, _pack_generator(repo)
                    )
                except FileLocked as exc:  # a local remote's branch is being moved right now
                    raise PushRejected(
                        f"{self.display} branch {branch!r} is locked by another writer",
                        hint="fetch the branch and write on top of the new tip",
                    ) from exc
            error = (result.ref_status or {}).get(ref)
            if error:
                raise PushRejected(
                    f"{self.display} refused the update of {branch!r}: {error}",
                    hint="the branch moved under us; fetch and write on top of the new tip",
                )
            repo.refs[ref] = ObjectID(new_sha.encode())

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
        except (HTTPUnauthorized, HTTPProxyUnauthorized) as exc:
            raise _denied(action, self.display, "the remote asks for credentials") from exc
        except NotGitRepository as exc:
            raise error(f"cannot {action} git remote {self.display}: no repository there",
                        hint="is the remote path right? it must be a git repository") from exc
        except (OSError, HangupException, GitProtocolError) as exc:
            reason = self._reason(exc)
            if _is_denial(exc):
                raise _denied(action, self.display, reason) from exc
            raise error(f"cannot {action} git remote {self.display}: {reason}",
                        hint=UNREACHABLE_HINT) from exc

    def _reason(self, exc: BaseException) -> str:
        text = _reason(exc)
        return text.replace(self._password, "***") if self._password else text


DENIALS = ("resp 403", "permission denied", "access denied", "authentication failed")


def _is_denial(exc: BaseException) -> bool:
    """An answer that says who we are is not allowed (not that the remote is unreachable)."""
    if isinstance(exc, PermissionError):
        return True
    lines = [str(exc), *(getattr(exc, "stderr_lines", None) or [])]
    text = " ".join(line.decode(errors="replace") if isinstance(line, bytes) else str(line)
                    for line in lines).lower()
    return any(denial in text for denial in DENIALS)


def _denied(action: str, remote: str, reason: str) -> AuthError:
    return AuthError(
        f"cannot {action} git remote {remote}: access denied ({reason})",
        hint="give the reconciler credentials that may read and push this repository "
        "(a token in the URL's secret, an ssh key); retrying will not help until then",
    )


def _head_ref(branch: str) -> Ref:
    return Ref(HEADS + branch.removeprefix("refs/heads/").encode())


def _text(sha: bytes) -> str:
    return sha.decode("ascii")


def _short(sha: bytes | None) -> str:
    return sha[:7].decode() if sha else "nothing (no branch)"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in str(exc):
        return "connection refused"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _mirror_heads(repo: Repo, heads: Mapping[Ref, ObjectID]) -> None:
    for name in list(repo.refs.keys(base=HEADS)):
        if Ref(HEADS + name) not in heads:
            del repo.refs[Ref(HEADS + name)]
    for ref, sha in heads.items():
        repo.refs[ref] = sha


def _pack_generator(repo: Repo) -> Callable[..., Any]:
    def generate(have: Any, want: Any, *, ofs_delta: bool = False, progress: Any = None) -> Any:
        known = {sha for sha in have if sha in repo.object_store}
        return repo.object_store.generate_pack_data(
            known, set(want), progress=progress, ofs_delta=ofs_delta
        )

    return generate
