"""Indexes over the runs of one read-model version, kept up to date per change.

Lists of runs are asked for newest first, by job, by status and since a time. Sorting all
runs (and parsing their times) for every request costs seconds at 100k runs, so the
``RunIndexer`` keeps sorted keys ``(timestamp, run_id)`` and updates them with each changed
run (a binary search, no re-sort); ``freeze`` hands out an immutable ``RunIndex`` for one
version. Answering a list then walks the keys from the newest end and stops at ``limit``.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from reconciler.clock import utc
from reconciler.model import ACTIVE_STATUSES

__all__ = ["Key", "RunIndex", "RunIndexer", "run_key"]

Key = tuple[float, str]  # (when the run happened as a Unix time, run id): the sort order


def run_key(run: Mapping[str, Any]) -> Key:
    """A run's place in time: started, else scheduled, else finished (0 when none is known)."""
    for name in ("started_at", "scheduled_for", "finished_at"):
        value = run.get(name)
        if value:
            try:
                return (utc(str(value)).timestamp(), str(run.get("run_id", "")))
            except (ValueError, OverflowError):
                continue
    return (0.0, str(run.get("run_id", "")))


@dataclass(frozen=True)
class RunIndex:
    """The runs of one version, sorted; every list is oldest first and never changed."""

    keys: list[Key] = field(default_factory=list)  # every run
    by_status: Mapping[str, list[Key]] = field(default_factory=dict)
    by_job: Mapping[str, tuple[Key, ...]] = field(default_factory=dict)  # newest first

    @classmethod
    def of(cls, runs: Mapping[str, Mapping[str, Any]]) -> RunIndex:
        """An index of ``runs`` built from scratch (snapshots made without a builder)."""
        indexer = RunIndexer()
        indexer.update(runs.values(), ())
        return indexer.freeze()

    def counts(self) -> dict[str, int]:
        """How many runs are in each status."""
        return {status: len(keys) for status, keys in sorted(self.by_status.items()) if keys}

    def active(self) -> frozenset[str]:
        """The ids of queued and running runs."""
        found = (self.by_status.get(status, ()) for status in ACTIVE_STATUSES)
        return frozenset(key[1] for keys in found for key in keys)

    def newest(
        self,
        *,
        job: str | None = None,
        statuses: frozenset[str] = frozenset(),
        since: float | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[str]:
        """Run ids newest first that match every condition given, ``offset`` skipped."""
        keys = self._candidates(job, statuses)
        if since is not None:
            keys = _until(keys, since)
        return [key[1] for key in islice(keys, offset, offset + limit)]

    def _candidates(self, job: str | None, statuses: frozenset[str]) -> Iterator[Key]:
        if job is not None:
            keys: Iterable[Key] = self.by_job.get(job, ())
            if statuses:
                status_sets = [self.by_status.get(s, []) for s in statuses]
                return (k for k in keys if any(_holds(ks, k) for ks in status_sets))
            return iter(keys)
        if not statuses:
            return reversed(self.keys)
        lists = [reversed(self.by_status.get(status, [])) for status in sorted(statuses)]
        return heapq.merge(*lists, reverse=True)


def _holds(keys: list[Key], key: Key) -> bool:
    at = bisect_left(keys, key)
    return at < len(keys) and keys[at] == key


def _until(keys: Iterator[Key], since: float) -> Iterator[Key]:
    for key in keys:
        if key[0] < since:
            return
        yield key


class RunIndexer:
    """The mutable side: sorted keys updated per changed run; ``freeze`` makes a version."""

    def __init__(self) -> None:
        self._keys: list[Key] = []
        self._by_status: dict[str, list[Key]] = {}
        self._by_job: dict[str, list[Key]] = {}
        self._placed: dict[str, tuple[Key, str, str]] = {}  # run id -> key, status, job id
        self._frozen_jobs: dict[str, tuple[Key, ...]] = {}
        self._stale_jobs: set[str] = set()
        self._frozen: RunIndex | None = None

    def update(self, changed: Iterable[Mapping[str, Any]], removed: Iterable[str]) -> None:
        """Place each changed run (as its dict) anew; take the removed run ids out."""
        for run_id in removed:
            self._remove(run_id)
        for run in changed:
            run_id = str(run.get("run_id", ""))
            self._remove(run_id)
            key, status, job = run_key(run), str(run.get("status", "")), str(run.get("job_id"))
            insort(self._keys, key)
            insort(self._by_status.setdefault(status, []), key)
            insort(self._by_job.setdefault(job, []), key)
            self._placed[run_id] = (key, status, job)
            self._stale_jobs.add(job)
            self._frozen = None

    def _remove(self, run_id: str) -> None:
        placed = self._placed.pop(run_id, None)
        if placed is None:
            return
        key, status, job = placed
        for keys in (self._keys, self._by_status[status], self._by_job[job]):
            del keys[bisect_left(keys, key)]
        self._stale_jobs.add(job)
        self._frozen = None

    def freeze(self) -> RunIndex:
        """This state as an immutable index (the same object until the next change)."""
        if self._frozen is None:
            for job in self._stale_jobs:
                keys = self._by_job.get(job)
                if keys:
                    self._frozen_jobs[job] = tuple(reversed(keys))
                else:
                    self._frozen_jobs.pop(job, None)
                    self._by_job.pop(job, None)
            self._stale_jobs.clear()
            self._frozen = RunIndex(
                keys=list(self._keys),
                by_status={status: list(keys) for status, keys in self._by_status.items()},
                by_job=dict(self._frozen_jobs),
            )
        return self._frozen
