"""An in-memory executor for unit tests of the reconcile cycle, with Docker's semantics.

Nothing runs: a "container" is a record that stays running until the test calls
``finish(run_id, exit_code)`` (or ``stop``). Everything else behaves like ``DockerExecutor``
and passes the same contract tests: names are unique across instances sharing one
``MemoryEngine`` (``RunAlreadyExists``), ``observe`` sees only its own instance, ``stop`` kills
with exit code 137, ``remove`` and ``stop`` are quiet for gone runs, and the same volume,
memory, privilege and label rules apply (bind mounts are confined to ``volume_allowlist``
when one is given). ``engine.available = False`` makes every call fail like a stopped engine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from reconciler.clock import Clock, SystemClock
from reconciler.errors import ExecutorError
from reconciler.executors import labels, limits, livelog, logfiles, messages, volumes
from reconciler.interfaces import ContainerState, ObservedRun, RunRequest
from reconciler.runids import container_name

FOLLOW_WAIT = 1.0  # seconds a follower waits for output before it looks again
KILLED = 137  # 128 + SIGKILL, what the engine reports for a killed container


@dataclass
class FakeContainer:
    request: RunRequest
    labels: dict[str, str]
    state: ContainerState
    started_at: datetime
    finished_at: datetime | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    output: bytearray = field(default_factory=bytearray)

    def observed(self) -> ObservedRun:
        return ObservedRun(
            state=self.state,
            image=self.request.image,
            exit_code=self.exit_code,
            started_at=self.started_at,
            finished_at=self.finished_at,
            oom_killed=self.oom_killed,
            **labels.run_fields(self.labels),
        )


class MemoryEngine:
    """The pretend engine several ``MemoryExecutor`` instances can share."""

    def __init__(
        self,
        clock: Clock | None = None,
        images: Iterable[str] | None = None,
        labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.images = {_full_name(image) for image in images} if images is not None else None
        # image -> its labels; an image not named here has none (or is missing, see images)
        self.labels = {_full_name(image): dict(v) for image, v in (labels or {}).items()}
        self.available = True
        self.containers: dict[str, FakeContainer] = {}  # by container name
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # output grew or a container ended

    def check(self) -> None:
        if not self.available:
            raise messages.engine_unavailable("reach the engine", "memory engine is down")


class MemoryExecutor:
    """``interfaces.Executor`` in memory; ``finish`` and ``emit`` are the test's controls."""

    def __init__(
        self,
        engine: MemoryEngine | None = None,
        *,
        state_dir: Path | str | None = None,
        instance: str = "default",
        volume_allowlist: Sequence[str] | None = None,
        max_log_bytes: int = logfiles.DEFAULT_MAX_LOG_BYTES,
    ) -> None:
        self.engine = engine or MemoryEngine()
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.instance = instance
        self.volume_allowlist = tuple(volume_allowlist) if volume_allowlist is not None else None
        self.max_log_bytes = max_log_bytes
        self.followers = livelog.LogFollowers(self.state_dir or Path("."), max_log_bytes)

    def start(self, request: RunRequest) -> ObservedRun:
        """Record a running container; the same checks and errors as the Docker engine."""
        limits.check_privileges(request)
        volumes.confine(volumes.parse_all(request.volumes), self.volume_allowlist)
        if request.memory:
            limits.memory_bytes(request.memory)
        if request.cpus is not None:
            limits.nano_cpus(request.cpus)
        with self.engine.lock:
            self.engine.check()
            images = self.engine.images
            if images is not None and _full_name(request.image) not in images:
                raise messages.missing_image(request.image, request.job_id)
            name = container_name(request.run_id)
            if name in self.engine.containers:
                raise messages.already_exists(request.run_id)
            container = FakeContainer(
                request=request,
                labels=labels.for_request(request, self.instance),
                state="running",
                started_at=self.engine.clock.now(),
            )
            self.engine.containers[name] = container
            return container.observed()

    def observe(self) -> list[ObservedRun]:
        with self.engine.lock:
            self.engine.check()
            return [c.observed() for c in self._mine()]

    def stop(self, run_id: str) -> None:
        with self.engine.lock:
            self.engine.check()
            container = self._own(run_id)
            if container is not None and container.state in ("created", "running"):
                self._end(container, KILLED, None)

    def logs(self, run_id: str) -> bytes:
        with self.engine.lock:
            return bytes(self._get(run_id).output)

    def logs_since(self, run_id: str, offset: int) -> bytes:
        with self.engine.lock:
            return bytes(self._get(run_id).output[offset:])

    def image_labels(self, image: str) -> dict[str, str]:
        with self.engine.lock:
            self.engine.check()
            name = _full_name(image)
            if self.engine.images is not None and name not in self.engine.images:
                raise messages.missing_image(image, "")
            return dict(self.engine.labels.get(name, {}))

    def remove(self, run_id: str) -> None:
        with self.engine.lock:
            self.engine.check()
            if self._own(run_id) is not None:
                self.engine.containers.pop(container_name(run_id), None)

    def write_log(self, run_id: str, job_id: str, redact: logfiles.Redact | None = None) -> Path:
        if self.state_dir is None:
            raise ExecutorError("this MemoryExecutor has no state_dir to write logs to")
        output = self.logs(run_id)
        return logfiles.save(self.state_dir, job_id, run_id, output, redact, self.max_log_bytes)

    def follow_log(self, run_id: str, job_id: str, redact: logfiles.Redact | None = None) -> None:
        """Copy the output to ``<run>.live`` as ``emit`` adds it, until the container ends."""
        if self.state_dir is not None:
            self.followers.follow(run_id, job_id, lambda: self._output_stream(run_id), redact)

    def engine_version(self) -> str:
        self.engine.check()
        return "memory"

    def close(self) -> None:
        """Nothing to release; here so both executors can be closed alike."""

    # -- the test's controls ---------------------------------------------------------------

    def finish(
        self,
        run_id: str,
        exit_code: int = 0,
        at: datetime | None = None,
        *,
        oom_killed: bool = False,
    ) -> ObservedRun:
        """Let a running container exit with ``exit_code`` at ``at`` (default: the clock's now)."""
        with self.engine.lock:
            container = self._get(run_id)
            if container.state != "running":
                raise ExecutorError(f"run {run_id} is not running (it is {container.state})")
            self._end(container, exit_code, at, oom_killed=oom_killed)
            return container.observed()

    def emit(self, run_id: str, output: bytes | str) -> None:
        """Append to the container's output, as if the command had printed it."""
        data = output.encode() if isinstance(output, str) else output
        with self.engine.lock:
            self._get(run_id).output.extend(data)
            self.engine.changed.notify_all()

    # -- helpers ---------------------------------------------------------------------------

    def _output_stream(self, run_id: str) -> Iterator[bytes]:
        """The output as it grows: what ``docker logs --follow`` is for the engine."""
        offset = 0
        while True:
            with self.engine.changed:
                container = self._own(run_id)
                if container is None:
                    return
                if len(container.output) == offset and container.state == "running":
                    self.engine.changed.wait(FOLLOW_WAIT)
                data, running = bytes(container.output[offset:]), container.state == "running"
            offset += len(data)
            if data:
                yield data
            if not running:
                return

    def _mine(self) -> list[FakeContainer]:
        return [
            c for c in self.engine.containers.values() if c.labels[labels.INSTANCE] == self.instance
        ]

    def _own(self, run_id: str) -> FakeContainer | None:
        container = self.engine.containers.get(container_name(run_id))
        return container if container and labels.owned_by(container.labels, self.instance) else None

    def _get(self, run_id: str) -> FakeContainer:
        self.engine.check()
        container = self._own(run_id)
        if container is None:
            raise messages.no_container(run_id)
        return container

    def _end(
        self, container: FakeContainer, code: int, at: datetime | None, *, oom_killed: bool = False
    ) -> None:
        container.state = "exited"
        container.exit_code = code
        container.finished_at = at or self.engine.clock.now()
        container.oom_killed = oom_killed
        self.engine.changed.notify_all()


def _full_name(image: str) -> str:
    """``busybox`` -> ``busybox:latest``, as the engine resolves a name without a tag."""
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in image else image + ":latest"
