"""The schedule step: ask ``decide`` about every job, then start, stop and retry runs.

Also where a run ends: its log is saved (redacted), the tail goes into the run record, and a
failed attempt gets the time of its retry. Every start goes through ``_launch``, which derives
nothing itself: run ids come from ``runids``, decisions from ``decide``.

Saving a log streams the container's whole output and may take seconds (a run that printed
100 MB), so it happens on a worker thread, off the tick: ``finish`` waits for it at most
``log_wait`` seconds. A save still going keeps the run ``running`` in the book (so its
container is neither recorded nor removed); a later tick's ``finish`` of the same run picks
the result up, with the final record the first ``finish`` built (a cancel stays a cancel).
One job, one retry or one request that raises never stops the others: a launch that raises
ends as a failed run carrying the error, anything else becomes a warning in
``status/reconciler.yaml`` (a request is rejected: moved to ``requests/rejected/``). Only
``EngineUnavailable`` fails the whole step, since then nothing can start. Exceptions that are
not ``OvenError`` are bugs: they are counted and logged once by ``incidents.Incidents``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from reconciler.book import RunBook
from reconciler.decide import WAKE_DELAY, decide, retry_delay
from reconciler.duejobs import DueJobs
from reconciler.errors import (
    EngineUnavailable,
    ExecutorError,
    OvenError,
    RunAlreadyExists,
    VolumeRefused,
)
from reconciler.incidents import Incidents
from reconciler.interfaces import Executor, FollowsLogs, ObservedRun, RunRequest
from reconciler.model import DesiredState, ErrorInfo, JobSpec, RunRecord, Trigger
from reconciler.pipeline_runs import PipelineRuns
from reconciler.run_request import NotRunnable, build_request
from reconciler.runids import manual_run_id, retry_run_id, scheduled_run_id
from reconciler.schedule import fires_between, next_fire
from reconciler.secrets import MissingSecret, SecretStore, SecretTooShort
from reconciler.spool import RequestSpool, RunRequestFile
from reconciler.startqueue import StartQueue

log = logging.getLogger("oven")

TAIL_MAX_BYTES = 16 * 1024  # of the saved log, for the run record's log_tail
START_CONCURRENCY = 16  # engine starts at once (``--start-concurrency``)


@dataclass(frozen=True)
class _Start:
    """A run decided and prepared in this step, its container not started yet."""

    record: RunRecord
    job: JobSpec
    request: RunRequest


@dataclass(frozen=True)
class _Saving:
    """A log being saved on the worker thread, and the final record waiting for it."""

    future: Future[Path]
    after: RunRecord


class Dispatcher:
    def __init__(
        self,
        book: RunBook,
        executor: Executor,
        secrets: SecretStore,
        spool: RequestSpool | None,
        tail_lines: int = 40,
        pipelines: PipelineRuns | None = None,
        log_wait: float | None = None,
        *,
        incidents: Incidents | None = None,
        start_concurrency: int = START_CONCURRENCY,
        wake_delay: float | None = None,
        start_wait: float | None = None,
    ) -> None:
        """``log_wait``: seconds ``finish`` waits for a log save (None: until it is done);
        ``start_concurrency``: containers started at once; ``wake_delay``: seconds after a
        fire time a job is decided again (None: ``decide.WAKE_DELAY``); ``start_wait``:
        seconds a tick waits for the starts it asked for (None: until they are done; the
        others are booked by a later tick, see ``on_started``)."""
        self.book, self.executor, self.secrets, self.spool = book, executor, secrets, spool
        self.tail_lines = tail_lines
        self.pipelines = pipelines or PipelineRuns(executor, None, secrets)
        self.log_wait = log_wait
        self._saver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="oven-logs")
        self._saving: dict[str, _Saving] = {}
        self.incidents = incidents or Incidents()
        self.secret_names: set[str] = set()
        self.revision = ""
        self._published = ""  # the revision whose job ids the spool knows
        self.start_concurrency = max(1, start_concurrency)
        self.start_wait = start_wait
        # starts asked for and not booked yet; they outlive the tick (module docstring)
        self._starts: StartQueue[_Start, ObservedRun] = StartQueue(self.start_concurrency)
        self._pending: dict[str, _Start] = {}  # run id -> decided, not handed to the queue yet
        self._starting: dict[str, int] = {}  # job id -> its runs pending or in the queue
        self._awaiting: dict[str, RunRequestFile] = {}  # run id -> its keyed manual request
        # job id -> (last scheduled, missed) of a decision with starts, applied to the job's
        # track once all its starts are booked: the status branch never says a fire time was
        # accounted for while its container may not exist yet (a crash would lose the run)
        self._deferred: dict[str, tuple[datetime | None, int]] = {}
        # a job is decided again once the clock reaches its next fire time; the loop wakes
        # ``wake_delay`` after it
        self.wake_delay = timedelta(seconds=wake_delay) if wake_delay is not None else WAKE_DELAY
        self._due: DueJobs[JobSpec] = DueJobs()  # which jobs need a decision (quiet ticks)
        self._due_book: RunBook | None = None  # the book the due times were worked out on
        self._named: object = None  # the job mapping whose secret names were taken
        self._job_warnings: dict[str, tuple[str, ...]] = {}  # each job's last decision's
        self._followed: set[str] = set()  # runs whose live log this process asked for

    @property
    def on_started(self) -> Callable[[], object] | None:
        """Called (on a worker thread) when a start ends: the daemon wakes to book it."""
        return self._starts.on_done

    @on_started.setter
    def on_started(self, callback: Callable[[], object] | None) -> None:
        self._starts.on_done = callback

    def forget_starts(self) -> None:
        """Forget the starts not booked yet, for a book read again from the status branch (a
        daemon that stood by leads again): whoever led meanwhile adopted their containers and
        recorded them, so they are never booked from here; one still under way ends on its
        worker thread, uncollected, and the next observe sees its container."""
        self._starts = StartQueue(self.start_concurrency, self._starts.on_done)
        self._pending.clear()
        self._starting.clear()
        self._deferred.clear()

    def starting(self, run_id: str) -> bool:
        """The run's start was decided and is not booked yet (its container may exist)."""
        return run_id in self._pending or run_id in self._starts

    def starting_runs(self) -> set[str]:
        """The run ids whose start is decided and not booked yet."""
        return set(self._pending) | {start.record.run_id for start in self._starts.items()}

    @property
    def wakeups(self) -> list[datetime]:
        """When each job wants to be decided again."""
        return [when + self.wake_delay for when in self._due.wakeups()]

    def next_wakeup(self) -> datetime | None:
        """The soonest time a job wants to be decided again (its fire time + ``wake_delay``)."""
        soonest = self._due.next_wakeup()
        return soonest + self.wake_delay if soonest is not None else None

    def run(self, desired: DesiredState, now: datetime, warnings: list[str]) -> None:
        """Book the starts that ended since the last tick; decide the jobs that are due or
        changed (not those with a start still going), retries next, then requests (each
        request's starts before it is marked done); hand the new starts to the queue and
        book those that end within ``start_wait``."""
        self.revision = desired.revision
        if self._named is not desired.jobs:
            # names only grow: a run may outlive the revision that named its secrets
            self.secret_names |= {
                name for job in desired.jobs.values() for name in PipelineRuns.secret_names(job)
            }
            self._named = desired.jobs
        self._publish_jobs(desired)
        if self._due_book is not self.book:  # a new book (restore): decide everything again
            self._due.reset()
            self._due_book = self.book
        try:
            self._book_started(self._starts.collect(0.0), now, warnings)
            self._decide_due(desired, now, warnings)
            self._retries(desired, now, warnings)
            self._requests(desired, now, warnings)
        except EngineUnavailable:
            for start in self._pending.values():  # decided, never tried: decide them again
                self._decide_again(start.job.id)
                self._started_one(start.job.id)
            self._pending = {}
            raise
        self._start_pending(now, warnings, self.start_wait)
        self._requests_booked()

    def _requests_booked(self) -> None:
        """Keyed manual requests whose run is booked by now are done (not a tick later)."""
        if self.spool is None:
            return
        for run_id, request in list(self._awaiting.items()):
            if run_id in self.book.runs or not request.path.exists():
                del self._awaiting[run_id]
                self.spool.done(request)

    def _decide_due(self, desired: DesiredState, now: datetime, warnings: list[str]) -> None:
        """``decide`` for the jobs that are due or changed; the others keep their decision."""
        due = self._due.due(desired.jobs, now, self.book.take_touched())
        for n, job_id in enumerate(due):
            job = desired.jobs[job_id]
            if job_id in self._starting and job.policy.concurrency != "allow":
                # its starts are not booked: forbid would not see them, replace could stop a
                # run not booked yet; booking them brings the decision back
                self._due.undecided(job_id)
                continue
            schedule = partial(self._schedule, job, now)
            try:
                error = self._contained(f"job {job.id}", now, warnings, schedule)
            except BaseException:
                for undecided in due[n:]:
                    self._due.undecided(undecided)
                raise
            if error is not None:
                self._due.undecided(job_id)
        for job_id, job_warnings in list(self._job_warnings.items()):
            if job_id in desired.jobs:
                warnings.extend(job_warnings)
            else:
                del self._job_warnings[job_id]

    def _contained(
        self, where: str, now: datetime, warnings: list[str], action: Callable[[], object]
    ) -> OvenError | None:
        """Run ``action`` for one job or request; what it raises becomes a warning."""
        try:
            action()
            return None
        except EngineUnavailable:
            raise  # nothing can start: the step fails and backs off
        except OvenError as exc:
            log.error("%s: %s", where, exc.message)
            warnings.append(f"{where}: {exc.message}")
            return exc
        except Exception as exc:
            error = self.incidents.contain("schedule", exc, now, where=where)
            warnings.append(error.message)
            return error

    def _publish_jobs(self, desired: DesiredState) -> None:
        """Tell ``oven trigger`` (through the spool) which job ids the daemon knows."""
        if self.spool is None or self._published == desired.revision:
            return
        try:
            self.spool.publish_jobs(sorted(desired.jobs), desired.revision)
            self._published = desired.revision
        except OSError as exc:
            log.warning("cannot write the list of known jobs for oven trigger: %s", exc)

    # -- scheduled runs ---------------------------------------------------------------------
    def _schedule(self, job: JobSpec, now: datetime) -> None:
        track = self.book.track(job.id, now)
        active = self.book.active(job.id)
        last = track.last_scheduled
        deferred = self._deferred.get(job.id)
        if (
            deferred is not None
            and deferred[0] is not None
            and (last is None or deferred[0] > last)
        ):
            last = deferred[0]  # an allow job decided again while its starts are going
        decision = decide(job, last, track.created_at, len(active), now)
        if decision.stop_active:
            for record in active:
                self.cancel(record, now, "ReplacedByNewerRun", "concurrency is replace")
        for nominal in decision.starts:
            self._launch(job, scheduled_run_id(job.id, nominal), "schedule", now, nominal)
        if job.id in self._starting:  # accounted for once its starts are booked
            missed = decision.missed + (deferred[1] if deferred is not None else 0)
            self._deferred[job.id] = (decision.record_until, missed)
        else:
            track.last_scheduled = decision.record_until
            track.missed_total += decision.missed
        track.next_run = next_fire(job.schedule, now) if job.enabled else None
        track.reason = decision.reason
        if decision.warnings:
            self._job_warnings[job.id] = tuple(f"{job.id}: {w}" for w in decision.warnings)
        else:
            self._job_warnings.pop(job.id, None)
        wake = decision.next_wakeup
        self._due.decided(job.id, job, wake - WAKE_DELAY if wake is not None else None)
        self.book.track_changed(job.id)

    def _retries(self, desired: DesiredState, now: datetime, warnings: list[str]) -> None:
        for failed in self.book.due_retries(now):
            job = desired.jobs.get(failed.job_id)
            if job is None or not job.enabled:
                self.book.put(failed.with_changes(next_retry_at=None))  # dropped with its job
                continue
            self._contained(
                f"retry of {failed.run_id}", now, warnings, partial(self._retry, job, failed, now)
            )

    def _retry(self, job: JobSpec, failed: RunRecord, now: datetime) -> None:
        if self._blocked(job):
            return
        root = failed.retry_of or failed.run_id
        attempt = failed.attempt + 1
        self._launch(
            job,
            retry_run_id(root, attempt),
            "retry",
            now,
            failed.scheduled_for,
            attempt=attempt,
            retry_of=root,
        )

    def _requests(self, desired: DesiredState, now: datetime, warnings: list[str]) -> None:
        if self.spool is None:
            return
        spool = self.spool
        for request in spool.pending():
            if request.kind in ("cancel", "retry"):
                self._act_on_run(spool, request, desired, now, warnings)
                continue
            job = desired.jobs.get(request.job_id)
            if job is None:
                reason = f"no job {request.job_id!r} in the config (revision {desired.revision})"
                warnings.append(f"request {request.path.name} rejected: {reason}")
                spool.reject(request.path, reason)
                continue
            take = partial(self._take, spool, request, job, now)
            error = self._contained(f"request {request.path.name}", now, warnings, take)
            if error is not None:
                spool.reject(request.path, error.message)  # never retried: it would fail again

    def _take(
        self, spool: RequestSpool, request: RunRequestFile, job: JobSpec, now: datetime
    ) -> None:
        if not self._serve(request, job, now):
            return
        if request.kind == "manual" and request.idempotency_key:
            # its run id derives from the key: the request stays until the run is booked (a
            # later tick; served again meanwhile, never started twice), and the tick goes on
            run_id = manual_run_id(job.id, request.idempotency_key, now)
            if run_id in self.book.runs:
                self._awaiting.pop(run_id, None)
                spool.done(request)
            else:
                self._awaiting[run_id] = request
            return
        self._start_pending(now, None, None)  # started (or failed to) before it is done
        spool.done(request)

    def _serve(self, request: RunRequestFile, job: JobSpec, now: datetime) -> bool:
        """Start what the request still needs; True once every run it asks for exists."""
        if request.kind == "manual":
            run_id = manual_run_id(job.id, request.idempotency_key, now)
            if run_id not in self.book.runs and not self.starting(run_id):
                if self._blocked(job):
                    return False
                trigger: Trigger = "webhook" if request.trigger == "webhook" else "manual"
                self._launch(job, run_id, trigger, now, None, key=request.idempotency_key)
                _log_requested(request, run_id)
            return True
        assert request.window is not None
        start, end = request.window
        end = min(end, now)  # a backfill never runs future times ahead of their schedule
        for nominal in fires_between(job.schedule, start - timedelta(microseconds=1), end):
            run_id = scheduled_run_id(job.id, nominal)
            if run_id in self.book.runs:
                continue
            if self._blocked(job):
                return False
            self._launch(job, run_id, "backfill", now, nominal)
        return True

    def _act_on_run(
        self,
        spool: RequestSpool,
        request: RunRequestFile,
        desired: DesiredState,
        now: datetime,
        warnings: list[str],
    ) -> None:
        """A cancel or retry request: done once acted on, rejected when it cannot be."""
        record = self.book.runs.get(request.run_id or "")
        if record is None and self.starting(request.run_id or ""):
            return  # acted on once its start is booked (a later tick)
        if record is None:
            reason = f"no run {request.run_id!r} is known to this daemon"
            warnings.append(f"request {request.path.name} rejected: {reason}")
            return spool.reject(request.path, reason)
        job = desired.jobs.get(record.job_id)
        act = partial(self._cancel_or_retry, request, record, job, now)
        error = self._contained(f"request {request.path.name}", now, warnings, act)
        if error is not None:
            return spool.reject(request.path, error.message)
        if request.kind == "cancel" or request.target in self.book.runs:
            spool.done(request)  # a blocked retry waits for the job's active run to end

    def _cancel_or_retry(
        self, request: RunRequestFile, record: RunRecord, job: JobSpec | None, now: datetime
    ) -> None:
        by = request.requested_by or "local"
        if request.kind == "cancel":
            if record.status == "running":
                log.info("run %s: cancel requested by %s", record.run_id, by)
                self.cancel(record, now, "CancelledByRequest", f"requested by {by}")
            return
        if record.status not in RETRYABLE_BY_HAND:
            raise OvenError(f"run {record.run_id} is {record.status}: only an ended run retries")
        if job is None:
            raise OvenError(f"job {record.job_id!r} is no longer in the config")
        if request.target in self.book.runs or self._blocked(job):
            return  # started already, or waits for the job's active run to end
        root, attempt = record.retry_of or record.run_id, record.attempt + 1
        if request.target != retry_run_id(root, attempt):
            raise OvenError(f"{request.target} is not the next attempt of {record.run_id}")
        self.book.put(record.with_changes(next_retry_at=None))  # no automatic retry as well
        self._launch(
            job, request.target, "retry", now, record.scheduled_for, attempt=attempt, retry_of=root
        )
        log.info("run %s: retry of %s requested by %s", request.target, record.run_id, by)

    def _blocked(self, job: JobSpec) -> bool:
        if job.policy.concurrency == "allow":
            return False
        return bool(self.book.active(job.id)) or job.id in self._starting

    # -- starting and ending runs -----------------------------------------------------------
    def _launch(
        self,
        job: JobSpec,
        run_id: str,
        trigger: Trigger,
        now: datetime,
        nominal: datetime | None,
        *,
        attempt: int = 1,
        retry_of: str | None = None,
        key: str | None = None,
    ) -> None:
        if run_id in self.book.runs or self.starting(run_id):
            return  # this run already happened: run ids make starts idempotent
        record = RunRecord(
            run_id=run_id,
            job_id=job.id,
            trigger=trigger,
            status="running",
            scheduled_for=nominal,
            started_at=now,
            config_revision=self.revision,
            image=job.image or self.pipelines.runner_image,
            attempt=attempt,
            retry_of=retry_of,
            idempotency_key=key,
            secret_names=PipelineRuns.secret_names(job),
        )
        try:
            if job.type == "agent-pipeline":
                request = self.pipelines.prepare(job, record, now)
            else:
                request = build_request(job, record, self.secrets.resolve(job.secrets))
        except Exception as exc:
            self._not_started(record, job, now, exc)
            return None
        self._pending[run_id] = _Start(record, job, request)
        self._starting[job.id] = self._starting.get(job.id, 0) + 1
        return None

    def _start_pending(self, now: datetime, warnings: list[str] | None, wait: float | None) -> None:
        """Hand every run decided so far to the start queue (``start_concurrency`` at once),
        then book the starts that end within ``wait`` seconds (None: until these end).

        Each container name is its run id, so the engine refuses a second start of a run; a
        crash before the book has it is mended by the next daemon adopting the container.
        ``EngineUnavailable`` is raised after the others are booked: nothing more can start.
        """
        pending, self._pending = list(self._pending.values()), {}
        for start in pending:
            self._starts.submit(
                start.record.run_id, start, partial(self.executor.start, start.request)
            )
        keys = [start.record.run_id for start in pending]
        if keys or wait is None:
            self._book_started(self._starts.collect(wait, keys), now, warnings)

    def _book_started(
        self,
        ended: list[tuple[_Start, ObservedRun | BaseException]],
        now: datetime,
        warnings: list[str] | None,
    ) -> None:
        """Book the starts that ended, in the order they were decided; a job whose starts
        are all booked gets its decision's bookkeeping (``_deferred``)."""
        unavailable: EngineUnavailable | None = None
        for start, outcome in ended:
            job_id = start.job.id
            try:
                if isinstance(outcome, EngineUnavailable):
                    unavailable = unavailable or outcome  # not booked: decided again
                    self._decide_again(job_id)
                    continue
                if isinstance(outcome, BaseException):
                    where = f"run {start.record.run_id}"
                    try:
                        self._not_started(start.record, start.job, now, outcome)
                    except EngineUnavailable as exc:
                        unavailable = unavailable or exc
                        self._decide_again(job_id)
                    except Exception as exc:  # a bug while booking the failure: this run only
                        error = self.incidents.contain("schedule", exc, now, where=where)
                        if warnings is not None:
                            warnings.append(error.message)
                    continue
                record = start.record
                self.book.put(record.with_changes(started_at=outcome.started_at or now))
                self.book.note_scheduled(record)
                self.follow_log(record, start.job)
                log.info("run %s: started (%s)", record.run_id, record.trigger)
            finally:
                self._started_one(job_id)
        if unavailable is not None:
            raise unavailable

    def _started_one(self, job_id: str) -> None:
        """One start of the job is booked (or given up): the last one applies its decision."""
        left = self._starting.get(job_id, 0) - 1
        if left > 0:
            self._starting[job_id] = left
            return
        self._starting.pop(job_id, None)
        deferred = self._deferred.pop(job_id, None)
        track = self.book.tracks.get(job_id)
        if deferred is None or track is None:
            return
        record_until, missed = deferred
        if record_until is not None and (
            track.last_scheduled is None or record_until > track.last_scheduled
        ):
            track.last_scheduled = record_until
        track.missed_total += missed
        self.book.track_changed(job_id)

    def _decide_again(self, job_id: str) -> None:
        """The job's starts did not happen: its bookkeeping stays as it was, decided again
        next tick (``_started_one`` finds no decision to apply)."""
        self._deferred.pop(job_id, None)
        self._due.undecided(job_id)

    def _not_started(
        self, record: RunRecord, job: JobSpec, now: datetime, exc: BaseException
    ) -> None:
        """Book a run whose preparation or start raised ``exc`` (EngineUnavailable: raise)."""
        run_id = record.run_id
        try:
            raise exc
        except RunAlreadyExists:
            if any(o.run_id == run_id for o in self.executor.observe()):
                log.info("run %s: container exists already, adopting it", run_id)
                return None
            return self._fail_to_start(record, job, now, _NAME_TAKEN)
        except NotRunnable as exc:
            return self._fail_to_start(record, job, now, exc.error)
        except MissingSecret as exc:
            return self._fail_to_start(record, job, now, _error("MissingSecret", exc))
        except SecretTooShort as exc:
            return self._fail_to_start(record, job, now, _error("SecretTooShort", exc))
        except EngineUnavailable:
            raise  # nothing can start; the cycle reports it and tries again next tick
        except VolumeRefused as exc:
            return self._fail_to_start(record, job, now, _error("VolumeRefused", exc))
        except ExecutorError as exc:
            return self._fail_to_start(record, job, now, _error("ExecutorError", exc))
        except Exception as exc:  # a bug in this job's path: this run fails, the others go on
            error = self.incidents.contain("schedule", exc, now, where=f"run {run_id}")
            return self._fail_to_start(record, job, now, _error(error.reason, error))

    def _fail_to_start(
        self, record: RunRecord, job: JobSpec, now: datetime, error: ErrorInfo
    ) -> None:
        log.error("run %s: cannot start: %s", record.run_id, error.message)
        if error.hint:
            log.error("run %s: hint: %s", record.run_id, error.hint)
        failed = record.with_changes(status="failed", finished_at=now, error=error)
        self.finish(record, failed, job, capture_log=False)
        if job.type == "agent-pipeline":
            self.pipelines.discard(record.run_id)  # no container will ever use the checkout

    def cancel(self, record: RunRecord, now: datetime, cls: str, why: str) -> None:
        self.executor.stop(record.run_id)
        error = ErrorInfo(cls, f"cancelled: {why}", "")
        self.finish(
            record, record.with_changes(status="cancelled", finished_at=now, error=error), None
        )

    def finish(
        self, before: RunRecord, after: RunRecord, job: JobSpec | None, capture_log: bool = True
    ) -> None:
        """Save the log, put its redacted tail in the record, and plan a retry if one is due.

        While the log is still being saved (see the module docstring) the run stays as it is.
        """
        after = clamped(after)
        names = self.secret_names | set(before.secret_names) | set(job.secrets if job else ())
        redact: Callable[[str], str] = self.secrets.redactor(names)
        if capture_log and self._is_pipeline(before, job):
            redact = self.pipelines.redaction(redact)
            if before.run_id not in self._saving:  # concluded once, when its log save began
                after = self.pipelines.conclude(after, job, redact)
        if capture_log:
            saved = self._saved_log(before, after, redact)
            if saved is None:
                return
            after, tail = saved
            after = after.with_changes(log_tail=tail)
        if after.error is not None:
            error = after.error
            after = after.with_changes(
                error=ErrorInfo(error.cls, redact(error.message), redact(error.hint))
            )
        if job and after.status in ("failed", "timed_out") and after.attempt <= job.retries.limit:
            root = after.retry_of or after.run_id
            delay = retry_delay(job.retries.backoff, after.attempt + 1, root)
            ended = after.finished_at or before.started_at or before.scheduled_for
            if ended is not None:
                after = after.with_changes(next_retry_at=ended + timedelta(seconds=delay))
        self.book.put(after)
        self._followed.discard(after.run_id)
        log.info("run %s: %s (exit code %s)", after.run_id, after.status, after.exit_code)

    def follow(self, record: RunRecord, job: JobSpec | None, now: datetime) -> None:
        """A running run: its live log is followed (again, after a restart); an agent
        pipeline also gets the stages its new output reports on its record."""
        self.follow_log(record, job)
        if not self._is_pipeline(record, job):
            return
        names = self.secret_names | set(record.secret_names)
        self.book.put(self.pipelines.follow(record, job, now, self.secrets.redactor(names)))

    def follow_log(self, record: RunRecord, job: JobSpec | None) -> None:
        """Have the executor stream the run's output, redacted like its saved log, to
        ``<run>.live`` (``executors.livelog``); nothing when it cannot or already does.
        Asked once per run and process: a restarted daemon asks again for the runs it adopts."""
        if not isinstance(self.executor, FollowsLogs) or record.run_id in self._followed:
            return
        self._followed.add(record.run_id)
        names = self.secret_names | set(record.secret_names) | set(job.secrets if job else ())
        redact: Callable[[str], str] = self.secrets.redactor(names)
        if self._is_pipeline(record, job):
            redact = self.pipelines.redaction(redact)
        self.executor.follow_log(record.run_id, record.job_id, redact)

    def _is_pipeline(self, record: RunRecord, job: JobSpec | None) -> bool:
        if job is not None:
            return job.type == "agent-pipeline"
        return self.pipelines.owns(record.run_id)  # its job left the config

    def _saved_log(
        self, before: RunRecord, after: RunRecord, redact: Callable[[str], str]
    ) -> tuple[RunRecord, str] | None:
        """The final record and its log tail once the log is saved; None while it is saving."""
        saving = self._saving.get(before.run_id)
        if saving is None:
            future = self._saver.submit(
                self.executor.write_log, before.run_id, before.job_id, redact
            )
            saving = self._saving[before.run_id] = _Saving(future, after)
        try:
            path = saving.future.result(timeout=self.log_wait)
        except FutureTimeout:
            log.info("run %s: ended; saving its log (large output) off the tick", before.run_id)
            return None
        except (ExecutorError, OSError) as exc:
            tail = f"(log unavailable: {exc})"
        else:
            tail = self._log_tail(path)
        del self._saving[before.run_id]
        return saving.after, tail

    def _log_tail(self, path: Path) -> str:
        try:
            return read_tail(path, self.tail_lines, TAIL_MAX_BYTES)
        except OSError as exc:
            return f"(log unavailable: {exc})"


def read_tail(path: Path, lines: int, max_bytes: int) -> str:
    """The last ``lines`` lines of a saved log, from at most its last ``max_bytes``."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - max_bytes))
        data = handle.read()
    text = data.decode("utf-8", "replace")
    if size > max_bytes and "\n" in text:
        text = text.split("\n", 1)[1]  # the first line is cut: leave it out
    return "\n".join(text.splitlines()[-lines:])


RETRYABLE_BY_HAND = frozenset({"failed", "timed_out", "cancelled"})


def _log_requested(request: RunRequestFile, run_id: str) -> None:
    if request.requested_by:
        log.info("run %s: requested by %s (%s)", run_id, request.requested_by, request.trigger)


_NAME_TAKEN = ErrorInfo(
    "RunIdTaken",
    "a container for this run id exists but belongs to another Agent Oven instance",
    "two reconcilers on one Docker engine run jobs with the same id: rename one of the jobs",
)


def _error(cls: str, exc: Exception) -> ErrorInfo:
    return ErrorInfo(cls, str(exc), getattr(exc, "hint", None) or "")


def clamped(record: RunRecord) -> RunRecord:
    """The record with ``finished_at`` never before ``started_at``: engines' clocks and ours
    disagree now and then, and a duration is never negative."""
    started, finished = record.started_at, record.finished_at
    if started is not None and finished is not None and finished < started:
        return record.with_changes(finished_at=started)
    return record


__all__ = ["Dispatcher", "clamped"]
