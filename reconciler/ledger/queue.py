"""Status writes that the remote has not received yet, kept durably in the state directory.

One JSON file per write (``<seq>.json``: the commit message and the files, base64, ``null`` for
a deletion), numbered in the order the writes were made. A file is written whole (temporary
file, fsync, rename, fsync of the directory), so a crash leaves either the entry or nothing.
The ledger removes entries only after the commits holding them were pushed.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import LedgerError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    seq: int
    message: str
    files: dict[str, bytes | None]


class StatusQueue:
    """The writes waiting to be pushed, oldest first; ``path`` None keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: list[Entry] = []

    def entries(self) -> list[Entry]:
        if self.path is None:
            return list(self._memory)
        found = []
        for item in sorted(self.path.glob("*.json")):
            try:
                data = json.loads(item.read_text())
                files = {
                    name: None if value is None else base64.b64decode(value)
                    for name, value in data["files"].items()
                }
                found.append(Entry(int(item.stem), str(data["message"]), files))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("status queue: unreadable entry %s skipped (%s)", item, exc)
        return found

    def append(self, files: Mapping[str, bytes | None], message: str) -> Entry:
        entries = self.entries()
        seq = entries[-1].seq + 1 if entries else 1
        entry = Entry(seq, message, dict(files))
        if self.path is None:
            self._memory.append(entry)
            return entry
        data = {
            "message": message,
            "files": {
                name: None if value is None else base64.b64encode(value).decode()
                for name, value in files.items()
            },
        }
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            target = self.path / f"{seq:09d}.json"
            temporary = target.with_suffix(".tmp")
            with temporary.open("w") as out:
                json.dump(data, out)
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(target)
            _sync_dir(self.path)
        except OSError as exc:
            raise LedgerError(
                f"cannot queue status in {self.path}: {exc}",
                hint="the state directory must be writable (free disk space?)",
            ) from exc
        return entry

    def drop(self, upto: int) -> None:
        """Forget every entry up to and including ``upto`` (they were pushed)."""
        if self.path is None:
            self._memory = [e for e in self._memory if e.seq > upto]
            return
        for item in self.path.glob("*.json"):
            if item.stem.isdigit() and int(item.stem) <= upto:
                item.unlink(missing_ok=True)
        _sync_dir(self.path)

    def clear_memory(self) -> None:
        """Without a state directory nothing outlives a failed write (the recorder retries)."""
        if self.path is None:
            self._memory = []


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
