"""The schedule step: ask ``decide`` about every job, then start, stop and retry runs.

Also where a run ends: its log is saved (redacted), the tail goes into the run record, and a
failed attempt gets the time of its retry. Every start goes through ``_launch``, which derives
nothing itself: run ids come from ``runids``, decisions from ``decide``.

One job, one retry or one request that raises never stops the others: a launch that raises
ends as a failed run carrying the error, anything else becomes a warning in
``status/reconciler.yaml`` (a request is rejected: moved to ``requests/rejected/``). Only
``EngineUnavailable`` fails the whole step, since then nothing can start. Exceptions that are
not ``OvenError`` are bugs: they are counted and logged once by ``incidents.Incidents``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from reconciler.book import RunBook
from reconciler.decide import decide, retry_delay
from reconciler.errors import EngineUnavailable, ExecutorError, OvenError, RunAlreadyExists
from reconciler.incidents import Incidents
from reconciler.interfaces import Executor
from reconciler.model import DesiredState, ErrorInfo, JobSpec, RunRecord, Trigger
from reconciler.run_request import NotRunnable, build_request
from reconciler.runids import manual_run_id, retry_run_id, scheduled_run_id
from reconciler.schedule import fires_between, next_fire
from reconciler.secrets import MissingSecret, Redactor, SecretStore
from reconciler.spool import RequestSpool, RunRequestFile

log = logging.getLogger("oven")


class Dispatcher:
    def __init__(
        self,
        book: RunBook,
        executor: Executor,
        secrets: SecretStore,
        spool: RequestSpool | None,
        tail_lines: int = 40,
        *,
        incidents: Incidents | None = None,
    ) -> None:
        self.book, self.executor, self.secrets, self.spool = book, executor, secrets, spool
        self.tail_lines = tail_lines
        self.incidents = incidents or Incidents()
        self.secret_names: set[str] = set()
        self.wakeups: list[datetime] = []
        self.revision = ""
        self._published = ""  # the revision whose job ids the spool knows

    def run(self, desired: DesiredState, now: datetime, warnings: list[str]) -> None:
        self.revision, self.wakeups = desired.revision, []
        # names only grow: a run may outlive the revision that named its secrets
        self.secret_names |= {name for job in desired.jobs.values() for name in job.secrets}
        self._publish_jobs(desired)
        for job in desired.jobs.values():
            self._contained(
                f"job {job.id}", now, warnings, partial(self._schedule, job, now, warnings)
            )
        self._retries(desired, now, warnings)
        self._requests(desired, now, warnings)

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
    def _schedule(self, job: JobSpec, now: datetime, warnings: list[str]) -> None:
        track = self.book.track(job.id, now)
        active = self.book.active(job.id)
        decision = decide(job, track.last_scheduled, track.created_at, len(active), now)
        if decision.stop_active:
            for record in active:
                self.cancel(record, now, "ReplacedByNewerRun", "concurrency is replace")
        for nominal in decision.starts:
            self._launch(job, scheduled_run_id(job.id, nominal), "schedule", now, nominal)
        track.last_scheduled = decision.record_until
        track.missed_total += decision.missed
        track.next_run = next_fire(job.schedule, now) if job.enabled else None
        track.reason = decision.reason
        warnings.extend(f"{job.id}: {w}" for w in decision.warnings)
        if decision.next_wakeup is not None:
            self.wakeups.append(decision.next_wakeup)

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
        if self._serve(request, job, now):
            spool.done(request)

    def _serve(self, request: RunRequestFile, job: JobSpec, now: datetime) -> bool:
        """Start what the request still needs; True once every run it asks for exists."""
        if request.kind == "manual":
            run_id = manual_run_id(job.id, request.idempotency_key, now)
            if run_id not in self.book.runs:
                if self._blocked(job):
                    return False
                self._launch(job, run_id, "manual", now, None, key=request.idempotency_key)
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

    def _blocked(self, job: JobSpec) -> bool:
        return job.policy.concurrency != "allow" and bool(self.book.active(job.id))

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
        if run_id in self.book.runs:
            return  # this run already happened: run ids make starts idempotent
        record = RunRecord(
            run_id=run_id,
            job_id=job.id,
            trigger=trigger,
            status="running",
            scheduled_for=nominal,
            started_at=now,
            config_revision=self.revision,
            image=job.image or "",
            attempt=attempt,
            retry_of=retry_of,
            idempotency_key=key,
            secret_names=job.secrets,
        )
        try:
            request = build_request(job, record, self.secrets.resolve(job.secrets))
            started = self.executor.start(request)
        except RunAlreadyExists:
            if any(o.run_id == run_id for o in self.executor.observe()):
                log.info("run %s: container exists already, adopting it", run_id)
                return None
            return self._fail_to_start(record, job, now, _NAME_TAKEN)
        except NotRunnable as exc:
            return self._fail_to_start(record, job, now, exc.error)
        except MissingSecret as exc:
            return self._fail_to_start(record, job, now, _error("MissingSecret", exc))
        except EngineUnavailable:
            raise  # nothing can start; the cycle reports it and tries again next tick
        except ExecutorError as exc:
            return self._fail_to_start(record, job, now, _error("ExecutorError", exc))
        except Exception as exc:  # a bug in this job's path: this run fails, the others go on
            error = self.incidents.contain("schedule", exc, now, where=f"run {run_id}")
            return self._fail_to_start(record, job, now, _error(error.reason, error))
        self.book.put(record.with_changes(started_at=started.started_at or now))
        self.book.note_scheduled(record)
        log.info("run %s: started (%s)", run_id, trigger)

    def _fail_to_start(
        self, record: RunRecord, job: JobSpec, now: datetime, error: ErrorInfo
    ) -> None:
        log.error("run %s: cannot start: %s", record.run_id, error.message)
        failed = record.with_changes(status="failed", finished_at=now, error=error)
        self.finish(record, failed, job, capture_log=False)

    def cancel(self, record: RunRecord, now: datetime, cls: str, why: str) -> None:
        self.executor.stop(record.run_id)
        error = ErrorInfo(cls, f"cancelled: {why}", "")
        self.finish(
            record, record.with_changes(status="cancelled", finished_at=now, error=error), None
        )

    def finish(
        self, before: RunRecord, after: RunRecord, job: JobSpec | None, capture_log: bool = True
    ) -> None:
        """Save the log, put its redacted tail in the record, and plan a retry if one is due."""
        after = clamped(after)
        names = self.secret_names | set(before.secret_names) | set(job.secrets if job else ())
        redact = self.secrets.redactor(names)
        if capture_log:
            after = after.with_changes(log_tail=self._log_tail(before, redact))
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
        log.info("run %s: %s (exit code %s)", after.run_id, after.status, after.exit_code)

    def _log_tail(self, record: RunRecord, redact: Redactor) -> str:
        try:
            path = self.executor.write_log(record.run_id, record.job_id, redact)
            text = path.read_text(errors="replace")
        except (ExecutorError, OSError) as exc:
            return f"(log unavailable: {exc})"
        return "\n".join(text.splitlines()[-self.tail_lines :])


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
