"""From what a container did to a run's outcome.

Pure helpers for the reconcile cycle: how to read the engine's answer (exit code, timeout,
out of memory, vanished container) as a run status with an error a person can act on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from reconciler.interfaces import ObservedRun
from reconciler.model import ErrorInfo, JobSpec, RunRecord, RunStatus


def is_timed_out(job: JobSpec | None, observed: ObservedRun, now: datetime) -> bool:
    """A running container has outlived its job's ``resources.timeout``."""
    if job is None or job.resources.timeout is None or observed.started_at is None:
        return False
    return now >= observed.started_at + timedelta(seconds=job.resources.timeout)


def outcome(job: JobSpec | None, observed: ObservedRun) -> tuple[RunStatus, ErrorInfo | None]:
    """Status and error of a container that exited on its own (or was killed while we were down)."""
    if observed.state == "created":
        return "failed", ErrorInfo(
            "NeverStarted",
            "the container was created but never started (the reconciler stopped in between)",
            "nothing to do: the next attempt or scheduled run starts normally",
        )
    if observed.exit_code == 0:
        return "succeeded", None
    if _outlived_timeout(job, observed):
        return "timed_out", _timeout_error(job)
    if observed.oom_killed:
        memory = job.resources.memory if job else None
        return "failed", ErrorInfo(
            "OutOfMemory",
            f"the container was killed for using more than its memory limit ({memory})",
            "raise resources.memory in the job manifest or make the job use less memory",
        )
    return "failed", ErrorInfo(
        "NonZeroExit",
        f"the command exited with code {observed.exit_code}",
        "read the log tail below or the full log under the reconciler's state dir",
    )


def timed_out_record(record: RunRecord, job: JobSpec | None, now: datetime) -> RunRecord:
    return record.with_changes(status="timed_out", finished_at=now, error=_timeout_error(job))


def vanished_record(record: RunRecord, now: datetime) -> RunRecord:
    return record.with_changes(
        status="failed",
        finished_at=now,
        error=ErrorInfo(
            "ContainerVanished",
            "the run's container disappeared before its result was recorded",
            "someone removed it, or the Docker engine lost it; the job is free to run again",
        ),
    )


def _outlived_timeout(job: JobSpec | None, observed: ObservedRun) -> bool:
    if job is None or job.resources.timeout is None:
        return False
    if observed.started_at is None or observed.finished_at is None:
        return False
    lived = (observed.finished_at - observed.started_at).total_seconds()
    return lived >= job.resources.timeout and observed.exit_code in (137, -1, None)


def _timeout_error(job: JobSpec | None) -> ErrorInfo:
    limit = job.resources.timeout if job else None
    return ErrorInfo(
        "Timeout",
        f"the run took longer than its timeout of {limit}s and was killed",
        "raise resources.timeout in the job manifest, or find out why the job hangs",
    )
