"""The default executor: one container per run on the local Docker engine (docker SDK).

The container name is derived from the run id, so the engine itself refuses a second start of
the same run (409 -> ``RunAlreadyExists``). Containers carry labels (``executors.labels``) and
are kept after they exit until the reconciler has recorded the result and calls ``remove``;
``observe`` rebuilds the whole picture from the engine, which is how a restarted reconciler
adopts runs still going. Every docker/requests exception is translated here into
``reconciler.errors`` with a hint. Calls block; the reconcile loop runs them in worker threads.

Least privilege (docs/security.md): every container drops all capabilities (a manifest may add
back some from ``model.ALLOWED_CAPABILITIES``), runs with ``no-new-privileges``, a process
limit, memory-swap equal to memory, a capped engine log, and only the network, user and root
filesystem mode its manifest asks for. Bind mounts are resolved and checked against the volume
allow-list again right before creation (``volumes.confine``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import _create_container_args
from docker.types import LogConfig, Mount

from reconciler.errors import ExecutorError
from reconciler.executors import (
    engine,
    frames,
    labels,
    limits,
    livelog,
    logfiles,
    messages,
    volumes,
)
from reconciler.interfaces import ContainerState, ObservedRun, RunRequest
from reconciler.runids import container_name

LOG_BLOCK = 256 * 1024  # bytes read from the engine's log stream at a time
WAKING_EVENTS = frozenset({"die", "destroy", "oom"})  # a run ended or vanished: tick now
INSPECT_CONCURRENCY = 4  # containers observe() inspects at once (new in a state)

log = logging.getLogger("oven")

STATES: dict[str, ContainerState] = {
    "created": "created",
    "running": "running",
    "paused": "running",
    "restarting": "running",
    "removing": "exited",
    "exited": "exited",
    "dead": "dead",
}


class DockerExecutor:
    """``interfaces.Executor`` on a Docker engine; ``instance`` separates reconcilers sharing it."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        state_dir: Path | str,
        instance: str = "default",
        stop_timeout: float = 30.0,
        volume_allowlist: Sequence[str] | None = None,
        max_log_bytes: int = logfiles.DEFAULT_MAX_LOG_BYTES,
        pool_size: int = 10,
    ) -> None:
        """``volume_allowlist``: host directories bind mounts must resolve into (None: not
        checked here, only when manifests load); ``max_log_bytes``: cap of a saved log;
        ``pool_size``: engine connections kept (calls from more threads at once wait)."""
        self.pool_size = pool_size
        self.state_dir = Path(state_dir)
        self.instance = instance
        self.stop_timeout = stop_timeout
        self.volume_allowlist = tuple(volume_allowlist) if volume_allowlist is not None else None
        self.max_log_bytes = max_log_bytes
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()
        # what observe() saw, by (container id, state): a container is inspected once per state
        self._inspected: dict[tuple[str, str], ObservedRun] = {}
        self._inspector: ThreadPoolExecutor | None = None  # inspects of observe(), at once
        self._starting: set[str] = set()  # run ids whose start() has not returned
        self._watch_stop = threading.Event()
        self._events: Any = None  # the open event stream (closed by close())
        self.followers = livelog.LogFollowers(self.state_dir, max_log_bytes)

    # -- the Executor protocol -------------------------------------------------------------

    def start(self, request: RunRequest) -> ObservedRun:
        """Create and start the run's container; RunAlreadyExists if its name is taken.

        Two engine calls (create, start): the answer is built from the request, with our
        clock's time of the start as ``started_at`` (the engine's is read when it ends)."""
        options = self._create_options(request)
        with self._lock:
            self._starting.add(request.run_id)
        try:
            with engine.translated(f"start run {request.run_id}"):
                container_id = self._create(request, options)
                self._start(container_id, request.run_id)
                started = ObservedRun(
                    state="running",
                    image=request.image,
                    started_at=datetime.now(UTC),
                    **labels.run_fields(options["labels"]),
                )
                with self._lock:
                    self._inspected[(container_id, "running")] = started
                return started
        finally:
            with self._lock:
                self._starting.discard(request.run_id)

    def observe(self) -> list[ObservedRun]:
        """Every container of this instance, running or finished.

        One ``list`` call (sparse: no inspect per container); a container is inspected only
        the first time it is seen in a state (for its exit code and times), up to
        ``INSPECT_CONCURRENCY`` at once (30 runs ending together cost one inspect's time,
        not 30). Always a fresh list: the event stream (``watch``) only says when to look,
        never what is there."""
        with engine.translated("list the reconciler's containers"):
            api = self._docker().api
            found = api.containers(all=True, filters={"label": labels.selector(self.instance)})
            with self._lock:
                starting = {s["Id"] for s in found if _run_of(s) in self._starting}
                unknown = [
                    s
                    for s in found
                    if _state_key(s) not in self._inspected and s["Id"] not in starting
                ]
            if len(unknown) > 1:  # inspected together; the loop below finds them known
                if self._inspector is None:
                    self._inspector = ThreadPoolExecutor(
                        INSPECT_CONCURRENCY, thread_name_prefix="oven-inspect"
                    )
                list(self._inspector.map(partial(self._observed, api), unknown))
            picture: dict[str, ObservedRun] = {}
            for summary in found:
                if summary["Id"] in starting:  # an inspect would wait for its start to end
                    picture[str(summary["Id"])] = _listed(summary)
                    continue
                observed = self._observed(api, summary)
                if observed is not None:
                    picture[str(summary["Id"])] = observed
        with self._lock:
            for key in [k for k in self._inspected if k[0] not in picture]:
                del self._inspected[key]  # gone from the engine
        return list(picture.values())

    def watch(self, wake: Callable[[], None]) -> None:
        """Follow the engine's events for this instance's containers in a thread, calling
        ``wake`` when one ends or goes (and on every connect, as events may have been missed)."""
        thread = threading.Thread(
            target=self._follow_events, args=(wake,), name="oven-events", daemon=True
        )
        thread.start()

    def stop(self, run_id: str) -> None:
        """SIGKILL the container and wait until it stopped; quiet if it stopped or is gone."""
        name = container_name(run_id)
        with engine.translated(f"stop run {run_id}"):
            api = self._docker().api
            if not self._owns(name):
                return  # gone, or another instance's run with the same id: not ours to stop
            try:
                api.kill(name, signal="SIGKILL")
            except NotFound:
                return
            except APIError as exc:
                if exc.status_code != 409:  # 409: the container is not running
                    raise
            try:
                api.wait(name, timeout=self.stop_timeout)
            except NotFound:
                return

    def logs(self, run_id: str) -> bytes:
        """Everything the container wrote to stdout and stderr, interleaved, without timestamps."""
        with engine.translated(f"read the log of run {run_id}"):
            if not self._owns(container_name(run_id)):
                raise messages.no_container(run_id)
            try:
                output = self._docker().api.logs(
                    container_name(run_id), stdout=True, stderr=True, timestamps=False
                )
            except NotFound as exc:
                raise messages.no_container(run_id) from exc
            return bytes(output)

    def logs_since(self, run_id: str, offset: int) -> bytes:
        """The output after its first ``offset`` bytes (the engine sends it whole; we slice)."""
        return self.logs(run_id)[offset:]

    def image_labels(self, image: str) -> dict[str, str]:
        """The image's labels; ExecutorError naming the image if the engine does not have it."""
        with engine.translated(f"inspect image {image}"):
            try:
                attrs = self._docker().api.inspect_image(image)
            except ImageNotFound as exc:
                raise messages.missing_image(image, "") from exc
            except NotFound as exc:
                raise messages.missing_image(image, "") from exc
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        return {str(key): str(value) for key, value in labels.items()}

    def remove(self, run_id: str) -> None:
        """Force-remove the container; quiet if it is already gone."""
        with engine.translated(f"remove run {run_id}"):
            if not self._owns(container_name(run_id)):
                return
            try:
                self._docker().api.remove_container(container_name(run_id), force=True)
            except NotFound:
                return
            except APIError as exc:
                if exc.status_code != 409:  # 409: removal already in progress
                    raise

    # -- beyond the protocol ---------------------------------------------------------------

    def write_log(self, run_id: str, job_id: str, redact: logfiles.Redact | None = None) -> Path:
        """Stream the run's log, redacted and capped, to ``<state_dir>/logs/<job>/<run>.log``."""
        with engine.translated(f"read the log of run {run_id}"):
            output = frames.payloads(self._log_blocks(container_name(run_id), run_id))
            return logfiles.save(self.state_dir, job_id, run_id, output, redact, self.max_log_bytes)

    def follow_log(self, run_id: str, job_id: str, redact: logfiles.Redact | None = None) -> None:
        """Stream the running container's output, redacted, to ``<run>.live`` (``livelog``)."""
        self.followers.follow(run_id, job_id, lambda: self._follow_stream(run_id), redact)

    def _follow_stream(self, run_id: str) -> Iterator[bytes]:
        """The run's container's output as the engine sends it (``engine.follow_logs``)."""
        with engine.translated(f"follow the log of run {run_id}"):
            yield from engine.follow_logs(container_name(run_id))

    def engine_version(self) -> str:
        """The engine's version; EngineUnavailable if none answers (for ``oven doctor``)."""
        with engine.translated("ask the engine for its version"):
            return str(self._docker().version().get("Version", "unknown"))

    def close(self) -> None:
        """Stop following events; close the connection if this executor opened it."""
        self._watch_stop.set()
        if self._inspector is not None:
            self._inspector.shutdown(wait=False)
        events = self._events
        if events is not None:
            with suppress(Exception):
                events.close()
        with self._lock:
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None

    # -- helpers ---------------------------------------------------------------------------

    def _docker(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = engine.connect(self.pool_size)
            return self._client

    def _log_blocks(self, name: str, run_id: str) -> Iterator[bytes]:
        """The raw log stream of a (non-TTY) container in blocks of up to ``LOG_BLOCK``.

        Uses the SDK's request helpers rather than ``api.logs(stream=True)``, whose reader
        makes two socket reads per frame (see ``frames``)."""
        api = self._docker().api
        params = {"stdout": 1, "stderr": 1, "follow": 0, "timestamps": 0}
        response = api._get(api._url("/containers/{0}/logs", name), params=params, stream=True)
        try:
            api._raise_for_status(response)
        except NotFound as exc:
            raise messages.no_container(run_id) from exc
        with response:
            while block := response.raw.read(LOG_BLOCK):
                yield block

    def _observed(self, api: Any, summary: dict[str, Any]) -> ObservedRun | None:
        """One container of a sparse list, inspected once per state; None if it is gone."""
        container_id = str(summary["Id"])
        key = _state_key(summary)
        with self._lock:
            known = self._inspected.get(key)
        if known is not None:
            return known
        try:
            observed = observed_from(api.inspect_container(container_id))
        except NotFound:
            return None  # removed between the list and now
        with self._lock:
            self._inspected[key] = observed
        return observed

    def _follow_events(self, wake: Callable[[], None]) -> None:
        """The event loop of ``watch``: reconnects after a second when the stream breaks."""
        filters = {"type": ["container"], "label": labels.selector(self.instance)}
        while not self._watch_stop.is_set():
            try:
                api = self._docker().api
                self._events = events = api.events(filters=filters, decode=True)
                wake()  # events may have been missed while not connected
                for event in events:
                    if event.get("Action", event.get("status")) in WAKING_EVENTS:
                        wake()
            except Exception as exc:  # the engine went away or the stream timed out
                if not self._watch_stop.is_set():
                    log.debug("engine event stream ended: %s; reconnecting", exc)
            self._watch_stop.wait(1.0)

    def _owns(self, name: str) -> bool:
        """The container exists and carries this instance's labels."""
        try:
            attrs = self._docker().api.inspect_container(name)
        except NotFound:
            return False
        return labels.owned_by((attrs.get("Config") or {}).get("Labels"), self.instance)

    def _create_options(self, request: RunRequest) -> dict[str, Any]:
        limits.check_privileges(request)
        env = {"OVEN_JOB_ID": request.job_id, "OVEN_RUN_ID": request.run_id, **request.env}
        mounts = volumes.confine(volumes.parse_all(request.volumes), self.volume_allowlist)
        options: dict[str, Any] = {
            "name": container_name(request.run_id),
            "command": list(request.command) or None,
            "environment": env,
            "mounts": [_mount(spec) for spec in mounts],
            "labels": labels.for_request(request, self.instance),
            "privileged": False,
            "security_opt": ["no-new-privileges"],
            "cap_drop": ["ALL"],
            "cap_add": list(request.capabilities) or None,
            "pids_limit": request.pids,
            "log_config": LogConfig(type=LogConfig.types.JSON, config=dict(limits.ENGINE_LOG)),
            "network_mode": request.network,
            "read_only": request.read_only_rootfs,
        }
        if request.user:
            options["user"] = request.user
        if request.memory:
            options["mem_limit"] = options["memswap_limit"] = limits.memory_bytes(request.memory)
        if request.cpus is not None:
            options["nano_cpus"] = limits.nano_cpus(request.cpus)
        return options

    def _create(self, request: RunRequest, options: dict[str, Any]) -> str:
        """Create the container with one engine call; its id."""
        api = self._docker().api
        create = _create_container_args(dict(options, image=request.image, version=api._version))
        try:
            return str(api.create_container(**create)["Id"])
        except ImageNotFound as exc:
            raise messages.missing_image(request.image, request.job_id) from exc
        except APIError as exc:
            if exc.status_code == 409:
                raise messages.already_exists(request.run_id) from exc
            raise ExecutorError(
                f"the engine refused to create run {request.run_id}: {engine.explain(exc)}",
                hint="check the job's image, command, volumes and resources",
            ) from exc

    def _start(self, container_id: str, run_id: str) -> None:
        try:
            self._docker().api.start(container_id)
        except APIError as exc:
            # The container exists but never ran: remove it so it is not taken for a live run.
            self.remove(run_id)
            raise ExecutorError(
                f"the engine could not start run {run_id}: {engine.explain(exc)}",
                hint="check that the command exists in the image and the volumes are valid",
            ) from exc


def _run_of(summary: dict[str, Any]) -> str:
    return str((summary.get("Labels") or {}).get(labels.RUN, ""))


def _listed(summary: dict[str, Any]) -> ObservedRun:
    """A container of a sparse list from its labels alone: one whose start is still going."""
    state: ContainerState = "created" if summary.get("State") == "created" else "running"
    fields = labels.run_fields(summary.get("Labels") or {})
    return ObservedRun(state=state, image=str(summary.get("Image", "")), **fields)


def _state_key(summary: dict[str, Any]) -> tuple[str, str]:
    """A listed container's (id, state): what ``observe`` inspects once."""
    return str(summary["Id"]), str(summary.get("State", ""))


def observed_from(attrs: dict[str, Any]) -> ObservedRun:
    """Map ``docker inspect`` output of one labelled container to an ``ObservedRun``."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    status = STATES.get(str(state.get("Status", "")), "dead")
    if status == "created" and state.get("Error"):
        status = "dead"  # a start that failed: it will never run
    finished = status in ("exited", "dead")
    fields: dict[str, Any] = labels.run_fields(config.get("Labels") or {})
    return ObservedRun(
        state=status,
        image=str(config.get("Image", "")),
        exit_code=int(state.get("ExitCode", 0)) if finished else None,
        started_at=engine.timestamp(state.get("StartedAt")),
        finished_at=engine.timestamp(state.get("FinishedAt")) if finished else None,
        oom_killed=bool(state.get("OOMKilled", False)),
        **fields,
    )


def _mount(spec: volumes.VolumeSpec) -> Mount:
    return Mount(target=spec.target, source=spec.source, type=spec.kind, read_only=spec.read_only)
