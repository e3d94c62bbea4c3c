"""Which jobs need a new decision now (pure): a heap of next due times, so a quiet tick with
thousands of jobs decides nothing.

``decide`` is pure and its answer only changes when one of its inputs does: the job's
definition, its bookkeeping (last scheduled time, runs that started or ended), or the clock
passing the decision's ``next_wakeup``. ``DueJobs`` remembers, per job, the definition it
was decided with and when to decide again, and answers ``due(jobs, now, touched)``: the jobs
never decided, whose definition changed, that the book ``touched`` (a run of theirs
changed), or whose wake-up time has come. Everything else keeps its last decision.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Generic, TypeVar

__all__ = ["DueJobs"]

Spec = TypeVar("Spec")


class DueJobs(Generic[Spec]):
    def __init__(self) -> None:
        self._specs: dict[str, Spec] = {}  # the definition each job was last decided with
        self._wake: dict[str, datetime | None] = {}  # when to decide it again (None: on change)
        self._heap: list[tuple[datetime, str]] = []  # (wake, job id); stale entries skipped
        self._jobs: Mapping[str, Spec] | None = None  # the job mapping last looked at
        self._again: set[str] = set()  # decide these next time whatever happens

    def reset(self) -> None:
        """Forget everything: every job is due at the next ``due``."""
        self._specs.clear()
        self._wake.clear()
        self._heap.clear()
        self._again.clear()
        self._jobs = None

    def due(self, jobs: Mapping[str, Spec], now: datetime, touched: Iterable[str]) -> list[str]:
        """The ids of ``jobs`` to decide at ``now``, in the order of ``jobs``."""
        wanted, self._again = self._again, set()
        if jobs is not self._jobs:  # a new revision: look for new and changed definitions
            for job_id, spec in jobs.items():
                known = self._specs.get(job_id)
                if known is None or (known is not spec and known != spec):
                    wanted.add(job_id)
            for job_id in [j for j in self._specs if j not in jobs]:
                del self._specs[job_id]
                self._wake.pop(job_id, None)
            self._jobs = jobs
        wanted.update(touched)
        wanted = {job_id for job_id in wanted if job_id in jobs}
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, job_id = heapq.heappop(heap)
            if self._wake.get(job_id) == when:
                del self._wake[job_id]  # decided() pushes its next wake-up
                if job_id in jobs:
                    wanted.add(job_id)
        if len(wanted) * 4 > len(jobs):
            return [job_id for job_id in jobs if job_id in wanted]
        order = {job_id: n for n, job_id in enumerate(jobs)} if len(wanted) > 1 else {}
        return sorted(wanted, key=lambda job_id: order.get(job_id, 0))

    def decided(self, job_id: str, spec: Spec, wake: datetime | None) -> None:
        """``job_id`` was decided with ``spec``; decide it again at ``wake`` (or on change)."""
        self._specs[job_id] = spec
        if self._wake.get(job_id) == wake and wake is not None:
            return  # its heap entry is still there
        self._wake[job_id] = wake
        if wake is not None:
            heapq.heappush(self._heap, (wake, job_id))
        if len(self._heap) > 4 * len(self._wake) + 64:  # stale entries: rebuild
            self._heap = [(w, j) for j, w in self._wake.items() if w is not None]
            heapq.heapify(self._heap)

    def undecided(self, job_id: str) -> None:
        """Decide ``job_id`` again next time (its decision raised)."""
        self._specs.pop(job_id, None)
        self._wake.pop(job_id, None)
        self._again.add(job_id)

    def next_wakeup(self) -> datetime | None:
        """The soonest wake-up of any job, or None."""
        heap = self._heap
        while heap and self._wake.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def wakeups(self) -> list[datetime]:
        """Every job's wake-up time (for reports)."""
        return [when for when in self._wake.values() if when is not None]
