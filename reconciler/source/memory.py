"""An in-memory config source for unit tests of the reconcile cycle.

``commit(files)`` plays a push: it makes a new revision whose files are the previous ones
with the changes applied (None deletes). ``fetch`` returns the newest revision, or raises
the error set in ``fail_with`` to play an unreachable remote. Like the git sources, ``files``
returns only the manifests (oven.yaml and jobs/**/*.y(a)ml) and keeps every revision readable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from reconciler.errors import OvenError, SourceError
from reconciler.source.git import is_manifest_path


class MemorySource:
    def __init__(self) -> None:
        self.revisions: dict[str, dict[str, bytes]] = {}
        self.head = ""
        self.fail_with: OvenError | None = None

    def commit(self, files: Mapping[str, str | bytes | None]) -> str:
        tree = dict(self.revisions.get(self.head, {}))
        for path, content in files.items():
            if content is None:
                tree.pop(path, None)
            else:
                tree[path] = content.encode() if isinstance(content, str) else content
        digest = hashlib.sha1(self.head.encode(), usedforsecurity=False)
        for path in sorted(tree):
            digest.update(path.encode() + b"\0" + tree[path])
        self.head = digest.hexdigest()
        self.revisions[self.head] = tree
        return self.head

    def fetch(self) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        if not self.head:
            raise SourceError(
                "the memory source has no commits yet",
                hint="commit files first (MemorySource.commit)",
            )
        return self.head

    def files(self, revision: str) -> dict[str, bytes]:
        tree = self.revisions.get(revision)
        if tree is None:
            raise SourceError(
                f"revision {revision} not found in the memory source",
                hint="use a revision returned by commit or fetch",
            )
        return {path: data for path, data in tree.items() if is_manifest_path(path)}
