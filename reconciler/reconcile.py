"""One reconcile cycle as ordered steps: fetch, load, observe, settle, schedule, record.

``Reconciler.tick`` runs the steps in order and stops at the first failure, but status is
written in ``finally`` whatever happens, and containers are removed only after the status
commit that records their result went through. All adapter calls block; the daemon runs
``tick`` in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reconciler.book import RunBook
from reconciler.clock import Clock
from reconciler.dispatch import Dispatcher
from reconciler.errors import OvenError
from reconciler.interfaces import ConfigSource, Executor, Ledger, ObservedRun
from reconciler.launch import is_timed_out, outcome, timed_out_record, vanished_record
from reconciler.manifests import keep_last_good, load_tree
from reconciler.model import DesiredState
from reconciler.planner import format_plan, plan
from reconciler.recorder import Recorder
from reconciler.requests import RequestSpool
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.status import parse_status_tree

log = logging.getLogger("oven")


@dataclass
class Health:
    """The last error of each step (None when it last succeeded) and this cycle's warnings."""

    fetch: OvenError | None = None
    cycle: OvenError | None = None
    record: OvenError | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def error(self) -> OvenError | None:
        return self.record or self.cycle or self.fetch


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        *,
        source: ConfigSource,
        executor: Executor,
        ledger: Ledger,
        clock: Clock,
        secrets: SecretStore | None = None,
        spool: RequestSpool | None = None,
    ) -> None:
        self.settings = settings
        self.source, self.executor, self.clock = source, executor, clock
        self.book = RunBook()
        self.desired: DesiredState | None = None
        self.attempted_revision = ""
        self.applied_revision = ""
        self.health = Health()
        self.started_at = clock.now()
        self.dispatch = Dispatcher(
            self.book, executor, secrets or SecretStore({}), spool, settings.log_tail_lines
        )
        self.recorder = Recorder(self, ledger)

    # -- lifecycle --------------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuild the book from the status branch (containers are adopted by the first tick)."""
        files = self.recorder.ledger.read()
        tree = parse_status_tree(files)
        self.book.load(tree.runs.values())
        self.recorder.restore(tree, files)
        for record in tree.runs.values():
            self.book.note_scheduled(record)
        self.applied_revision = str(tree.reconciler.get("applied_revision") or "")
        log.info(
            "restored %d runs and %d jobs from the status branch", len(tree.runs), len(tree.jobs)
        )

    def tick(self, fetch: bool = False) -> datetime:
        """Run one cycle; return when the next one is due."""
        now = self.clock.now()
        self.health.warnings = []
        try:
            if fetch or self.desired is None:
                self.health.fetch = self._guarded(lambda: self._fetch_and_load(now))
            self.health.cycle = self._guarded(lambda: self._run_jobs(now))
        finally:
            self.recorder.record(now)
        return self._next_tick(now)

    # -- steps ------------------------------------------------------------------------------
    def _guarded(self, step: Callable[[], None]) -> OvenError | None:
        """Run a step; an OvenError is logged and returned, never raised (the loop goes on)."""
        try:
            step()
        except OvenError as exc:
            log.error("%s%s", exc.message, f" (hint: {exc.hint})" if exc.hint else "")
            return exc
        return None

    def _run_jobs(self, now: datetime) -> None:
        """Settle what containers did, then start what is due (on the last good jobs)."""
        observed = self.executor.observe()
        self._settle(observed, now)
        if self.desired is not None:
            self.dispatch.run(self.desired, now, self.health.warnings)

    def _fetch_and_load(self, now: datetime) -> None:
        revision = self.source.fetch()
        self.attempted_revision = revision
        if self.desired is not None and revision == self.desired.revision:
            return
        loaded = self._load(revision)
        desired = keep_last_good(loaded, self.desired or self._last_applied(revision))
        result = plan(self.desired, desired, now)
        if result.has_changes or self.desired is None:
            log.info("%s", format_plan(result))
        self.desired = desired
        if not loaded.problems:
            self.applied_revision = revision

    def _load(self, revision: str) -> DesiredState:
        return load_tree(self.source.files(revision), revision, self.settings.volume_allowlist)

    def _last_applied(self, revision: str) -> DesiredState | None:
        """After a restart: the last revision without problems, so broken files keep it."""
        if not self.applied_revision or self.applied_revision == revision:
            return None
        try:
            return self._load(self.applied_revision)
        except OvenError as exc:
            log.warning("cannot read the last applied revision: %s", exc.message)
            return None

    def _settle(self, observed: list[ObservedRun], now: datetime) -> None:
        """Record what containers did: finished, timed out, adopted after a restart, vanished."""
        seen = {o.run_id for o in observed}
        for container in observed:
            self._settle_one(container, now)
        for record in self.book.active():
            if record.run_id not in seen:
                log.warning("run %s: container vanished", record.run_id)
                self.book.put(vanished_record(record, now))

    def _settle_one(self, container: ObservedRun, now: datetime) -> None:
        record = self.book.runs.get(container.run_id)
        if record is None:
            log.info("run %s: adopting its container", container.run_id)
            record = self.book.adopt(container, now)
        job = self.desired.jobs.get(container.job_id) if self.desired else None
        if container.state == "running":
            if record.is_final:
                return
            if self.desired is not None and job is None:
                log.warning("run %s: its job left the config, stopping it", record.run_id)
                self.dispatch.cancel(
                    record, now, "JobRemoved", "the job was removed from the config"
                )
            elif is_timed_out(job, container, now):
                log.warning("run %s: timed out, killing its container", record.run_id)
                self.executor.stop(record.run_id)
                self.dispatch.finish(record, timed_out_record(record, job, now), job)
            self.recorder.removable.add(record.run_id)
            return
        if record.is_final:
            self.recorder.removable.add(record.run_id)
            return
        status, error = outcome(job, container)
        finished = record.with_changes(
            status=status,
            error=error,
            exit_code=container.exit_code,
            started_at=container.started_at or record.started_at,
            finished_at=container.finished_at or now,
        )
        self.dispatch.finish(record, finished, job)
        self.recorder.removable.add(record.run_id)

    def _next_tick(self, now: datetime) -> datetime:
        wakeups = [t for t in self.dispatch.wakeups if t > now]
        soonest = min(wakeups, default=now + timedelta(seconds=self.settings.interval))
        return min(soonest, now + timedelta(seconds=self.settings.tick))
