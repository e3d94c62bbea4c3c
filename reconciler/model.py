"""Frozen value objects shared by every layer: what a job is, what a run was.

Nothing here does I/O. Manifests become ``JobSpec`` (see ``reconciler.manifests``); runs are
``RunRecord`` and round-trip through ``to_dict``/``from_dict`` into the YAML status files
(``schema_version`` first, UTC ISO times, keys sorted when written).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from reconciler.clock import iso, utc

JobType = Literal["docker", "agent-pipeline"]
ScheduleType = Literal["cron", "once", "manual", "interval", "webhook"]
Concurrency = Literal["allow", "forbid", "replace"]
Missed = Literal["skip", "latest", "all"]
Trigger = Literal["schedule", "manual", "webhook", "backfill", "retry"]
RunStatus = Literal[
    "queued", "running", "succeeded", "failed", "timed_out", "cancelled", "missed", "skipped"
]
FINAL_STATUSES: frozenset[str] = frozenset(
    {"succeeded", "failed", "timed_out", "cancelled", "missed", "skipped"}
)
ACTIVE_STATUSES: frozenset[str] = frozenset({"queued", "running"})

RUN_SCHEMA_VERSION = 1

Network = Literal["none", "bridge"]
DEFAULT_PIDS_LIMIT = 512  # processes and threads per run container unless resources.pids says
# Capabilities a manifest may add back after every run drops all (docs/security.md says why
# each is safe enough and why the rest of Docker's default set is left out).
ALLOWED_CAPABILITIES: tuple[str, ...] = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETGID",
    "SETUID",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, printed as ``FILE:LINE: FIELD: message``."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Schedule:
    """When a job fires. ``every`` is set for interval schedules, ``at`` for once."""

    type: ScheduleType
    cron: str | None = None
    timezone: str = "UTC"
    at: datetime | None = None
    every: timedelta | None = None


@dataclass(frozen=True)
class Policy:
    """What to do about overlap and downtime (docs/scheduling.md)."""

    concurrency: Concurrency = "forbid"
    missed: Missed = "latest"
    starting_deadline: int | None = None  # seconds
    max_catch_up: int = 10


@dataclass(frozen=True)
class Retries:
    limit: int = 0
    backoff: float = 30.0  # seconds before the first retry; doubles each time


@dataclass(frozen=True)
class Resources:
    timeout: int | None = None  # seconds, per attempt, container killed when exceeded
    memory: str | None = None  # docker notation: 512m, 2g
    cpus: float | None = None
    pids: int | None = None  # process limit; None: DEFAULT_PIDS_LIMIT


@dataclass(frozen=True)
class Notifications:
    targets: tuple[str, ...] = ()
    on_failure: bool = True
    on_success: bool = False
    on_recovery: bool = True


@dataclass(frozen=True)
class NotifyTarget:
    """A notification target of oven.yaml: where to (a secret holding the URL), in which form."""

    name: str
    type: Literal["slack", "discord", "webhook"]
    url_secret: str
    signing_secret: str | None = None  # webhook only: the secret whose value signs each body


@dataclass(frozen=True)
class NotifySettings:
    """oven.yaml's notification targets, and the ones told about the reconciler's own trouble."""

    targets: tuple[NotifyTarget, ...] = ()
    reconciler: tuple[str, ...] = ()

    def target(self, name: str) -> NotifyTarget | None:
        return next((t for t in self.targets if t.name == name), None)


@dataclass(frozen=True)
class Source:
    repo: str
    branch: str = "main"
    secret: str | None = None  # name of the secret (token or ssh key) that opens the repo


@dataclass(frozen=True)
class JobSpec:
    """One validated job manifest. ``path`` is the file it came from, relative to the repo."""

    id: str
    name: str
    type: JobType
    schedule: Schedule
    path: str = ""
    description: str = ""
    owner: str = ""
    enabled: bool = True
    policy: Policy = field(default_factory=Policy)
    retries: Retries = field(default_factory=Retries)
    resources: Resources = field(default_factory=Resources)
    notifications: Notifications = field(default_factory=Notifications)
    env: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()
    # docker jobs
    image: str | None = None
    command: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    # what the run container may do (docs/security.md)
    user: str | None = None  # "name", "uid" or "uid:gid"; None: the image's user
    read_only_rootfs: bool = False
    network: Network = "bridge"
    capabilities: tuple[str, ...] = ()  # added back after dropping all; ALLOWED_CAPABILITIES
    # agent-pipeline jobs
    source: Source | None = None
    pipeline: str | None = None
    auth: str | None = None
    model: str | None = None
    # the manifest as written (after defaults), used to tell whether a job changed
    manifest: str = ""

    @property
    def fingerprint(self) -> str:
        """Short hash of the manifest content: equal fingerprints mean an unchanged job."""
        return hashlib.sha256(self.manifest.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class DesiredState:
    """Every job the config repo asks for at one revision, plus what is wrong with it."""

    revision: str
    jobs: dict[str, JobSpec]
    problems: tuple[Problem, ...] = ()
    notify: NotifySettings | None = None  # None: oven.yaml is broken, its targets unknown


@dataclass(frozen=True)
class ErrorInfo:
    """Why a run did not succeed: a class name, a message and a hint a person can act on."""

    cls: str
    message: str
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"class": self.cls, "message": self.message, "hint": self.hint}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ErrorInfo | None:
        if not data:
            return None
        return cls(
            str(data.get("class", "")), str(data.get("message", "")), str(data.get("hint", ""))
        )


@dataclass(frozen=True)
class StageRecord:
    """One stage of an agent pipeline run (``reconciler.pipelines`` reads them from its output).

    ``status`` is pending, running, succeeded, failed, skipped or cancelled; ``attempt`` counts
    from 1; ``commit`` is the sha the stage committed, if it did; ``tokens`` maps input,
    output, cache_creation, cache_read and thinking to counts, where known.
    """

    name: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    model: str | None = None
    tokens: dict[str, int] | None = None
    attempt: int = 1
    commit: str | None = None
    error: ErrorInfo | None = None

    def with_changes(self, **changes: Any) -> StageRecord:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_s": self.duration_s,
            "model": self.model,
            "tokens": self.tokens,
            "attempt": self.attempt,
            "commit": self.commit,
            "error": self.error.to_dict() if self.error else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageRecord:
        return cls(
            name=str(data["name"]),
            status=str(data["status"]),
            started_at=optional_time(data.get("started_at")),
            finished_at=optional_time(data.get("finished_at")),
            duration_s=data.get("duration_s"),
            model=data.get("model"),
            tokens=data.get("tokens"),
            attempt=int(data.get("attempt") or 1),
            commit=data.get("commit"),
            error=ErrorInfo.from_dict(data.get("error")),
        )


@dataclass(frozen=True)
class RunRecord:
    """One run (one attempt) of one job: the content of ``status/runs/<job>/<run>.yaml``."""

    run_id: str
    job_id: str
    trigger: Trigger
    status: RunStatus
    scheduled_for: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    error: ErrorInfo | None = None
    config_revision: str = ""
    image: str = ""
    attempt: int = 1
    retry_of: str | None = None  # run id of the first attempt
    next_retry_at: datetime | None = None  # when the following attempt is due, if any
    idempotency_key: str | None = None
    secret_names: tuple[str, ...] = ()  # names only, so the output can be redacted later
    stages: tuple[StageRecord, ...] = ()
    tokens: dict[str, int] | None = None  # agent pipelines: the stages' token counts summed
    pull_request: dict[str, Any] | None = None  # agent pipelines: {url, number, branch, error}
    log_tail: str = ""
    schema_version: int = RUN_SCHEMA_VERSION

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def with_changes(self, **changes: Any) -> RunRecord:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "job_id": self.job_id,
            "trigger": self.trigger,
            "status": self.status,
            "scheduled_for": iso(self.scheduled_for),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_s": self.duration_s,
            "exit_code": self.exit_code,
            "error": self.error.to_dict() if self.error else None,
            "config_revision": self.config_revision,
            "image": self.image,
            "attempt": self.attempt,
            "retry_of": self.retry_of,
            "next_retry_at": iso(self.next_retry_at),
            "idempotency_key": self.idempotency_key,
            "secret_names": list(self.secret_names),
            "stages": [stage.to_dict() for stage in self.stages],
            "tokens": self.tokens,
            "pull_request": self.pull_request,
            "log_tail": self.log_tail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {f.name for f in fields(cls)}
        times = {"scheduled_for", "started_at", "finished_at", "next_retry_at"}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if key in times:
                value = optional_time(value)
            elif key == "error":
                value = ErrorInfo.from_dict(value)
            elif key == "secret_names":
                value = tuple(value or ())
            elif key == "stages":
                value = tuple(StageRecord.from_dict(stage) for stage in value or ())
            values[key] = value
        return cls(**values)


def optional_time(value: Any) -> datetime | None:
    """A status-file time (text or datetime) as aware UTC; None for empty values."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return utc(value.isoformat())
    return utc(str(value))


def canonical_json(data: Any) -> str:
    """Stable text for hashing: sorted keys, no whitespace differences."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
