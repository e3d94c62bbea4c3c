"""Reading and writing trees of a dulwich repository, without a worktree.

The object-level half of ``GitMirror``: list the regular files of a commit under some
prefixes, and turn ``{path: bytes | None}`` into tree changes (None deletes) with paths
checked first. Works on any dulwich ``Repo``, bare or not (the local source uses it too).
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from dulwich.diff_tree import tree_changes as diff_trees
from dulwich.errors import NotCommitError, NotTreeError
from dulwich.object_store import iter_tree_contents
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree
from dulwich.repo import Repo

from reconciler.errors import LedgerError, OvenError, SourceError
from reconciler.manifests import Symlink

FILE_MODE = 0o100644
GITLINK = 0o160000  # a submodule's commit: it lives in another repository
Change = tuple[bytes, int | None, ObjectID | None]
Errors = type[OvenError]


def load_commit(repo: Repo, sha: str, error: Errors) -> Commit:
    try:
        obj = repo.object_store[ObjectID(sha.encode())]
    except (KeyError, ValueError, AssertionError) as exc:  # dulwich asserts on a short sha
        raise error(f"commit {sha} not found in the git repository at {repo.path}",
                    hint="is the revision right? for a remote, fetch it first") from exc
    if not isinstance(obj, Commit):
        raise error(f"{sha} is not a commit")
    return obj


def empty_tree(repo: Repo) -> ObjectID:
    tree = Tree()
    repo.object_store.add_object(tree)
    return tree.id


def _lookup(
    repo: Repo, tree: ObjectID, path: bytes, trees: dict[ObjectID, object] | None = None
) -> tuple[int, ObjectID] | None:
    """(mode, sha) of the path in the tree, None when no such path is there; ``trees`` keeps
    the trees walked for the next lookup (1k paths under one directory parse it once).

    An object the walk needs but the repository lacks raises KeyError: that is damage, not
    a missing path, and must not read as "no files here".
    """
    mode, sha = stat.S_IFDIR, tree
    for part in path.split(b"/"):
        node = trees.get(sha) if trees is not None else None
        if node is None:
            node = repo.object_store[sha]
            if trees is not None:
                trees[sha] = node
        if not isinstance(node, Tree):
            return None  # a file where the path wants a directory
        try:
            mode, sha = node[part]
        except KeyError:
            return None
    return mode, sha


def _exists(repo: Repo, tree: ObjectID, path: bytes) -> bool:
    return _lookup(repo, tree, path) is not None


def tree_changes(
    repo: Repo,
    base: ObjectID,
    files: Mapping[str, bytes | None],
    added: list[ShaFile] | None = None,
) -> list[Change]:
    """The changes that write ``files`` on tree ``base``; new blobs are stored (and noted in
    ``added``)."""
    changes: list[Change] = []
    for name in sorted(files):
        path = _safe_path(name)
        content = files[name]
        if content is None:
            if _exists(repo, base, path):
                changes.append((path, None, None))
            continue
        blob = Blob.from_string(content)
        repo.object_store.add_object(blob)
        if added is not None:
            added.append(blob)
        changes.append((path, FILE_MODE, blob.id))
    return changes


def _safe_path(name: str) -> bytes:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise LedgerError(f"refusing to commit the path {name!r}",
                          hint="paths are relative, without '.', '..' or '.git' parts")
    return name.encode()


def files_at(
    repo: Repo, sha: str, prefixes: Sequence[str] = ("",), links: bool = False
) -> dict[str, bytes]:
    """Regular files of a commit of any dulwich repo (bare or not) under the prefixes.

    ``links=True``: symbolic links (mode 120000) too, as ``manifests.Symlink(target)``, so the
    manifest loader can name them as problems. Names that are not UTF-8 keep their bytes as
    surrogates (``surrogateescape``)."""
    tree = load_commit(repo, sha, SourceError).tree
    found: dict[str, bytes] = {}
    trees: dict[ObjectID, object] = {}
    for prefix in prefixes:
        found.update(_files_under(repo, tree, prefix.strip("/"), links, trees))
    return found


def _files_under(
    repo: Repo, tree: ObjectID, prefix: str, links: bool, trees: dict[ObjectID, object]
) -> dict[str, bytes]:
    store = repo.object_store
    root, base = tree, ""
    if prefix:
        found = _lookup(repo, tree, prefix.encode(), trees)
        if found is None:
            return {}
        mode, root = found
        if not stat.S_ISDIR(mode):
            content = _content(repo, mode, root, links)
            return {prefix: content} if content is not None else {}
        base = prefix + "/"
    files: dict[str, bytes] = {}
    for entry in iter_tree_contents(store, root):
        if entry.mode is None or entry.sha is None:
            continue
        content = _content(repo, entry.mode, entry.sha, links)
        if content is not None:
            files[base + entry.path.decode("utf-8", "surrogateescape")] = content
    return files


def tree_entries(
    repo: Repo, sha: str, prefixes: Sequence[str]
) -> tuple[dict[str, str], dict[str, bytes]]:
    """The blob id of every regular file under the prefixes, and the target of every link;
    no blob is read but the links'."""
    tree = load_commit(repo, sha, SourceError).tree
    blobs: dict[str, str] = {}
    links: dict[str, bytes] = {}

    def add(path: str, mode: int, blob: ObjectID) -> None:
        if stat.S_ISREG(mode):
            blobs[path] = blob.decode("ascii")
        elif stat.S_ISLNK(mode):
            links[path] = repo.object_store[blob].as_raw_string()

    for prefix in (p.strip("/") for p in prefixes):
        root, base = tree, ""
        if prefix:
            found = _lookup(repo, tree, prefix.encode())
            if found is None:
                continue
            mode, root = found
            if not stat.S_ISDIR(mode):
                add(prefix, mode, root)
                continue
            base = prefix + "/"
        for path, mode, blob in _walk(repo, root):
            add(base + path, mode, blob)
    return blobs, links


@dataclass(frozen=True)
class Listing:
    """The files ``keep`` accepts in a commit's tree: blob ids of regular files, targets of
    links. ``since`` is (the tree of the listing this one was derived from, the paths that
    differ), so a loader that knows that listing can work on those paths alone. Shared:
    never change the dictionaries."""

    tree: str
    blobs: dict[str, str]
    links: dict[str, bytes]
    since: tuple[str, frozenset[str]] | None = None


_LISTED: dict[tuple[str, tuple[str, ...], Callable[[str], bool]], Listing] = {}
LISTED_MEMORY = 64  # (repository, prefixes, keep) kept; past it the oldest go first


def list_files(
    repo: Repo, sha: str, prefixes: Sequence[str], keep: Callable[[str], bool]
) -> Listing:
    """``tree_entries`` of the paths ``keep`` accepts (all of them under ``prefixes``).

    The last listing per repository is kept; the next one is derived from it through the
    tree diff (dulwich ``tree_changes``, which skips every subtree both trees share), so a
    one-file commit costs one file, not a walk of all of them."""
    tree = load_commit(repo, sha, SourceError).tree
    key = (str(repo.path), tuple(prefixes), keep)
    last = _LISTED.get(key)
    if last is not None and last.tree == tree.decode("ascii"):
        return Listing(last.tree, last.blobs, last.links, (last.tree, frozenset()))
    listing = _derived(repo, last, tree, keep) if last is not None else None
    if listing is None:
        blobs, links = tree_entries(repo, sha, prefixes)
        listing = Listing(
            tree.decode("ascii"),
            {path: blob for path, blob in blobs.items() if keep(path)},
            {path: target for path, target in links.items() if keep(path)},
        )
    _LISTED.pop(key, None)
    _LISTED[key] = listing
    while len(_LISTED) > LISTED_MEMORY:
        del _LISTED[next(iter(_LISTED))]
    return listing


def _derived(
    repo: Repo, last: Listing, tree: ObjectID, keep: Callable[[str], bool]
) -> Listing | None:
    """``last`` moved to ``tree`` through the diff; None when an object is missing (the full
    walk then says what is wrong)."""
    gone: list[str] = []
    came: list[tuple[str, int, ObjectID]] = []
    try:
        for change in diff_trees(repo.object_store, ObjectID(last.tree.encode("ascii")), tree):
            old, new = change.old, change.new
            if old is not None and old.path is not None:
                gone.append(old.path.decode("utf-8", "surrogateescape"))
            if new is not None and new.path is not None and new.mode is not None:
                assert new.sha is not None
                came.append((new.path.decode("utf-8", "surrogateescape"), new.mode, new.sha))
        blobs, links = dict(last.blobs), dict(last.links)
        changed: set[str] = set()
        for path in gone:
            if keep(path):
                changed.add(path)
                blobs.pop(path, None)
                links.pop(path, None)
        for path, mode, blob in came:
            if not keep(path):
                continue
            changed.add(path)
            if stat.S_ISREG(mode):
                blobs[path] = blob.decode("ascii")
            elif stat.S_ISLNK(mode):
                links[path] = repo.object_store[blob].as_raw_string()
    except KeyError:
        return None
    return Listing(tree.decode("ascii"), blobs, links, (last.tree, frozenset(changed)))


Entry = tuple[str, int, ObjectID]  # path under the tree, mode, object id
_WALKED: dict[tuple[str, ObjectID], list[Entry]] = {}  # (repository, tree id) -> its walk
WALK_MEMORY = 4096  # trees kept; past it the oldest go first


def _walk(repo: Repo, tree: ObjectID) -> list[Entry]:
    """Every entry under ``tree`` but its subtrees. A tree never changes, so a subtree this
    process walked before in the same repository is not read again: walking the next revision
    reads only the trees that changed. (Per repository, so a tree missing from a damaged one
    is still found missing the first time it is walked there.)"""
    key = (str(repo.path), tree)
    found = _WALKED.get(key)
    if found is not None:
        return found
    node = repo.object_store[tree]
    if not isinstance(node, Tree):
        raise NotTreeError(tree)
    found = []
    for entry in node.iteritems():
        name = entry.path.decode("utf-8", "surrogateescape")
        if stat.S_ISDIR(entry.mode):
            below = _walk(repo, entry.sha)
            found.extend((f"{name}/{path}", mode, sha) for path, mode, sha in below)
        else:
            found.append((name, entry.mode, entry.sha))
    _WALKED[key] = found
    while len(_WALKED) > WALK_MEMORY:
        del _WALKED[next(iter(_WALKED))]
    return found


def read_blobs(repo: Repo, ids: Iterable[str]) -> dict[str, bytes]:
    """The contents of the blobs, by id."""
    store = repo.object_store
    return {blob: store[ObjectID(blob.encode())].as_raw_string() for blob in ids}


def _content(repo: Repo, mode: int, sha: ObjectID, links: bool) -> bytes | None:
    if stat.S_ISREG(mode):
        return repo.object_store[sha].as_raw_string()
    if links and stat.S_ISLNK(mode):
        return Symlink(repo.object_store[sha].as_raw_string())
    return None


def check_heads(repo: Repo, heads: Iterable[ObjectID]) -> None:
    """Read every commit named and the whole tree of each; raise whatever a damaged one raises.

    Blobs are only looked up, not read: a missing one raises KeyError like a missing tree.
    """
    store = repo.object_store
    for sha in heads:
        commit = store[sha]
        if not isinstance(commit, Commit):
            raise NotCommitError(sha)
        for entry in iter_tree_contents(store, commit.tree):
            gitlink = entry.mode is not None and stat.S_IFMT(entry.mode) == GITLINK
            if entry.sha is not None and not gitlink and entry.sha not in store:
                raise KeyError(entry.sha)


def is_ancestor(repo: Repo, ancestor: str, descendant: str, limit: int = 2000) -> bool:
    """Whether ``ancestor`` is ``descendant`` or one of the ``limit`` commits before it.

    A commit the walk cannot find ends that path of the walk (a shallow or pruned history);
    past ``limit`` commits the answer is False, which callers treat as "history rewritten".
    """
    want = ObjectID(ancestor.encode())
    queue = [ObjectID(descendant.encode())]
    seen: set[ObjectID] = set()
    while queue and len(seen) < limit:
        sha = queue.pop(0)
        if sha == want:
            return True
        if sha in seen:
            continue
        seen.add(sha)
        try:
            commit = repo.object_store[sha]
        except KeyError:
            continue
        if isinstance(commit, Commit):
            queue.extend(commit.parents)
    return False
