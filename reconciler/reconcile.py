"""One reconcile cycle: explicit lists of steps, each list stopping at its first failure.

    lead    lease -> restore                 every tick: only the lease holder goes past sync
    sync    fetch -> load                    when a fetch is due (every --interval, on a change)
    cycle   observe -> settle -> schedule    every tick
    record                                   every tick: the report of the above, one commit
    remove                                   containers whose result that commit holds

A failed fetch leaves the jobs running on the last good revision (the cycle group still runs);
a failed cycle or fetch is still recorded, so ``status/reconciler.yaml`` says what went wrong.
A failing group backs off (``backoff.Backoff``: doubling gaps with deterministic jitter,
capped at the fetch interval) and the log says when it tries next; a non-transient error
(``OvenError.transient`` False) sets ``Stalled=True``. Any other exception is a bug, and it is
contained where it happens (``incidents.Incidents``): in a step it fails that step's group as an
``UnexpectedError`` (backed off like any failure); in one job, one request or one container it
fails only that one. Containers are removed only after the
status commit that records their result went through, and the book forgets pruned runs only
then. All adapter calls block; the daemon runs ``tick`` in a worker thread.

With a lease store (``--lease-seconds``, ``leadership.py``), a daemon that does not hold the
lease is a standby: it fetches and validates, shows the leader's status files on its page,
and observes, starts, stops and records nothing. On taking the lease it reads its book again
from the status branch (``restore``), since the leader wrote more since. A tick can outlast the
lease, so right before it hands new starts to the engine and before it records, the leader
checks its lease again by the clock at that moment (``Leadership.confirm``, a fence); when
it no longer holds it, it stands by there and drops its unrecorded report: the daemon that
leads now adopts its containers by instance label and records their runs. The ledger refuses
a status write on a tip whose lease names another daemon (``LeaseLost``) the same way.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler import __version__
from reconciler.backoff import Backoff
from reconciler.book import RunBook
from reconciler.clock import Clock, iso
from reconciler.dispatch import Dispatcher, clamped
from reconciler.errors import LeaseLost, OvenError
from reconciler.history import HYDRATE_BUDGET, RunHistory
from reconciler.incidents import Incidents
from reconciler.interfaces import (
    ConfigSource,
    Executor,
    LeaseStore,
    Ledger,
    ObservedRun,
    Workspaces,
)
from reconciler.leadership import Leadership, standby_view, this_process
from reconciler.manifests import load_tree
from reconciler.manifests.cache import ParseCache
from reconciler.model import DesiredState, Problem, optional_time
from reconciler.outcomes import outcome, timed_out_record, vanished_record
from reconciler.pipeline_runs import PipelineRuns
from reconciler.planner import apply_revision, format_plan
from reconciler.recorder import Recorded, Recorder
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.settle import Action, classify, vanished
from reconciler.spool import RequestSpool
from reconciler.status.changes import (
    CycleReport,
    JobFacts,
    ReconcilerFacts,
    reconciler_document,
)
from reconciler.status.view import Snapshot, SnapshotBox, SnapshotBuilder

log = logging.getLogger("oven")

SAVE_AFTER_PARSED = 100  # files parsed since the manifest cache was last saved that save it
BACKOFF_BASE = 1.0  # seconds before the first retry of a failed group; doubles from there
STEPS = (  # every place an unexpected error is counted (/metrics)
    *("lease", "restore", "fetch", "load", "observe", "settle", "schedule"),
    *("record", "remove", "tick"),
)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[datetime], None]


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
        workspaces: Workspaces | None = None,
        leases: LeaseStore | None = None,
    ) -> None:
        self.settings = settings
        self.source, self.executor, self.ledger, self.clock = source, executor, ledger, clock
        self.book = RunBook()
        self.desired: DesiredState | None = None
        self.attempted_revision = ""
        self.applied_revision = ""
        self.shown = False  # a snapshot with the jobs of a cycle has been published
        self.started_at = clock.now()
        secrets = secrets or SecretStore({})
        self.incidents = Incidents(STEPS)
        self.pipelines = PipelineRuns(executor, workspaces, secrets, settings.runner_image)
        self.dispatch = Dispatcher(
            self.book,
            executor,
            secrets,
            spool,
            settings.log_tail_lines,
            self.pipelines,
            log_wait=settings.log_wait,
            incidents=self.incidents,
            start_concurrency=settings.start_concurrency,
            wake_delay=settings.wake_delay,
            start_wait=settings.start_wait,
        )
        self.recorder = Recorder(ledger, settings.heartbeat)
        self.snapshots = SnapshotBox()
        # parsed manifests by blob id, on disk so a restart parses only what changed since
        self.parse_cache = ParseCache(settings.state_dir / "manifest-cache")
        self._parsed_at_save: int | None = None  # cache.misses at the last save; None: none
        self.backoff = {name: Backoff(name) for name in ("sync", "lead", "cycle", "record")}
        self.leadership = (
            Leadership(
                leases,
                this_process(settings.instance),
                settings.lease_seconds,
                state_dir=settings.state_dir,
            )
            if leases is not None and settings.lease_seconds > 0
            else None
        )
        if self.leadership is not None and leases is not None:
            leases.fence(self.leadership.me.token)  # status writes only under our own lease
        self.leading = self.leadership is None  # without a lease this daemon always leads
        self.restored = False  # the book was read from the status branch since taking the lead
        self._standby_read: datetime | None = None
        self.removable: set[str] = set()  # containers to remove once their result is committed
        self._removals: dict[str, Future[None]] = {}  # removals under way (worker threads)
        self._remover: ThreadPoolExecutor | None = None
        self.warnings: list[str] = []
        self.warning_sources: list[Callable[[], list[str]]] = []  # e.g. dead notify targets
        self.restore_listeners: list[Callable[[], None]] = []  # after each restore
        self.load_listeners: list[Callable[[DesiredState], None]] = []  # leading or not
        self._logged_problems: set[Problem] = set()  # the problems of the last loaded revision
        self._observed: list[ObservedRun] = []
        self.history = RunHistory(ledger, settings.keep_runs)
        self._views = SnapshotBuilder(self.history)
        # the report is kept between cycles and only changed jobs are worked out again
        self._facts: dict[str, JobFacts] = {}
        self._facts_of: tuple[object, object] | None = None  # (book, job mapping) of _facts
        self._unrecorded: set[str] | None = None  # jobs changed since the last record; None: all
        self._shown: set[str] | None = None  # jobs changed since the last snapshot; None: all
        self._published: Snapshot | None = None  # the last snapshot this cycle built
        self.sync_steps = (Step("fetch", self._fetch), Step("load", self._load_revision))
        self.lead_steps = (Step("lease", self._lease), Step("restore", self._restore))
        self.cycle_steps = (
            Step("observe", self._observe),
            Step("settle", self._settle),
            Step("schedule", self._schedule),
        )

    @property
    def snapshot(self) -> Snapshot:
        """The read model as of the last cycle."""
        return self.snapshots.get()

    # -- lifecycle --------------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuild the book from the status branch (containers are adopted by the first tick):
        the job summaries and the runs scheduling needs now; the rest when needed
        (``history.RunHistory``)."""
        tree, files = self.history.start()
        self.book.load(tree.runs.values())
        self.recorder.restore(tree, files)
        for job_id, summary in tree.jobs.items():
            track = self.book.track(
                job_id, optional_time(summary.get("created_at")) or self.clock.now()
            )
            track.last_scheduled = optional_time(summary.get("last_scheduled"))
            track.missed_total = int(summary.get("missed_total") or 0)
        for record in tree.runs.values():
            self.book.note_scheduled(record)
        self.snapshots.publish(
            self._views.update(tree.reconciler, tree.jobs, self.book.by_job(), self.book.changes)
        )
        self.applied_revision = str(tree.reconciler.get("applied_revision") or "")
        self.restored = True
        for unreadable in tree.unreadable:
            log.warning("status branch: skipped %s", unreadable)
        for listener in self.restore_listeners:
            try:
                listener()
            except Exception:  # notifications never stop a start
                log.exception("a restore listener failed")
        log.info(
            "restored %d jobs and %d of their runs from the status branch; older runs are "
            "read when needed", len(tree.jobs), len(tree.runs),
        )

    def tick(self, fetch: bool = False) -> datetime:
        """Run one cycle; return when the next one is due."""
        now = self.clock.now()
        self.warnings = [line for source in self.warning_sources for line in source()]
        self._run("lead", self.lead_steps, now)  # first: a restore precedes the first load
        if fetch or self.desired is None or self.backoff["sync"].failures:
            self._run("sync", self.sync_steps, now)
        if not (self.leading and self.restored):
            self._stand_by(now)
            return self._next_tick(now)
        self._run("cycle", self.cycle_steps, now)
        if not self._fence():
            self._stand_by(now)
            return self._next_tick(now)
        recorded = self._record(now)
        if isinstance(recorded.error, LeaseLost):
            self._lost_lease(recorded.error.message)
            self._stand_by(now)
        elif recorded.error is None:
            self._remove_recorded_containers()
        return self._next_tick(now)

    def ready(self) -> bool:
        """For ``/readyz``: the config is loaded, no group is failing, no recent bug."""
        now = self.clock.now()
        return self.shown and self.desired is not None and self._reported_error(now) is None

    @property
    def error(self) -> OvenError | None:
        """What the reconciler reports: a stalled group first, then record, cycle, sync."""
        failing = [self.backoff[name] for name in ("record", "cycle", "lead", "sync")]
        failing = [b for b in failing if b.error is not None]
        stalled = [b for b in failing if b.stalled]
        first = next(iter(stalled or failing), None)
        return first.error if first else None

    # -- running steps ----------------------------------------------------------------------
    def _run(self, group: str, steps: tuple[Step, ...], now: datetime) -> None:
        """Run ``steps`` in order, stopping at the first failure; skip while backing off."""
        state = self.backoff[group]
        if not state.ready(now):
            return
        for step in steps:
            try:
                step.run(now)
            except OvenError as exc:
                self._failed(group, step.name, exc, now)
                return
            except Exception as exc:  # a bug: contained, counted, backed off like any failure
                error = self.incidents.contain(step.name, exc, now, hold=False)
                self._failed(group, step.name, error, now)
                return
        if state.failures:
            log.info("%s: recovered after %d failed attempt(s)", group, state.failures)
        self.backoff[group] = state.succeeded()

    def _failed(self, group: str, step: str, exc: OvenError, now: datetime) -> None:
        state = self.backoff[group].failed(
            exc, now, base=BACKOFF_BASE, cap=max(self.settings.interval, BACKOFF_BASE)
        )
        self.backoff[group] = state
        wait = (state.next_try - now).total_seconds() if state.next_try else 0.0
        log.error(
            "%s failed: %s%s; %snext try in %.0fs (%s, attempt %d)",
            step,
            exc.message,
            f" (hint: {exc.hint})" if exc.hint else "",
            "this needs a person (Stalled); " if state.stalled else "",
            wait,
            iso(state.next_try),
            state.failures + 1,
        )

    # -- sync: fetch and load ---------------------------------------------------------------
    def _fetch(self, now: datetime) -> None:
        self.attempted_revision = self.source.fetch()

    def _load_revision(self, now: datetime) -> None:
        revision = self.attempted_revision
        if self.desired is not None and revision == self.desired.revision:
            return
        loaded = self._load(revision)
        base = self.desired or self._last_applied(revision, loaded)
        desired, result = apply_revision(base, loaded, now)
        if base is None or base.revision != revision:  # not after a restart on the same one
            text = format_plan(result, problems=False)
            still = [p for p in loaded.problems if p in self._logged_problems]
            if still:
                text += f"\n{len(still)} problem(s) logged before still open"
            log.info("%s", text)
        self._log_new_problems(loaded.problems, revision)
        self.desired = desired
        for listener in self.load_listeners:
            listener(desired)
        if not loaded.problems:
            self.applied_revision = revision

    def _log_new_problems(self, problems: tuple[Problem, ...], revision: str) -> None:
        """Each problem once, as ``FILE:LINE: FIELD: message``, when a revision brings it."""
        for problem in problems:
            if problem not in self._logged_problems:
                log.warning("revision %s: %s", revision[:12], problem)
        self._logged_problems = set(problems)

    def _load(self, revision: str) -> DesiredState:
        cache = self.parse_cache
        loaded = load_tree(
            self.source.files(revision), revision, self.settings.volume_allowlist, cache
        )
        parsed = cache.misses - (self._parsed_at_save or 0)
        if parsed and (self._parsed_at_save is None or parsed >= SAVE_AFTER_PARSED):
            cache.save()  # after the first load, then after big changes: a restart starts warm
            self._parsed_at_save = cache.misses
        return loaded

    def _last_applied(self, revision: str, loaded: DesiredState) -> DesiredState | None:
        """After a restart: the revision the status branch says is applied, as the base of the
        first plan (so only what changed since is logged) and for the last-good rule."""
        if not self.applied_revision:
            return None
        if self.applied_revision == revision:
            return loaded
        try:
            return self._load(self.applied_revision)
        except Exception as exc:  # a revision recorded by an old run may be gone or garbage
            log.warning("cannot read the last applied revision: %s", exc)
            return None

    # -- lead: the lease, and the book as the status branch has it ----------------------------
    def _lease(self, now: datetime) -> None:
        if self.leadership is not None:
            self.leading = False  # unless the lease step says so
            self.leading = self.leadership.step(now)
        if not self.leading:
            self.restored = False  # the leader writes on: read the book again on taking over

    def _restore(self, now: datetime) -> None:
        if self.restored or not self.leading:
            return
        self.dispatch.forget_starts()  # the status branch is newer than what they would book
        self.book = self.dispatch.book = RunBook()
        self._views = SnapshotBuilder(self.history)
        self.removable.clear()
        self.restore()

    def _fence(self) -> bool:
        """Right before new starts and the status write: whether this daemon still leads, by
        the clock now, not at the tick's start (``Leadership.confirm``). When it does not, it
        stands by: the rest of the tick starts and writes nothing, and the book, with what
        this tick did not record, is read again from the status branch before it leads again
        (``_restore``); the runs it started are adopted by whoever leads by then."""
        if self.leadership is None or self.leadership.confirm(self.clock.now()):
            return True
        self.leading = self.restored = False
        return False

    def _lost_lease(self, message: str) -> None:
        """The ledger refused the write: another daemon holds the lease (``LeaseLost``)."""
        if self.leadership is not None:
            self.leadership.lost(self.clock.now(), message)
        self.leading = self.restored = False

    def _stand_by(self, now: datetime) -> None:
        """Not leading: show the leader's status files (read at most every interval)."""
        leadership = self.leadership
        if leadership is None or leadership.holder in (None, leadership.me):
            # no other daemon to wait for: the lease or the status branch cannot be read yet
            preview = self.recorder.preview(self._report(now))
            self.snapshots.publish(self._views.build(preview.reconciler, preview.summaries, ()))
            return
        due = self._standby_read is None or (now - self._standby_read).total_seconds() >= (
            self.settings.interval
        )
        files = None
        if due:
            self._standby_read = now
            try:
                files = self.ledger.read()
            except OvenError as exc:
                log.warning("standby: cannot read the status branch: %s", exc.message)
        self.snapshots.publish(standby_view(self.snapshot, files, leadership, self.error))

    # -- cycle: observe, settle, schedule ---------------------------------------------------
    def _observe(self, now: datetime) -> None:
        self._observed = self.executor.observe()

    def _settle(self, now: datetime) -> None:
        """Record what containers did: finished, timed out, adopted after a restart, vanished."""
        for container in self._observed:
            if self.dispatch.starting(container.run_id):
                continue  # its start is not booked yet: the schedule step books it
            try:
                self._settle_one(container, now)
            except OvenError:
                raise  # the engine's errors concern every container: the step fails
            except Exception as exc:  # one container's bug does not keep the others unsettled
                self.incidents.contain("settle", exc, now, where=f"run {container.run_id}")
        for record in vanished(self.book.active(), self._observed):
            log.warning("run %s: container vanished", record.run_id)
            self.book.put(clamped(vanished_record(record, now)))

    def _settle_one(self, container: ObservedRun, now: datetime) -> None:
        record = self.book.runs.get(container.run_id)
        job = self.desired.jobs.get(container.job_id) if self.desired else None
        settlement = classify(
            record, container, job, config_loaded=self.desired is not None, now=now
        )
        if record is None:
            log.info("run %s: adopting its container", container.run_id)
            record = self.book.adopt(container, now)
        action = settlement.action
        if action is Action.KEEP:
            self.dispatch.follow(record, job, now)  # live stages of an agent pipeline
        elif action is Action.STOP_REMOVED:
            log.warning("run %s: its job left the config, stopping it", record.run_id)
            self.dispatch.cancel(record, now, "JobRemoved", "the job was removed from the config")
        elif action is Action.TIME_OUT:
            log.warning("run %s: timed out, killing its container", record.run_id)
            self.executor.stop(record.run_id)
            self.dispatch.finish(record, timed_out_record(record, job, now), job)
        elif action is Action.FINISH:
            status, error = outcome(job, container)
            finished = record.with_changes(
                status=status,
                error=error,
                exit_code=container.exit_code,
                started_at=container.started_at or record.started_at,
                finished_at=container.finished_at or now,
            )
            self.dispatch.finish(record, finished, job)
        if settlement.removable:
            self.removable.add(record.run_id)

    def _schedule(self, now: datetime) -> None:
        if self.desired is not None and self._fence():
            spool = self.dispatch.spool  # requests are idempotent over the job's known runs
            if spool is not None:
                self.history.hydrate(self.book, [r.job_id for r in spool.pending()], None)
            self.dispatch.run(self.desired, now, self.warnings)

    # -- record and remove ------------------------------------------------------------------
    def _record(self, now: datetime) -> Recorded:
        """Commit this cycle's report, then publish the read model; a bug fails the step."""
        try:
            changed = {self.book.runs[run_id].job_id for run_id in self.book.dirty}
            self.history.hydrate(self.book, sorted(changed), HYDRATE_BUDGET)
            recorded = self._commit_report(now)
        except Exception as exc:  # never an OvenError: the recorder answers those in Recorded
            error = self.incidents.contain("record", exc, now, hold=False)
            self._failed("record", "record", error, now)
            facts = ReconcilerFacts(
                self.applied_revision or None, self.attempted_revision or None, error=error
            )
            status = reconciler_document(facts, now, None)
            recorded = Recorded(False, status, dict(self.recorder.cache.summaries), error=error)
        self._publish(recorded)
        self.shown = True  # the pages show the jobs: /readyz may say ready
        return recorded

    def _publish(self, recorded: Recorded) -> None:
        """Publish the read model. When no job or run changed since the last version, only its
        reconciler status and counters are new (a quiet tick with 10k jobs copies nothing);
        otherwise the builder looks at the jobs whose runs changed (``book.changes``)."""
        errors = self.incidents.counts()
        last = self.snapshots.get()
        if self._shown is not None and not self._shown and last is self._published:
            snapshot = dataclasses.replace(  # a new, empty memo: health and pages are new
                last,
                reconciler=dict(recorded.reconciler),
                unexpected_errors=dict(errors),
            )
        else:
            snapshot = self._views.update(
                recorded.reconciler,
                recorded.summaries,
                self.book.by_job(),
                self.book.changes,
                unexpected_errors=errors,
            )
        self._shown = set()
        self._published = snapshot
        self.snapshots.publish(snapshot)

    def _commit_report(self, now: datetime) -> Recorded:
        """Commit this cycle's report; only then may the book forget what it pruned."""
        report = self._report(now)
        state = self.backoff["record"]
        if not state.ready(now):
            recorded = self.recorder.preview(report)
        else:
            recorded = self.recorder.record(report, self.attempted_revision or None)
            if isinstance(recorded.error, LeaseLost):
                pass  # not a failure to retry: this daemon stands by (``tick``)
            elif recorded.error is not None:
                self._failed("record", "record", recorded.error, now)
            else:
                self.backoff["record"] = state.succeeded()
        if recorded.error is None and state.ready(now):
            self._unrecorded = set()  # every summary is worked out as of this report
        if recorded.committed:
            self.book.committed({record.run_id for record in report.dirty})
            for run_id in recorded.forget_runs:
                self.book.forget(run_id)
            self.history.pruned(recorded.forget_runs)
            for job_id in recorded.drop_jobs:
                self.book.drop_job(job_id)
        return recorded

    def _report(self, now: datetime) -> CycleReport:
        book, desired = self.book, self.desired
        jobs = desired.jobs if desired else {}
        error = self._reported_error(now)
        changed = book.take_changed_jobs()
        if self._facts_of != (book, jobs):  # a new book or revision: every job afresh
            self._facts_of = (book, jobs)
            self._facts.clear()
            changed = set(book.tracks)
            self._unrecorded = self._shown = None
        elif self._unrecorded is not None:
            self._unrecorded |= changed
        if self._shown is not None:
            self._shown |= changed
        for job_id in changed:
            track = book.tracks.get(job_id)
            if track is None:
                self._facts.pop(job_id, None)
                continue
            self._facts[job_id] = JobFacts(
                job=jobs.get(job_id),
                created_at=track.created_at,
                last_scheduled=track.last_scheduled,
                missed_total=track.missed_total,
                next_run=track.next_run,
                reason=track.reason,
                active=tuple(r.run_id for r in book.active(job_id)),
                changes=book.changes.get(job_id, 0),
            )
        facts = dict(self._facts)
        unrecorded = self._unrecorded
        return CycleReport(
            now=now,
            reconciler=ReconcilerFacts(
                applied_revision=self.applied_revision or None,
                attempted_revision=self.attempted_revision or None,
                problems=desired.problems if desired else (),
                error=error,
                stalled=error is not None and not error.transient,
                started_at=self.started_at,
                version=__version__,
                jobs=len(jobs),
                next_wakeup=self.dispatch.next_wakeup(),
                instance=self.settings.instance,
                warnings=tuple(self.warnings),
                active_runs=len(book.active()),
            ),
            jobs=facts,
            runs=book.by_job(),
            dirty=tuple(book.runs[run_id] for run_id in sorted(book.dirty)),
            pinned=frozenset(self.removable),
            config_loaded=desired is not None,
            keep_runs=self.settings.keep_runs,
            stale=dict(self.history.stale),
            partial=frozenset(job for job in book.tracks if job not in self.history.loaded),
            changed_jobs=frozenset(unrecorded) if unrecorded is not None else None,
        )

    def _reported_error(self, now: datetime) -> OvenError | None:
        """A failing group's error, else a bug contained in one job or request lately."""
        return self.error or self.incidents.recent(now)

    def _remove_recorded_containers(self) -> None:
        """Remove, on worker threads, the containers whose result is committed; wait for them
        at most ``settings.remove_wait`` seconds (a removal still going is taken up next tick)."""
        book = self.book
        for run_id in sorted(self.removable):
            record = book.runs.get(run_id)
            if record is not None and (not record.is_final or run_id in book.dirty):
                continue  # its result is not committed yet
            if run_id not in self._removals:
                if self._remover is None:
                    self._remover = ThreadPoolExecutor(4, thread_name_prefix="oven-remove")
                self._removals[run_id] = self._remover.submit(self.executor.remove, run_id)
        if self._removals:
            wait(list(self._removals.values()), timeout=self.settings.remove_wait)
        for run_id, removal in list(self._removals.items()):
            if not removal.done():
                continue
            del self._removals[run_id]
            try:
                removal.result()
            except OvenError as exc:
                log.warning("run %s: cannot remove container: %s", run_id, exc)
                continue
            except Exception as exc:
                self.incidents.contain("remove", exc, self.clock.now(), where=f"run {run_id}")
                continue
            self.removable.discard(run_id)
            self.pipelines.discard(run_id)
        if self.backoff["cycle"].failures:
            return  # without a fresh look at the containers, no checkout counts as left over
        in_use = {record.run_id for record in book.active()} | self.removable | set(self._removals)
        in_use |= {container.run_id for container in self._observed}
        in_use |= self.dispatch.starting_runs()  # a checkout its container is about to use
        for run_id in self.pipelines.leftovers(in_use):
            log.info("run %s: removing its checkout (the run is over)", run_id)
            self.pipelines.discard(run_id)

    def _next_tick(self, now: datetime) -> datetime:
        soonest = self.dispatch.next_wakeup() or now + timedelta(seconds=self.settings.interval)
        return min(soonest, now + timedelta(seconds=self.settings.tick))
