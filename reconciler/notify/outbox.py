"""The durable outbox: each (event, target) message, from the status commit to its delivery.

One JSON file in the state dir (``notify-outbox.json``), rewritten whole and atomically
(a temporary file, fsync, rename, fsync of the directory) on every change, so a crash leaves
the old or the new version, never half of one. An entry is added once per event key and
target (``add`` skips keys it holds, delivered or not: a transition seen again, after a
restart or a rewritten status branch, is not sent again), marked delivered or given up, and
forgotten ``KEEP`` after that. Entries still pending are sent again after a restart.

Events are written **held** before the status commit that carries them, and released once
it went through (``add`` of the same key, not held). A daemon killed between the two finds
them held at its next start and releases those the status branch shows (a run ended, the
reconciler's event in its reconciler.yaml: ``Notifier.recover``); the others are released
when their commit is made again, so no crash between the commit and the outbox loses a
message. A held entry is never sent.

No URL or secret is ever stored here: entries name their target, and the worker resolves
the URL from the secret store at send time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.clock import iso
from reconciler.model import optional_time
from reconciler.transitions import Event

log = logging.getLogger("oven")

OUTBOX_FILE = "notify-outbox.json"
SCHEMA_VERSION = 1
KEEP = timedelta(days=8)  # finished entries are remembered this long (longer than MAX_EVENT_AGE)
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class Entry:
    """One message to one target."""

    target: str
    event: Event
    created_at: datetime
    attempts: int = 0
    next_try: datetime | None = None  # None: at once
    delivered_at: datetime | None = None
    gave_up_at: datetime | None = None
    last_error: str = ""
    held: bool = False  # written before its status commit; not sent until that went through

    @property
    def id(self) -> str:
        return f"{self.event.key}@{self.target}"

    @property
    def pending(self) -> bool:
        return self.delivered_at is None and self.gave_up_at is None and not self.held

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "event": self.event.to_dict(),
            "created_at": iso(self.created_at),
            "attempts": self.attempts,
            "next_try": iso(self.next_try),
            "delivered_at": iso(self.delivered_at),
            "gave_up_at": iso(self.gave_up_at),
            "last_error": self.last_error,
            "held": self.held,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        created = optional_time(data["created_at"])
        assert created is not None
        return cls(
            target=data["target"],
            event=Event.from_dict(data["event"]),
            created_at=created,
            attempts=int(data.get("attempts") or 0),
            next_try=optional_time(data.get("next_try")),
            delivered_at=optional_time(data.get("delivered_at")),
            gave_up_at=optional_time(data.get("gave_up_at")),
            last_error=str(data.get("last_error") or ""),
            held=bool(data.get("held", False)),
        )


@dataclass
class Outbox:
    """The outbox file of one state dir; every method is safe to call from any thread."""

    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, state_dir: Path) -> Outbox:
        outbox = cls(state_dir / OUTBOX_FILE)
        outbox.entries = _read(outbox.path)
        return outbox

    def add(self, events: Iterable[Event], now: datetime, *, held: bool = False) -> list[Entry]:
        """Keep one entry per event and target, unless one is kept already; write them down.
        ``held``: before the status commit (not sent yet); adding a held entry's key again
        without ``held`` releases it. Answers the entries that became sendable or held."""
        added: list[Entry] = []
        with self.lock:
            for event in events:
                for target in event.targets:
                    entry = Entry(target, event, now, held=held)
                    kept = self.entries.get(entry.id)
                    if kept is None:
                        self.entries[entry.id] = entry
                        added.append(entry)
                    elif kept.held and not held:
                        self.entries[entry.id] = released = replace(kept, held=False)
                        added.append(released)
            if added:
                self._prune(now)
                self._write()
        return added

    def held(self) -> list[Entry]:
        """The entries whose status commit was not known to have gone through."""
        with self.lock:
            return [e for e in self.entries.values() if e.held]

    def release(self, entry_ids: Iterable[str]) -> int:
        """Their status commit went through: send them. Answers how many were released."""
        with self.lock:
            released = 0
            for entry_id in entry_ids:
                entry = self.entries.get(entry_id)
                if entry is not None and entry.held:
                    self.entries[entry_id] = replace(entry, held=False)
                    released += 1
            if released:
                self._write()
            return released

    def pending(self) -> list[Entry]:
        with self.lock:
            return sorted(
                (e for e in self.entries.values() if e.pending),
                key=lambda e: (e.created_at, e.id),
            )

    def update(self, entry: Entry, **changes: Any) -> Entry:
        """Record what happened to ``entry`` (attempts, next try, delivered or given up)."""
        with self.lock:
            changed = replace(entry, **changes)
            self.entries[entry.id] = changed
            self._write()
            return changed

    def _prune(self, now: datetime) -> None:
        for entry_id, entry in list(self.entries.items()):
            held_since = entry.created_at if entry.held else None
            done = entry.delivered_at or entry.gave_up_at or held_since
            if done is not None and now - done > KEEP:
                del self.entries[entry_id]
        if len(self.entries) > MAX_ENTRIES:
            finished = sorted(
                (e for e in self.entries.values() if not e.pending), key=lambda e: e.created_at
            )
            for entry in finished[: len(self.entries) - MAX_ENTRIES]:
                del self.entries[entry.id]

    def _write(self) -> None:
        document = {
            "schema_version": SCHEMA_VERSION,
            "entries": [e.to_dict() for e in sorted(self.entries.values(), key=lambda e: e.id)],
        }
        atomic_write(self.path, json.dumps(document, indent=1, sort_keys=True).encode())


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _read(path: Path) -> dict[str, Entry]:
    try:
        document = json.loads(path.read_bytes())
        entries = [Entry.from_dict(item) for item in document["entries"]]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
        aside = path.with_name(path.name + ".unreadable")
        log.warning(
            "notification outbox %s is unreadable (%s); moved to %s, starting empty",
            path,
            exc,
            aside.name,
        )
        path.replace(aside)
        return {}
    return {entry.id: entry for entry in entries}
