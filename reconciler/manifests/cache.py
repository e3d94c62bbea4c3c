"""Parsed manifests cached by git blob id, so a file is parsed once, not at every load.

Parsing a job file (safe YAML, JSON Schema, checks, build) costs about a millisecond; a repo of
10k files costs seconds, though a commit changes one or two. The outcome of one file depends
only on its bytes, its path and what it inherits: oven.yaml's defaults and notification
targets and the volume allow-list (the *context*), and on this code. So a ``ParsedJob`` is
kept under ``(context, blob id, path)``, where the blob id is git's (``sha1("blob N\\0" +
bytes)``), and the context key hashes the inherited values, the code of the manifest loader,
its schemas and the Python version: a change to any of them is a different key, never a stale
answer.

The cache also keeps the last few loads of a git tree (``loaded.Loaded``), so the next
revision is derived from them (``tree.load_tree``).

Every process keeps one cache in memory (``DEFAULT``; the daemon's reloads use it). Given a
directory, a cache also keeps its entries on disk, one file per context, written whole (a
temporary file, then a rename), so the next ``oven plan`` or ``oven validate`` starts warm.
The directory is created private (0700) and a file not owned by this user, or writable by
others, is ignored: the entries are pickles. An unreadable or unwritable cache is logged at
debug level and costs only the time it would have saved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Collection, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from reconciler.manifests.job import ParsedJob
from reconciler.manifests.loaded import Loaded

log = logging.getLogger(__name__)

FORMAT = 1
MEMORY_LIMIT = 50_000  # entries kept in memory; past it the oldest go first
LOADS_KEPT = 4  # loaded trees kept (a plan's base and head, the daemon's last ones)
Key = tuple[str, str, str]  # context, blob id, path
CODE = ("manifests", "schedule", "pipelines")  # packages whose code decides a parse


def blob_id(data: bytes) -> str:
    """git's id of a blob holding ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@cache
def code_version() -> str:
    """A hash of the loader's code, the schemas and the Python version."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha1(f"{FORMAT} {sys.version}".encode(), usedforsecurity=False)
    files = [root / "model.py", *sorted((root / "schema").glob("*.json"))]
    for package in CODE:
        files.extend(sorted((root / package).rglob("*.py")))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def context_key(
    defaults: Mapping[str, Any],
    volume_allowlist: Sequence[str] | None,
    targets: Collection[str] | None,
) -> str:
    """The key of everything a job file inherits, with the code that parses it."""
    inherited = [
        defaults,
        None if volume_allowlist is None else list(volume_allowlist),
        None if targets is None else sorted(targets),
    ]
    text = json.dumps(inherited, sort_keys=True, default=repr)
    return hashlib.sha1(f"{code_version()}\n{text}".encode(), usedforsecurity=False).hexdigest()


class ParseCache:
    """``ParsedJob``s by (context, blob id, path); on disk under ``directory`` when given."""

    def __init__(self, directory: Path | None = None, limit: int = MEMORY_LIMIT) -> None:
        self.directory = directory
        self.limit = limit
        self.hits = 0
        self.misses = 0
        self._entries: dict[Key, ParsedJob] = {}
        self._read: set[str] = set()  # contexts whose file was read
        self._dirty: set[str] = set()  # contexts with entries the file lacks
        self._used: set[Key] = set()  # what this process asked for: what a save keeps
        self._loaded: dict[tuple[str, tuple[str, ...] | None], Loaded] = {}  # by tree, allow

    def loaded(self, tree: str, allow: tuple[str, ...] | None) -> Loaded | None:
        """What loading git tree ``tree`` with this volume allow-list worked out, if kept."""
        return self._loaded.get((tree, allow))

    def keep(self, tree: str, allow: tuple[str, ...] | None, loaded: Loaded) -> None:
        """Keep a load of ``tree`` for the next load (of it, or of a tree derived from it)."""
        self._loaded.pop((tree, allow), None)
        self._loaded[(tree, allow)] = loaded
        while len(self._loaded) > LOADS_KEPT:
            del self._loaded[next(iter(self._loaded))]

    def get(self, context: str, blob: str, path: str) -> ParsedJob | None:
        """The outcome for the file at ``path`` holding blob ``blob``, if known."""
        if self.directory is not None and context not in self._read:
            self._load(context)
        key = (context, blob, path)
        if self.directory is not None:
            self._used.add(key)
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, context: str, blob: str, path: str, parsed: ParsedJob) -> None:
        """Remember the outcome of parsing a file."""
        self._entries[(context, blob, path)] = parsed
        self._dirty.add(context)
        while len(self._entries) > self.limit:
            del self._entries[next(iter(self._entries))]

    def save(self) -> None:
        """Write the contexts that gained entries to the directory (nothing without one),
        with the entries this process used: files of older revisions drop out."""
        if self.directory is None:
            return
        for context in sorted(self._dirty):
            entries = {
                key[1:]: self._entries[key]
                for key in self._used
                if key[0] == context and key in self._entries
            }
            try:
                self._write(context, entries)
            except OSError as exc:
                log.debug("cannot write the manifest cache in %s: %s", self.directory, exc)
        self._dirty.clear()

    def _file(self, context: str) -> Path:
        assert self.directory is not None
        return self.directory / f"manifests-{context[:32]}.pickle"

    def _load(self, context: str) -> None:
        self._read.add(context)
        path = self._file(context)
        try:
            info = path.stat()
            if info.st_uid != os.getuid() or info.st_mode & 0o022:
                log.debug("ignoring %s: not ours, or writable by others", path)
                return
            with path.open("rb") as handle:
                stored = pickle.load(handle)
        except FileNotFoundError:
            return
        except Exception as exc:  # a torn or foreign file: parse again, write it anew
            log.debug("ignoring the manifest cache %s: %s", path, exc)
            return
        if not isinstance(stored, dict) or stored.get("context") != context:
            return
        for (blob, name), parsed in stored.get("entries", {}).items():
            self._entries.setdefault((context, blob, name), parsed)

    def _write(self, context: str, entries: Mapping[tuple[str, str], ParsedJob]) -> None:
        path = self._file(context)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".manifests-")
        try:
            with os.fdopen(fd, "wb") as out:
                pickle.dump({"context": context, "entries": dict(entries)}, out, protocol=5)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


DEFAULT = ParseCache()  # this process's cache, in memory only


def default_directory(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the CLI keeps the cache: ``$XDG_CACHE_HOME/agent-oven`` (``~/.cache/...``)."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-oven"
