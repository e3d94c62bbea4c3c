"""The record step: status files written to the ledger, batched into one commit per cycle.

Only files whose content changed are written; the heartbeat alone causes a commit at most every
``settings.heartbeat`` seconds. Containers are removed only after the commit that records their
result went through, so a crash can never lose a result. The same pass builds the read model the
status page serves.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from reconciler import __version__
from reconciler.errors import OvenError
from reconciler.interfaces import Ledger
from reconciler.model import RunRecord, optional_time
from reconciler.status import (
    RECONCILER_PATH,
    StatusTree,
    commit_message,
    dump_yaml,
    job_path,
    job_summary,
    prune_runs,
    reconciler_status,
    run_path,
)
from reconciler.web.snapshot import Snapshot

if TYPE_CHECKING:
    from reconciler.reconcile import Reconciler

log = logging.getLogger("oven")


class Recorder:
    def __init__(self, reconciler: Reconciler, ledger: Ledger) -> None:
        self.owner, self.ledger = reconciler, ledger
        self.written: dict[str, bytes] = {}
        self.removable: set[str] = set()
        self.last_commit: datetime | None = None
        self.snapshot = Snapshot(reconciler={}, jobs={}, runs={})
        self._run_dicts: dict[str, dict[str, object]] = {}
        self.summaries: dict[str, dict[str, object]] = {}
        self._summary_keys: dict[str, tuple[object, ...]] = {}

    def restore(self, tree: StatusTree, files: dict[str, bytes]) -> None:
        """Take over job bookkeeping (creation, last scheduled, missed) from the status branch."""
        book = self.owner.book
        self.written = dict(files)
        self.summaries = {job_id: dict(summary) for job_id, summary in tree.jobs.items()}
        self.snapshot = Snapshot(reconciler=dict(tree.reconciler), jobs={}, runs={})
        for job_id, summary in tree.jobs.items():
            track = book.track(
                job_id, optional_time(summary.get("created_at")) or self.owner.clock.now()
            )
            track.last_scheduled = optional_time(summary.get("last_scheduled"))
            track.missed_total = int(summary.get("missed_total") or 0)

    def record(self, now: datetime) -> None:
        files = self._run_files() | self._job_files()
        heartbeat_due = self.last_commit is None or now - self.last_commit >= timedelta(
            seconds=self.owner.settings.heartbeat
        )
        if files or heartbeat_due:
            files[RECONCILER_PATH] = dump_yaml(self._reconciler_status(now))
            self._write(files, now)
        self._remove_recorded_containers()
        self._refresh_snapshot(self._reconciler_status(now))

    def _write(self, files: dict[str, bytes | None], now: datetime) -> None:
        try:
            self.ledger.write(files, self._message(files))
        except OvenError as exc:
            log.error("cannot record status: %s", exc.message)
            self.owner.health.record = exc
            self._summary_keys.clear()  # work the summaries out again next time
            return
        self.owner.health.record = None
        self.last_commit = now
        self.owner.book.dirty.clear()
        for path, content in files.items():
            if content is None:
                self.written.pop(path, None)
            else:
                self.written[path] = content

    # -- files ------------------------------------------------------------------------------
    def _run_files(self) -> dict[str, bytes | None]:
        book = self.owner.book
        files: dict[str, bytes | None] = {}
        for run_id in sorted(book.dirty):
            record = book.runs[run_id]
            data = record.to_dict()
            self._run_dicts[run_id] = data
            files[run_path(record.job_id, run_id)] = dump_yaml(data)
        for job_id in {book.runs[run_id].job_id for run_id in book.dirty}:
            _, dropped = prune_runs(book.for_job(job_id), keep=self.owner.settings.keep_runs)
            for record in dropped:
                if self._still_needed(record):
                    continue
                files[run_path(job_id, record.run_id)] = None
                book.forget(record.run_id)
                self._run_dicts.pop(record.run_id, None)
        return files

    def _still_needed(self, record: RunRecord) -> bool:
        """Unwritten results, containers not yet removed and pending retries stay in the book."""
        book = self.owner.book
        return (
            record.run_id in book.dirty
            or record.run_id in self.removable
            or book.retry_pending(record)
        )

    def _job_files(self) -> dict[str, bytes | None]:
        owner, book = self.owner, self.owner.book
        jobs = owner.desired.jobs if owner.desired else {}
        files: dict[str, bytes | None] = {}
        for job_id, track in list(book.tracks.items()):
            job = jobs.get(job_id)
            active = book.active(job_id)
            if job is None and not active and owner.desired is not None:
                del book.tracks[job_id]  # removed from config and nothing left running
                self.summaries.pop(job_id, None)
                self._summary_keys.pop(job_id, None)
                if job_path(job_id) in self.written:
                    files[job_path(job_id)] = None
                continue
            key = (
                job.fingerprint if job else None,
                track.next_run,
                track.last_scheduled,
                track.missed_total,
                track.reason,
                book.changes.get(job_id, 0),
            )
            if self._summary_keys.get(job_id) == key:
                continue  # nothing that goes into the summary changed
            self._summary_keys[job_id] = key
            summary = job_summary(
                job,
                job_id,
                book.for_job(job_id),
                next_run=track.next_run,
                last_scheduled=track.last_scheduled,
                created_at=track.created_at,
                missed_total=track.missed_total,
                active_runs=[r.run_id for r in active],
                previous=self.summaries.get(job_id),
            )
            summary["reason"] = track.reason
            if job is not None:
                summary["description"], summary["owner"] = job.description, job.owner
            self.summaries[job_id] = summary
            content = dump_yaml(summary)
            if self.written.get(job_path(job_id)) != content:
                files[job_path(job_id)] = content
        return files

    def _reconciler_status(self, now: datetime) -> dict[str, object]:
        owner = self.owner
        return reconciler_status(
            now=now,
            applied_revision=owner.applied_revision or None,
            attempted_revision=owner.attempted_revision or None,
            problems=owner.desired.problems if owner.desired else (),
            error=owner.health.error,
            started_at=owner.started_at,
            version=__version__,
            jobs=len(owner.desired.jobs) if owner.desired else 0,
            next_wakeup=min(owner.dispatch.wakeups, default=None),
            previous=self.snapshot.reconciler,
            extra={
                "instance": owner.settings.instance,
                "warnings": list(owner.health.warnings),
                "active_runs": len(owner.book.active()),
            },
        )

    def _message(self, files: dict[str, bytes | None]) -> str:
        runs = sum(1 for p in files if p.startswith("status/runs/"))
        jobs = sum(1 for p in files if p.startswith("status/jobs/"))
        return commit_message(runs, jobs, self.owner.attempted_revision or None)

    def _remove_recorded_containers(self) -> None:
        book = self.owner.book
        for run_id in sorted(self.removable):
            record = book.runs.get(run_id)
            if record is not None and (not record.is_final or run_id in book.dirty):
                continue  # its result is not committed yet
            try:
                self.owner.executor.remove(run_id)
            except OvenError as exc:
                log.warning("run %s: cannot remove container: %s", run_id, exc)
                continue
            self.removable.discard(run_id)

    # -- read model -------------------------------------------------------------------------
    def _refresh_snapshot(self, reconciler: dict[str, object]) -> None:
        book = self.owner.book
        runs = {}
        for run_id, record in book.runs.items():
            if run_id not in self._run_dicts:
                self._run_dicts[run_id] = record.to_dict()
            runs[run_id] = self._run_dicts[run_id]
        jobs = {job_id: dict(summary) for job_id, summary in self.summaries.items()}
        self.snapshot = Snapshot(reconciler=dict(reconciler), jobs=jobs, runs=runs)
