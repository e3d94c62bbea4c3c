"""Every adapter interface in one place: config source, executor, ledger, workspaces and the
leader lease kept next to the ledger.

The pure core (model, schedule, decide, planner, status) imports none of the adapters; the
reconcile cycle talks to adapters only through these protocols. Each protocol has a real
implementation (dulwich, the Docker engine) and an in-memory one for unit tests, and a shared
contract test runs against both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from reconciler.pipelines.auth import HostLogin

ContainerState = Literal["created", "running", "exited", "dead"]


@dataclass(frozen=True)
class RunRequest:
    """Everything an executor needs to start one attempt of one job."""

    run_id: str
    job_id: str
    trigger: str
    image: str
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    # names of the env entries whose values are secrets; an executor may hand them over
    # another way than plain environment (the Swarm executor: as Swarm secrets)
    secret_env: tuple[str, ...] = ()
    volumes: tuple[
        str, ...
    ] = ()  # "host:container[:ro|rw]", already checked against the allow-list
    memory: str | None = None
    cpus: float | None = None
    pids: int = 512  # process limit (model.DEFAULT_PIDS_LIMIT)
    user: str | None = None  # "uid[:gid]" or a name to run as; None: the image's user
    read_only_rootfs: bool = False
    network: str = "bridge"  # none | bridge
    capabilities: tuple[str, ...] = ()  # added back after dropping all
    scheduled_for: datetime | None = None
    attempt: int = 1
    retry_of: str | None = None
    config_revision: str = ""
    idempotency_key: str | None = None


@dataclass(frozen=True)
class ObservedRun:
    """What the engine says about one container the reconciler started (found by its labels)."""

    run_id: str
    job_id: str
    state: ContainerState
    trigger: str = "schedule"
    image: str = ""
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    scheduled_for: datetime | None = None
    attempt: int = 1
    retry_of: str | None = None
    config_revision: str = ""
    idempotency_key: str | None = None
    oom_killed: bool = False

    @property
    def is_running(self) -> bool:
        return self.state in ("created", "running")


class Executor(Protocol):
    """Runs containers. Container identity is the run id, so a run can never start twice.

    ``start`` may be called from several threads at once (``--start-concurrency``): an
    executor must be safe for that; the other methods are called from the tick's thread and
    from worker threads (log saving, removals), one call per run at a time.

    Optional, looked up with ``getattr`` (an executor without it keeps working):

    ``watch(wake: Callable[[], None]) -> None``
        Follow the engine's events in the executor's own thread and call ``wake`` (from that
        thread, quickly) when a container of this reconciler ends or goes, so the daemon ticks
        at once instead of at its next ``--tick``. ``observe`` must still answer the whole
        picture whenever asked (it may answer it from what the events said, listing again
        at least every few seconds as a safety net).
    """

    def start(self, request: RunRequest) -> ObservedRun:
        """Create and start the container; RunAlreadyExists if one with this run id exists."""
        ...

    def observe(self) -> list[ObservedRun]:
        """Every container (running or finished) that carries the reconciler's labels."""
        ...

    def stop(self, run_id: str) -> None:
        """Kill the container if it runs; no error if it already stopped or is gone."""
        ...

    def logs(self, run_id: str) -> bytes:
        """The container's whole output (stdout and stderr interleaved)."""
        ...

    def logs_since(self, run_id: str, offset: int) -> bytes:
        """The output after its first ``offset`` bytes (what a follower has not read yet)."""
        ...

    def image_labels(self, image: str) -> Mapping[str, str]:
        """The labels of an image on the engine; ExecutorError if the engine lacks it."""
        ...

    def remove(self, run_id: str) -> None:
        """Remove the container; only called after its result is recorded."""
        ...

    def write_log(
        self, run_id: str, job_id: str, redact: Callable[[str], str] | None = None
    ) -> Path:
        """Save the output, redacted, to ``<state_dir>/logs/<job>/<run>.log``: streamed, never
        held whole in memory, capped at the executor's ``max_log_bytes`` (head and tail kept,
        a marker line says how many bytes were cut). May take seconds for a large output."""
        ...


@runtime_checkable
class FollowsLogs(Protocol):
    """An executor that can stream a running container's output to the state dir as it comes.

    Optional beside ``Executor``: the cycle calls it when the executor has it."""

    def follow_log(
        self, run_id: str, job_id: str, redact: Callable[[str], str] | None = None
    ) -> None:
        """Copy the run's output, redacted, to ``<state_dir>/logs/<job>/<run>.live`` while it
        runs, on a thread of its own; returns at once, raises nothing. Idempotent: a run that
        is followed already is left alone (the cycle asks again after a restart)."""
        ...


class Ledger(Protocol):
    """Status files on the status branch of the config repo."""

    def read(self, paths: Sequence[str] = ("status/",)) -> dict[str, bytes]:
        """Every file at or under ``paths`` (default: all of status/) at the tip of the status
        branch (path -> content)."""
        ...

    def read_known(self, paths: Sequence[str]) -> dict[str, bytes]:
        """The same at the tip last read or written, without asking the remote (cheap): the
        runs a restart did not load, read when they are needed. May be called from another
        thread than ``read`` and ``write``."""
        ...

    def write(self, files: Mapping[str, bytes | None], message: str) -> str | None:
        """Commit the files (None deletes) on top of the tip and push; returns the new commit.

        A rejected push re-reads the remote tip and writes the same files on top again,
        so no record is ever lost. Returns None when nothing changed. Raises
        ``StatusRewritten`` (writing nothing) when the branch no longer holds the last commit
        this ledger read or wrote: files written before may be gone; ``read`` and write again.
        """
        ...

    def verify_history(self) -> None:
        """Raise ``StatusRewritten`` when the branch, as last fetched, lost that commit.

        Costs no network call: the daemon fetches the repository anyway; between writes this
        lets the recorder notice a force-push before it next has something to write.
        """
        ...


@dataclass(frozen=True)
class LeaseRead:
    """The leader lease as one read of the status branch found it."""

    content: bytes | None  # status/lease.yaml at the tip; None when the tip has none
    version: str | None  # the tip it was read at; None when the branch does not exist


class LeaseStore(Protocol):
    """The leader lease on the status branch (``lease.py``), changed only by compare-and-swap.

    Raises ``LedgerError`` when the branch cannot be read or written. A lost race is not an
    error: ``swap_lease`` answers False and the caller reads the lease again and decides
    again; a lease write is never replayed on a newer tip like ``Ledger.write``.
    """

    def read_lease(self) -> LeaseRead:
        """Fetch the status branch; the lease file at its tip."""
        ...

    def swap_lease(self, content: bytes, version: str | None, message: str) -> bool:
        """Write the lease in one commit on ``version``; False if the branch is not there now."""
        ...

    def fence(self, token: str) -> None:
        """From now on, refuse status writes (``Ledger.write`` of the ledger this store is part
        of) on a tip whose lease names a holder whose id is not ``token``: raise ``LeaseLost``
        and drop the writes still queued, never write them on top of another leader's."""
        ...

    def forget_queued(self) -> int:
        """Drop the status writes not pushed yet (how many): called on taking the lease over
        from another daemon, whose records since are newer than them."""
        ...


class ConfigSource(Protocol):
    """Where manifests come from."""

    def fetch(self) -> str:
        """Bring the config branch up to date; return its head revision."""
        ...

    def files(self, revision: str) -> Mapping[str, bytes]:
        """Every file of the revision that matters: oven.yaml and jobs/**/*.y(a)ml (a mapping
        that may read each file only when asked for, e.g. ``manifests.TreeFiles``)."""
        ...


@dataclass(frozen=True)
class Workspace:
    """A per-run checkout on the reconciler's host, ready to mount into the run's container."""

    run_id: str
    path: str  # host path of the checkout (mounted read-write at /work)
    volumes: tuple[str, ...] = ()  # further "host:container[:ro|rw]" mounts it needs
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. the source's push token
    user: str | None = None  # who the container must run as to write the checkout


class Workspaces(Protocol):
    """Per-run checkouts of agent-pipeline source repos, and the host's agent logins.

    ``prepare`` raises ``SourceError`` when the repo cannot be cloned and ``AuthError`` when
    the remote refused the credentials; the others raise nothing for a missing checkout.
    """

    def prepare(
        self, run_id: str, repo: str, branch: str, credential: str | None
    ) -> Workspace:
        """A fresh checkout of ``branch`` of ``repo``; ``credential`` is a token or ssh key."""
        ...

    def copy_login(self, run_id: str) -> str:
        """A private copy of the host's Claude and gh login for this run (outside its checkout,
        readable by the container's user); returns its host path. Removed with the checkout."""
        ...

    def list_dir(self, run_id: str, directory: str) -> list[str]:
        """File names in a directory of the checkout; [] if it or the checkout is missing."""
        ...

    def read(self, run_id: str, path: str) -> bytes | None:
        """A file of the checkout; None if it is missing."""
        ...

    def remove(self, run_id: str) -> None:
        """Delete the checkout; quiet if it is gone."""
        ...

    def runs(self) -> list[str]:
        """Run ids that have a checkout."""
        ...

    def host_login(self) -> HostLogin:
        """What the host has of a Claude and gh login (for ``auth: host-login``)."""
        ...
