"""The reconciler's memory: every known run and, per job, what scheduling has accounted for.

The book is rebuilt at start from the status branch and from the containers that carry the
reconciler's labels, so nothing in it depends on the process having lived long. It does no
I/O itself; the reconcile cycle feeds it and writes out what it marks dirty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from reconciler.interfaces import ObservedRun
from reconciler.model import RunRecord
from reconciler.runids import retry_pending


@dataclass
class JobTrack:
    """Scheduling bookkeeping of one job (persisted in status/jobs/<id>.yaml)."""

    created_at: datetime
    last_scheduled: datetime | None = None
    missed_total: int = 0
    next_run: datetime | None = None
    reason: str = ""


class RunBook:
    def __init__(self) -> None:
        self.runs: dict[str, RunRecord] = {}
        self.tracks: dict[str, JobTrack] = {}
        self.dirty: set[str] = set()
        self._by_job: dict[str, dict[str, RunRecord]] = {}
        self._active: dict[str, RunRecord] = {}
        self._active_by_job: dict[str, dict[str, RunRecord]] = {}
        self._retrying: dict[str, RunRecord] = {}  # runs with a next_retry_at
        self.changes: dict[str, int] = {}  # job id -> how often its runs changed
        # job ids whose runs or scheduling bookkeeping changed since the schedule step last
        # took this set (``take_touched``): only those need a new decision before they are due
        self.touched: set[str] = set()
        # job ids whose report (JobFacts, summary) may differ since the cycle last took this
        # set (``take_changed_jobs``): ``touched`` ones and those a decision changed
        self.changed_jobs: set[str] = set()

    # -- runs -------------------------------------------------------------------------------
    def put(self, record: RunRecord) -> RunRecord:
        if self.runs.get(record.run_id) != record:
            self.runs[record.run_id] = record
            self._by_job.setdefault(record.job_id, {})[record.run_id] = record
            if record.is_final:
                self._active.pop(record.run_id, None)
                self._active_by_job.get(record.job_id, {}).pop(record.run_id, None)
            else:
                self._active[record.run_id] = record
                self._active_by_job.setdefault(record.job_id, {})[record.run_id] = record
            if record.next_retry_at is not None:
                self._retrying[record.run_id] = record
            else:
                self._retrying.pop(record.run_id, None)
            self.dirty.add(record.run_id)
            self.changes[record.job_id] = self.changes.get(record.job_id, 0) + 1
            self.touched.add(record.job_id)
            self.changed_jobs.add(record.job_id)
        return record

    def load(self, records: Iterable[RunRecord]) -> None:
        """Take records as they stand on the status branch (not dirty: already written)."""
        for record in records:
            self.put(record)
            self.dirty.discard(record.run_id)

    def forget(self, run_id: str) -> None:
        record = self.runs.pop(run_id, None)
        if record is not None:
            self._by_job.get(record.job_id, {}).pop(run_id, None)
            self.changes[record.job_id] = self.changes.get(record.job_id, 0) + 1
            self._active_by_job.get(record.job_id, {}).pop(run_id, None)
            self.touched.add(record.job_id)
            self.changed_jobs.add(record.job_id)
        self._active.pop(run_id, None)
        self._retrying.pop(run_id, None)
        self.dirty.discard(run_id)

    def for_job(self, job_id: str) -> list[RunRecord]:
        return sorted(self._by_job.get(job_id, {}).values(), key=_sort_key)

    def active(self, job_id: str | None = None) -> list[RunRecord]:
        if job_id is None:
            return list(self._active.values())
        return list(self._active_by_job.get(job_id, {}).values())

    def take_touched(self) -> set[str]:
        """The job ids touched since the last call (and start afresh)."""
        touched, self.touched = self.touched, set()
        return touched

    def track_changed(self, job_id: str) -> None:
        """The job's bookkeeping changed by a decision (not a reason to decide it again)."""
        self.changed_jobs.add(job_id)

    def take_changed_jobs(self) -> set[str]:
        """The job ids whose report may have changed since the last call."""
        changed, self.changed_jobs = self.changed_jobs, set()
        return changed

    def retry_pending(self, record: RunRecord) -> bool:
        """A failed attempt whose next attempt is planned but has not started."""
        return retry_pending(record, self.runs)

    def by_job(self) -> Mapping[str, Mapping[str, RunRecord]]:
        """Every job's runs by run id, as read-only views (they follow the book)."""
        return {job_id: MappingProxyType(runs) for job_id, runs in self._by_job.items()}

    def committed(self, run_ids: Iterable[str]) -> None:
        """These runs are on the status branch as they stand: no longer dirty."""
        self.dirty.difference_update(run_ids)

    def due_retries(self, now: datetime) -> list[RunRecord]:
        """Pending retries whose time has come, the most overdue first."""
        due = [
            r
            for r in self._retrying.values()
            if r.next_retry_at is not None and r.next_retry_at <= now and self.retry_pending(r)
        ]
        return sorted(due, key=lambda r: r.next_retry_at or now)

    # -- jobs -------------------------------------------------------------------------------
    def track(self, job_id: str, now: datetime) -> JobTrack:
        if job_id not in self.tracks:
            self.tracks[job_id] = JobTrack(created_at=now)
            self.changed_jobs.add(job_id)
        return self.tracks[job_id]

    def drop_job(self, job_id: str) -> None:
        """The job left the config, nothing of it runs and its summary is deleted."""
        self.tracks.pop(job_id, None)
        self.touched.add(job_id)
        self.changed_jobs.add(job_id)

    def adopt(self, observed: ObservedRun, now: datetime) -> RunRecord:
        """A container we have no record of (started just before a crash): record it as running."""
        record = RunRecord(
            run_id=observed.run_id,
            job_id=observed.job_id,
            trigger=observed.trigger,  # type: ignore[arg-type]
            status="running",
            scheduled_for=observed.scheduled_for,
            started_at=observed.started_at or now,
            config_revision=observed.config_revision,
            image=observed.image,
            attempt=observed.attempt,
            retry_of=observed.retry_of,
            idempotency_key=observed.idempotency_key,
        )
        self.note_scheduled(record)
        return self.put(record)

    def note_scheduled(self, record: RunRecord) -> None:
        """A scheduled run moves the job's last scheduled time forward (never back)."""
        if record.trigger != "schedule" or record.scheduled_for is None:
            return
        track = self.track(record.job_id, record.scheduled_for)
        if track.last_scheduled is None or record.scheduled_for > track.last_scheduled:
            track.last_scheduled = record.scheduled_for
            self.touched.add(record.job_id)
            self.changed_jobs.add(record.job_id)


def _sort_key(record: RunRecord) -> tuple[datetime | str, str]:
    when = record.started_at or record.scheduled_for or record.finished_at
    return (when.isoformat() if when else "", record.run_id)
