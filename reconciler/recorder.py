"""The record step: one cycle's status files committed to the ledger in one commit.

The recorder owns no reconciler and changes no book: it is given a frozen ``CycleReport``,
works out the files with the pure ``status.changes.status_changes``, writes them when anything
changed (the heartbeat alone causes a commit at most every ``heartbeat`` seconds) and answers
what the commit allows the book to forget. A failed commit leaves the files it knows as
committed untouched, so the same files (and the same forgets) come round on the next try.
Listeners (``listeners``: notifications, metrics) hear of every record step after it;
stagers (``stagers``: notifications) see its report, and reconciler.yaml as it is about to
be written, before the commit is tried.
A write the ledger could not push but keeps durably (``StatusQueued``: the remote is
unreachable) counts as written: the book may forget, and the error is still reported.

When the ledger says the status branch was rewritten (``StatusRewritten``: a force-push or a
deleted branch), what the recorder believes is committed is wrong: it reads the branch again,
starts its cache over from what is there, and writes every run and summary it knows, saying
so in the log.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reconciler.errors import OvenError, StatusQueued, StatusRewritten
from reconciler.interfaces import Ledger
from reconciler.lease import LEASE_PATH
from reconciler.status import RECONCILER_PATH, StatusTree, dump_yaml
from reconciler.status.changes import (
    CycleReport,
    StatusCache,
    StatusChanges,
    reconciler_document,
    status_changes,
)

log = logging.getLogger("oven")


@dataclass(frozen=True)
class Recorded:
    """What one record step did, and what the read model shows after it."""

    committed: bool  # False: nothing was due, or the commit failed (then ``error`` says why)
    reconciler: dict[str, Any]  # reconciler.yaml as of this cycle
    summaries: dict[str, dict[str, Any]]  # every job's summary
    forget_runs: tuple[str, ...] = ()  # the book may forget these now (committed only)
    drop_jobs: tuple[str, ...] = ()
    error: OvenError | None = None


# told of every record step: (the report, what was recorded, reconciler.yaml before it)
CommitListener = Callable[[CycleReport, Recorded, Mapping[str, Any]], None]
# told before the commit: (the report, reconciler.yaml as it would write it, and before it)
CommitStager = Callable[[CycleReport, Mapping[str, Any], Mapping[str, Any]], None]


class Recorder:
    def __init__(self, ledger: Ledger, heartbeat: float) -> None:
        self.ledger, self.heartbeat = ledger, heartbeat
        self.cache = StatusCache()
        self.last_commit: datetime | None = None
        self.listeners: list[CommitListener] = []
        self.stagers: list[CommitStager] = []  # before a commit is tried

    def restore(self, tree: StatusTree, files: dict[str, bytes]) -> None:
        """Start from what the status branch holds."""
        self.cache = StatusCache(
            written=dict(files),
            summaries={job_id: dict(summary) for job_id, summary in tree.jobs.items()},
            reconciler=dict(tree.reconciler),
        )

    def preview(self, report: CycleReport) -> Recorded:
        """What the read model shows for ``report`` when the record step is not run."""
        changes = status_changes(report, self.cache)
        return Recorded(False, changes.reconciler, changes.summaries)

    def record(self, report: CycleReport, revision: str | None) -> Recorded:
        """Commit the report's changes when any are due; never raises an OvenError.

        Then every listener hears of the outcome, with reconciler.yaml as it was before (a
        listener's bug is logged, never raised: notifications and metrics never stop a cycle).
        """
        before = dict(self.cache.reconciler)
        changes = status_changes(report, self.cache)  # stagers see the reconciler.yaml it writes
        for stager in self.stagers:
            try:
                stager(report, changes.reconciler, before)
            except Exception:
                log.exception("a status commit stager failed")
        recorded = self._record(report, revision, changes)
        for listener in self.listeners:
            try:
                listener(report, recorded, before)
            except Exception:
                log.exception("a status commit listener failed")
        return recorded

    def _record(
        self,
        report: CycleReport,
        revision: str | None,
        changes: StatusChanges | None = None,
        *,
        rewritten: bool = False,
    ) -> Recorded:
        """Write ``changes`` (worked out from the report and the cache when not given)."""
        if changes is None:
            changes = status_changes(report, self.cache)
        files = dict(changes.files)
        heartbeat_due = self.last_commit is None or report.now - self.last_commit >= timedelta(
            seconds=self.heartbeat
        )
        self.cache.summaries = changes.summaries
        if not files and not heartbeat_due:
            try:
                self.ledger.verify_history()
            except StatusRewritten as exc:
                return self._write_all_again(report, revision, exc)
            except OvenError:
                pass  # the next write meets it and reports it
            self.cache.summary_keys = changes.summary_keys
            self.cache.reconciler = changes.reconciler
            return Recorded(False, changes.reconciler, changes.summaries)
        files[RECONCILER_PATH] = dump_yaml(changes.reconciler)
        queued: StatusQueued | None = None
        try:
            self.ledger.write(files, changes.message(revision))
        except StatusQueued as exc:
            queued = exc  # kept in the state dir and pushed later: written, as far as we go
        except StatusRewritten as exc:
            if not rewritten:
                return self._write_all_again(report, revision, exc)
            return self._failed(report, changes.summaries, exc)
        except OvenError as exc:
            return self._failed(report, changes.summaries, exc)
        self.last_commit = report.now
        self.cache.summary_keys = changes.summary_keys
        self.cache.reconciler = changes.reconciler
        for path, content in files.items():
            if content is None:
                self.cache.written.pop(path, None)
            else:
                self.cache.written[path] = content
        return Recorded(
            True,
            changes.reconciler,
            changes.summaries,
            changes.forget_runs,
            changes.drop_jobs,
            error=queued,
        )

    def _failed(
        self, report: CycleReport, summaries: dict[str, dict[str, Any]], exc: OvenError
    ) -> Recorded:
        self.cache.summary_keys.clear()  # work the summaries out again next time
        facts = dataclasses.replace(report.reconciler, error=exc, stalled=not exc.transient)
        self.cache.reconciler = reconciler_document(facts, report.now, self.cache.reconciler)
        return Recorded(False, self.cache.reconciler, summaries, error=exc)

    def _write_all_again(
        self, report: CycleReport, revision: str | None, exc: StatusRewritten
    ) -> Recorded:
        """The branch lost our commits: start over from what it holds and write everything."""
        try:
            on_branch = self.ledger.read()
        except OvenError as error:
            return self._failed(report, self.cache.summaries, error)
        ours = {path: data for path, data in self.cache.written.items() if path != LEASE_PATH}
        gone = [path for path, data in ours.items() if on_branch.get(path) != data]
        log.warning(
            "%s; %d of the %d status files this reconciler wrote are gone or changed there: "
            "writing the whole current status again",
            exc.message,
            len(gone),
            len(ours),
        )
        self.cache = StatusCache(
            written=dict(on_branch),
            summaries=self.cache.summaries,
            reconciler=self.cache.reconciler,
        )
        self.last_commit = None  # reconciler.yaml is written too
        every_run = tuple(record for runs in report.runs.values() for record in runs.values())
        again = dataclasses.replace(report, dirty=every_run, changed_jobs=None)
        return self._record(again, revision, rewritten=True)
