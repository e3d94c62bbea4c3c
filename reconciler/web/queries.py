"""Pure questions asked of a Snapshot: which runs match a filter, how healthy things are.

Pages, the JSON API and the metrics collector all answer from these functions, so the
three can never disagree. Nothing here does I/O or reads the clock, except ``older_run``,
which asks the snapshot's archive (the status branch) for a run no longer held in memory.

Lists come from the snapshot's run index (``status.index``): newest first without sorting or
parsing a time per request; values every page needs (health, the sorted jobs) are computed
once per snapshot version (``Snapshot.derived``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from reconciler.clock import utc
from reconciler.model import ACTIVE_STATUSES, FINAL_STATUSES
from reconciler.status.health import run_health
from reconciler.status.index import run_key
from reconciler.status.view import Snapshot
from reconciler.web.cached import Keep

RUN_STATUSES: frozenset[str] = ACTIVE_STATUSES | FINAL_STATUSES
DEFAULT_LIMIT = 100
MAX_RUNS_PER_JOB = 100_000  # no limit in practice: a job's runs held in memory, all of them
MAX_LIMIT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class QueryError(ValueError):
    """A query parameter that cannot be used; the message says which and why."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class RunQuery:
    """A filter over runs: all given conditions must hold; newest first, at most ``limit``."""

    job: str | None = None
    statuses: frozenset[str] = frozenset()
    since: datetime | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0  # skip this many matching runs (the next page: offset + limit)


def parse_run_query(params: Mapping[str, str]) -> RunQuery:
    """Read ``job``, ``status`` (comma separated), ``since`` (ISO time), ``limit`` and
    ``offset``."""
    unknown = sorted(set(params) - {"job", "status", "since", "limit", "offset"})
    if unknown:
        raise QueryError(
            f"unknown query parameter {unknown[0]!r}",
            hint="use job, status, since, limit or offset",
        )
    return RunQuery(
        job=params.get("job") or None,
        statuses=_parse_statuses(params.get("status", "")),
        since=_parse_since(params.get("since", "")),
        limit=_parse_limit(params.get("limit", "")),
        offset=_parse_offset(params.get("offset", "")),
    )


def _parse_statuses(text: str) -> frozenset[str]:
    wanted = frozenset(part.strip() for part in text.split(",") if part.strip())
    bad = sorted(wanted - RUN_STATUSES)
    if bad:
        raise QueryError(
            f"unknown run status {bad[0]!r}", hint="one of: " + ", ".join(sorted(RUN_STATUSES))
        )
    return wanted


def _parse_since(text: str) -> datetime | None:
    if not text:
        return None
    hint = "for example 2026-03-01T00:00:00Z"
    try:
        return utc(text)
    except ValueError:
        raise QueryError(f"since={text!r} is not an ISO 8601 time", hint=hint) from None
    except OverflowError:  # its zone moves it before year 1 or after 9999 in UTC
        raise QueryError(f"since={text!r} is out of range in UTC", hint=hint) from None


def _parse_limit(text: str, default: int = DEFAULT_LIMIT, most: int = MAX_LIMIT) -> int:
    if not text:
        return default
    try:
        limit = int(text)
    except ValueError:
        raise QueryError(f"limit={text!r} is not a whole number") from None
    if not 1 <= limit <= most:
        raise QueryError(f"limit must be between 1 and {most}, got {limit}")
    return limit


def _parse_offset(text: str) -> int:
    if not text:
        return 0
    try:
        offset = int(text)
    except ValueError:
        raise QueryError(f"offset={text!r} is not a whole number") from None
    if offset < 0:
        raise QueryError(f"offset must be 0 or more, got {offset}")
    return offset


@dataclass(frozen=True)
class JobPage:
    """A slice of the jobs sorted by id: from ``offset``, at most ``limit`` (None: all)."""

    offset: int = 0
    limit: int | None = None

    def of(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        end = None if self.limit is None else self.offset + self.limit
        return jobs if (self.offset, end) == (0, None) else jobs[self.offset : end]

    @property
    def key(self) -> str:
        return f"{self.offset}:{self.limit}"


JOBS_PAGE = 100  # jobs on one overview page
MAX_JOBS_PAGE = 1000


def parse_job_page(params: Mapping[str, str], default: int | None) -> JobPage:
    """``offset`` and ``limit`` (1..MAX_JOBS_PAGE; ``default`` when absent, None: all jobs);
    any other parameter is an error."""
    unknown = sorted(set(params) - {"offset", "limit"})
    if unknown:
        raise QueryError(f"unknown query parameter {unknown[0]!r}", hint="use offset or limit")
    text = params.get("limit", "")
    limit = _parse_limit(text, JOBS_PAGE, MAX_JOBS_PAGE) if text else default
    return JobPage(offset=_parse_offset(params.get("offset", "")), limit=limit)


def parse_time(value: Any) -> datetime | None:
    """An ISO string from the snapshot as a datetime; None when absent or unreadable."""
    if not value:
        return None
    try:
        return utc(str(value))
    except ValueError:
        return None


def run_time(run: Mapping[str, Any]) -> datetime | None:
    """When a run happened, for sorting and ``since``: started, else scheduled, else finished."""
    for key in ("started_at", "scheduled_for", "finished_at"):
        when = parse_time(run.get(key))
        if when is not None:
            return when
    return None


def newest_first(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (dict(run) for run in runs),
        key=lambda run: (run_time(run) or _EPOCH, str(run.get("run_id", ""))),
        reverse=True,
    )


def select_runs(snapshot: Snapshot, query: RunQuery) -> list[dict[str, Any]]:
    """The runs that match ``query``, newest first, from ``query.offset`` on."""
    ids = snapshot.run_index.newest(
        job=query.job,
        statuses=query.statuses,
        since=query.since.timestamp() if query.since is not None else None,
        offset=query.offset,
        limit=query.limit,
    )
    return [snapshot.runs[run_id] for run_id in ids if run_id in snapshot.runs]


def find_run(snapshot: Snapshot, run_id: str) -> dict[str, Any] | None:
    """A run by id: from the snapshot, else read from the status branch through its archive
    (I/O: call off the event loop); None when neither has it."""
    run = snapshot.runs.get(run_id)
    if run is None and snapshot.archive is not None:
        run = snapshot.archive.find(run_id)
    return run


def job_runs(snapshot: Snapshot, query: RunQuery) -> list[dict[str, Any]]:
    """``select_runs`` for a query naming a job, with the job's runs not held in memory read
    through the archive (I/O: call off the event loop)."""
    if query.job is None or snapshot.archive is None:
        return select_runs(snapshot, query)
    older = snapshot.archive.for_job(query.job)
    if not older:
        return select_runs(snapshot, query)
    held = select_runs(snapshot, replace(query, offset=0, limit=MAX_RUNS_PER_JOB))
    ids = {run["run_id"] for run in held}
    since = query.since.timestamp() if query.since is not None else None
    extra = [
        run for run in older
        if run.get("run_id") not in ids
        and (not query.statuses or run.get("status") in query.statuses)
        and (since is None or run_key(run)[0] >= since)
    ]
    merged = sorted(held + extra, key=run_key, reverse=True)
    return merged[query.offset : query.offset + query.limit]


def without_log(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run for lists: everything but the (possibly long) log tail."""
    return {key: value for key, value in run.items() if key != "log_tail"}


def sorted_jobs(snapshot: Snapshot) -> list[dict[str, Any]]:
    return snapshot.derived("sorted_jobs", lambda: _sorted_jobs(snapshot))


def _sorted_jobs(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [{"job_id": job_id, **snapshot.jobs[job_id]} for job_id in sorted(snapshot.jobs)]


def active_run_ids(snapshot: Snapshot) -> set[str]:
    """Runs queued or running, from the job summaries and from the run records."""
    return set(snapshot.derived("active_run_ids", lambda: _active_run_ids(snapshot)))


def _active_run_ids(snapshot: Snapshot) -> frozenset[str]:
    ids = {str(r) for job in snapshot.jobs.values() for r in job.get("active_runs") or ()}
    return frozenset(ids | snapshot.run_index.active())


def problems(snapshot: Snapshot) -> list[dict[str, Any]]:
    return list(snapshot.reconciler.get("problems") or [])


def condition(snapshot: Snapshot, kind: str) -> dict[str, Any] | None:
    for cond in snapshot.reconciler.get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def not_ready(snapshot: Snapshot) -> dict[str, str] | None:
    """Why the reconciler is not Ready (its Ready condition is there and not True), or None."""
    ready = condition(snapshot, "Ready")
    if ready is None or str(ready.get("status")) == "True":
        return None
    return {"reason": str(ready.get("reason") or ""), "message": str(ready.get("message") or "")}


def reconciler_state(snapshot: Snapshot) -> dict[str, str]:
    """One word for the reconciler (Standby, Ready, Stalled, Reconciling, Unknown) and why."""
    standby = standby_info(snapshot)
    if standby is not None:
        return {"state": "Standby", "reason": "Standby", "message": standby["message"]}
    for kind in ("Stalled", "Ready", "Reconciling"):
        cond = condition(snapshot, kind)
        if cond is not None and str(cond.get("status")) == "True":
            return _state(kind, cond)
    ready = condition(snapshot, "Ready")
    if ready is not None:
        return _state("NotReady", ready)
    return {"state": "Unknown", "reason": "", "message": "no status reported yet"}


def standby_info(snapshot: Snapshot) -> dict[str, str] | None:
    """Why this daemon is a standby (another one holds the lease), or None when it leads."""
    rec = snapshot.reconciler
    if rec.get("role") != "standby":
        return None
    found = rec.get("standby")
    info: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    reason = str(info.get("reason") or "another daemon holds the lease")
    return {
        "message": f"standby: {reason}; this daemon starts and records nothing until it "
        "holds the lease",
        "leader": str(info.get("leader") or ""),
        "lease_until": str(info.get("lease_until") or ""),
    }


def _state(name: str, cond: Mapping[str, Any]) -> dict[str, str]:
    return {
        "state": name,
        "reason": str(cond.get("reason") or ""),
        "message": str(cond.get("message") or ""),
    }


def health(snapshot: Snapshot) -> dict[str, Any]:
    """The health document: conditions, revisions, counts by status and of problems."""
    return dict(snapshot.derived("health", lambda: _health(snapshot)))


def _health(snapshot: Snapshot) -> dict[str, Any]:
    rec = snapshot.reconciler
    return {
        **reconciler_state(snapshot),
        "conditions": list(rec.get("conditions") or []),
        "applied_revision": rec.get("applied_revision"),
        "attempted_revision": rec.get("attempted_revision"),
        "heartbeat": rec.get("heartbeat"),
        "started_at": rec.get("started_at"),
        "next_wakeup": rec.get("next_wakeup"),
        "jobs": len(snapshot.jobs),
        "jobs_enabled": sum(1 for job in snapshot.jobs.values() if job.get("enabled", True)),
        "runs_by_status": snapshot.run_index.counts(),
        "runs_active": len(active_run_ids(snapshot)),
        "problems": len(problems(snapshot)),
        **snapshot.derived("run_health", lambda: _run_health(snapshot)),
    }


_RUN_HEALTH = Keep(4)
HEALTH_STEP = 60  # seconds: run throughput is worked out as of the heartbeat's minute


def _run_health(snapshot: Snapshot) -> dict[str, Any]:
    """``run_health`` of the runs held, as of the end of the heartbeat's minute: it reads every
    run, so it is kept until the runs change or the minute turns, not made every version."""
    heartbeat = parse_time(snapshot.reconciler.get("heartbeat"))
    minute = None if heartbeat is None else -(-int(heartbeat.timestamp()) // HEALTH_STEP)
    when = None if minute is None else datetime.fromtimestamp(minute * HEALTH_STEP, UTC)
    return _RUN_HEALTH.get(
        "runs", (snapshot.runs, minute), lambda: run_health(snapshot.runs.values(), when)
    )


def last_success_time(job: Mapping[str, Any]) -> datetime | None:
    """``last_success`` is an ISO time; a run-like dict with ``finished_at`` is accepted too."""
    value = job.get("last_success")
    if isinstance(value, Mapping):
        value = value.get("finished_at") or value.get("started_at")
    return parse_time(value)


def current_stage(run: Mapping[str, Any]) -> str | None:
    """An agent pipeline's running stage: its name, with the attempt after the first."""
    running = [s for s in run.get("stages") or [] if s.get("status") == "running"]
    if not running:
        return None
    stage = running[-1]
    attempt = stage.get("attempt") or 1
    return f"{stage.get('name')} (attempt {attempt})" if attempt > 1 else str(stage.get("name"))


def current_stages(snapshot: Snapshot) -> dict[str, str]:
    """Run id -> current stage, for every active run that reports one (the overview's feed)."""
    stages = {}
    for run_id in active_run_ids(snapshot):
        stage = current_stage(snapshot.runs.get(run_id) or {})
        if stage:
            stages[run_id] = stage
    return stages


def safe_link(url: Any) -> str | None:
    """A URL a page may link to: http(s) only, so a pipeline's text never becomes a script."""
    text = str(url or "")
    return text if text.startswith(("https://", "http://")) else None


FAILING_STATUSES = frozenset({"failed", "timed_out"})


def jobs_health(snapshot: Snapshot) -> dict[str, Any]:
    """How the jobs do, apart from how the reconciler does: the jobs whose last run failed
    (or timed out), how many jobs run now, and a short line for the page's header. Every
    page's header shows it: worked out once per version of the summaries, not per request."""
    value = _JOBS_HEALTH.get("jobs", (snapshot.jobs,), lambda: _jobs_health(snapshot))
    return {**value, "failing": list(value["failing"])}


_JOBS_HEALTH = Keep(1)


def _jobs_health(snapshot: Snapshot) -> dict[str, Any]:
    failing = sorted(
        job_id
        for job_id, job in snapshot.jobs.items()
        if (job.get("last_run") or {}).get("status") in FAILING_STATUSES
    )
    running = sum(1 for job in snapshot.jobs.values() if job.get("active_runs"))
    if failing:
        line = f"{len(failing)} job{'' if len(failing) == 1 else 's'} failing"
    elif snapshot.jobs:
        line = "all jobs healthy"
    else:
        line = "no jobs"
    return {"failing": failing, "running": running, "jobs": len(snapshot.jobs), "summary": line}


def active_started(snapshot: Snapshot) -> dict[str, str]:
    """Run id -> start time (ISO) of every active run that has started (elapsed time)."""
    started = {}
    for run_id in active_run_ids(snapshot):
        when = (snapshot.runs.get(run_id) or {}).get("started_at")
        if when:
            started[run_id] = str(when)
    return started
