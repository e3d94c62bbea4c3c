"""The files of a git tree by path, read only when asked for, with their git blob ids known.

A source hands ``load_tree`` a ``TreeFiles`` instead of a dict of contents: the tree names
each file's blob id, so the parse cache (``cache.py``) answers a file it has seen without its
bytes being read at all; ``prefetch`` reads the rest in one go. Symbolic links are read at
once and handed on as ``Symlink`` (``tree.py`` names them as problems).

A source that knows the git tree names it (``tree``), and, when it listed the files by the
diff from an earlier tree, says so (``since``: that tree and the paths that differ): the
loader then derives this revision's jobs from that tree's by those paths alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping


class Symlink(bytes):
    """A manifest path that is a symbolic link; the bytes are the link's target."""


Reader = Callable[[list[str]], Mapping[str, bytes]]  # blob ids -> contents


class TreeFiles(MutableMapping[str, bytes]):
    """``{path: content}`` of a tree; contents come from ``read`` on first use. Each read of
    a source makes a new one, so the caller may change it like a dict."""

    def __init__(
        self,
        blobs: Mapping[str, str],
        links: Mapping[str, bytes],
        read: Reader,
        tree: str | None = None,
        since: tuple[str, frozenset[str]] | None = None,
    ) -> None:
        self._blobs = dict(blobs)  # regular files: path -> blob id
        self._content: dict[str, bytes] = {p: Symlink(target) for p, target in links.items()}
        self._read = read
        self.tree = tree  # the git tree these files are (None once changed like a dict)
        self.since = since  # (an earlier tree, the paths that differ from it)

    def blob_id(self, path: str) -> str | None:
        """The blob id of a regular file (None for a link)."""
        return self._blobs.get(path)

    def prefetch(self, paths: Iterable[str]) -> None:
        """Read the contents of ``paths`` not read yet, in one call of the reader."""
        wanted = {p: self._blobs[p] for p in paths if p in self._blobs and p not in self._content}
        if not wanted:
            return
        found = self._read(sorted(set(wanted.values())))
        for path, blob in wanted.items():
            self._content[path] = found[blob]

    def __getitem__(self, path: str) -> bytes:
        if path not in self._content:
            if path not in self._blobs:
                raise KeyError(path)
            self.prefetch([path])
        return self._content[path]

    def __setitem__(self, path: str, content: bytes) -> None:
        self.tree = self.since = None
        self._blobs.pop(path, None)
        self._content[path] = content

    def __delitem__(self, path: str) -> None:
        if path not in self._blobs and path not in self._content:
            raise KeyError(path)
        self.tree = self.since = None
        self._blobs.pop(path, None)
        self._content.pop(path, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._blobs
        yield from (p for p in self._content if p not in self._blobs)

    def __len__(self) -> int:
        return len(self._blobs) + sum(1 for p in self._content if p not in self._blobs)
