"""The cluster executor: one Docker Swarm replicated-job service per run (``--executor swarm``).

Talks to a manager of an existing swarm (the engine DOCKER_HOST names). Every run becomes a
service in ``replicated-job`` mode (one task, at most one at a time, restart condition
``none``) named from the run id, so the swarm itself refuses a second start of the same run
(409 -> ``RunAlreadyExists``), exactly as container names do for ``DockerExecutor``. Services
and their containers carry the same labels (``executors.labels``); ``observe`` rebuilds the
picture from the services and their tasks, which is how a restarted reconciler adopts runs.

What a task's state means for a run:

    new ... running         running (the swarm has it: waiting for a node, pulling the
                            image, or running; ``created`` would read as "never started")
    complete, failed        exited with the container's exit code
    rejected, no container  dead, exit code 125 (the node could not create it; see the log)

Secrets (``RunRequest.secret_env``) never enter the service spec: each is a Swarm secret
created for the run (labelled with it, removed with it), mounted at ``/run/secrets/<NAME>``
and exported into the environment by a small ``sh`` shim before the image's own entrypoint
runs (so an image with secrets needs ``/bin/sh``, and the manager needs the image to read its
entrypoint). A task whose container is on this engine is read, killed and logged through it
(exact times, OOM kills, instant logs); one on another node through the swarm: its log via
``docker service logs`` and a stop that removes the service and leaves a tombstone (a Swarm
config holding the run's labels and the log up to then) so the run reads as killed (137).
A service is never updated: the swarm runs a job service again after any update of it.
``remove`` also removes the run's containers on this engine (found by its labels), which the
swarm leaves behind when the service goes; a task container on this engine whose service is
gone while nothing else shows its run (a removal cut short by a crash, a service removed by
hand) is observed as a run of its own, so it is settled and removed like any other.

What Swarm cannot do on engines before API 1.44: ``no-new-privileges`` and ``memory-swap``
(docs/cluster.md); capabilities, the process limit, user, read-only root and the log cap are
applied as with ``DockerExecutor``. Network ``bridge`` is the node's default bridge; ``none``
is refused (a swarm service cannot join the engine's ``none`` network).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import (
    ContainerSpec,
    Mount,
    Resources,
    RestartPolicy,
    SecretReference,
    ServiceMode,
    TaskTemplate,
)

from reconciler.clock import iso
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
from reconciler.executors.docker import observed_from
from reconciler.interfaces import ContainerState, ObservedRun, RunRequest
from reconciler.runids import container_name

log = logging.getLogger("oven.swarm")

LOG_BLOCK = 256 * 1024
MAX_NAME = 63  # service names are DNS labels
STOPPED_AT = labels.PREFIX + "stopped-at"
STARTED_AT = labels.PREFIX + "started-at"
SWARM_SERVICE = "com.docker.swarm.service.id"  # the label the swarm puts on a task's container
TOMBSTONE = b"agent-oven stopped run\n"  # heads the kept output (a config is never empty)
TOMBSTONE_LOG = 400 * 1024  # bytes of output a tombstone keeps (configs hold at most 500 KB)
SWEEP_EVERY = 60.0  # seconds between looks for secrets whose run never got a service
KILLED, REJECTED = 137, 125
SECRET_DIR = "/run/secrets"
# Exports every secret named in OVEN_SECRET_ENV from its file (trailing newlines kept), then
# runs the image's entrypoint and command.
SHIM = (
    'for n in $OVEN_SECRET_ENV; do v=$(cat "' + SECRET_DIR + '/$n"; printf x); '
    'export "$n=${v%x}"; done; unset OVEN_SECRET_ENV n v; exec "$@"'
)
WAITING: dict[str, ContainerState] = {
    state: "running"
    for state in ("new", "allocated", "pending", "assigned", "accepted", "preparing", "ready")
}
TASK_STATES: dict[str, ContainerState] = {
    **WAITING,
    "starting": "running",
    "running": "running",
    "complete": "exited",
    "failed": "exited",
    "shutdown": "exited",
    "rejected": "dead",
    "orphaned": "dead",
    "remove": "exited",
}
NETWORKS = ("bridge",)  # the node's default bridge: a task without networks is attached to it
STARTING = {"assigned", "accepted", "preparing", "ready", "starting"}  # on a node, not running
TERMINAL = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove"}
FOLLOW_POLL = 2.0  # seconds between reads of a service's log on another node (live log)
FOLLOW_PLACEMENT = 60.0  # seconds a live-log follower waits for the task to get a container


def service_name(run_id: str) -> str:
    """``oven-<run id>``, or its first part and a hash when that is longer than a DNS label."""
    name = container_name(run_id)
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
    return f"{name[: MAX_NAME - 13].rstrip('-.')}-{digest}"


def tombstone_name(run_id: str) -> str:
    return "stopped-" + hashlib.sha256(run_id.encode()).hexdigest()[:24]


class SwarmExecutor:
    """``interfaces.Executor`` on a Docker Swarm manager; ``instance`` as for DockerExecutor."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        state_dir: Path | str,
        instance: str = "default",
        stop_timeout: float = 30.0,
        volume_allowlist: Sequence[str] | None = None,
        max_log_bytes: int = logfiles.DEFAULT_MAX_LOG_BYTES,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.instance = instance
        self.stop_timeout = stop_timeout
        self.volume_allowlist = tuple(volume_allowlist) if volume_allowlist is not None else None
        self.max_log_bytes = max_log_bytes
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()
        self._node: str | None = None
        self._final: dict[str, ObservedRun] = {}  # run id -> its result, once it ended
        self._swept = 0.0
        self.followers = livelog.LogFollowers(self.state_dir, max_log_bytes)

    # -- the Executor protocol -------------------------------------------------------------

    def start(self, request: RunRequest) -> ObservedRun:
        """Create the run's service; RunAlreadyExists if one with its name exists (or existed
        and was stopped)."""
        limits.check_privileges(request)
        if request.network not in NETWORKS:
            raise ExecutorError(
                f"network {request.network!r} is not offered on a swarm: its services cannot "
                "join the engine's own none network",
                hint="use network: bridge for this job, or run it with --executor docker",
            )
        mounts = volumes.confine(volumes.parse_all(request.volumes), self.volume_allowlist)
        resources = _resources(request)
        with engine.translated(f"start run {request.run_id}"):
            image = self._image(request)
            if self._tombstone(request.run_id) is not None:
                raise messages.already_exists(request.run_id)
            secrets = self._create_secrets(request)
            try:
                spec = self._task_template(request, image, mounts, resources, secrets)
                self._create(request, spec)
            except BaseException:
                self._remove_secrets(request.run_id)
                raise
            return ObservedRun(
                state="running",
                image=request.image,
                started_at=datetime.now().astimezone(),
                **labels.run_fields(labels.for_request(request, self.instance)),
            )

    def observe(self) -> list[ObservedRun]:
        """Every service (and tombstone) of this instance, as runs."""
        with engine.translated("list the reconciler's services"):
            api = self._api()
            self._node_id()  # a clear error when the engine is no swarm manager
            services = api.services(filters={"label": labels.selector(self.instance)})
            tasks, gone = self._tasks([s["ID"] for s in services])
            services = [s for s in services if s["ID"] not in gone]
            found = [self._observed(s, tasks.get(s["ID"], [])) for s in services]
            stones = api.configs(filters={"label": labels.selector(self.instance)})
            seen = {run.run_id for run in found}
            found += [run for run in map(_from_tombstone, stones) if run and run.run_id not in seen]
            found += self._orphans({run.run_id for run in found})
            live = {run.run_id for run in found}
            self._final = {key: value for key, value in self._final.items() if key in live}
            self._sweep(live)
            return found

    def stop(self, run_id: str) -> None:
        """Kill the run; quiet if it ended or is gone. On this engine: wait until its task
        runs (at most ``stop_timeout``), SIGKILL its container and wait for the task to end.
        Elsewhere (or not placed yet): remove the service and keep a tombstone, so the run
        still reads as killed until it is removed."""
        with engine.translated(f"stop run {run_id}"):
            service = self._service(run_id)
            if service is None:  # an orphan task container may still run here (``_orphans``)
                for orphan in self._run_containers(run_id, running=True):
                    self._kill(orphan)
                return
            # a task this node was given but has not started yet is waited for: removing its
            # service then would leave the node to start its container anyway, unwatched
            deadline = time.monotonic() + self.stop_timeout
            while True:
                task = self._task(service["ID"])
                state = task["Status"]["State"] if task is not None else ""
                if state in TERMINAL:
                    return
                here = task is not None and task.get("NodeID") == self._node_id()
                container = self._local_container(task) if here and state == "running" else None
                if container is not None:
                    self._kill(container)
                    self._wait_ended(service["ID"])
                    return
                if not here or state not in STARTING or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self._bury(run_id, service)

    def logs(self, run_id: str) -> bytes:
        """The run's output, stdout and stderr interleaved."""
        return b"".join(self._log_chunks(run_id))

    def logs_since(self, run_id: str, offset: int) -> bytes:
        return self.logs(run_id)[offset:]

    def image_labels(self, image: str) -> dict[str, str]:
        """The labels of the image as the manager's engine has it."""
        with engine.translated(f"inspect image {image}"):
            try:
                attrs = self._api().inspect_image(image)
            except (ImageNotFound, NotFound) as exc:
                raise messages.missing_image(image, "") from exc
        found = (attrs.get("Config") or {}).get("Labels") or {}
        return {str(key): str(value) for key, value in found.items()}

    def remove(self, run_id: str) -> None:
        """Remove the service, its task's container (when on this engine), its secrets and its
        tombstone; quiet if they are gone."""
        with engine.translated(f"remove run {run_id}"):
            api = self._api()
            service = self._service(run_id)
            if service is not None:
                with contextlib.suppress(NotFound):
                    api.remove_service(service["ID"])
            # the swarm leaves the containers of finished tasks behind: remove the run's here,
            # found by its labels, so a removal cut short after the service went (a crash, an
            # error) or a service removed by ``_bury`` or by hand leaves none behind either
            for container in self._run_containers(run_id):
                try:
                    api.remove_container(container, force=True)
                except NotFound:
                    continue
                except APIError as exc:
                    if exc.status_code != 409:  # 409: removal already in progress
                        raise
            stone = self._tombstone(run_id)
            if stone is not None:
                with contextlib.suppress(NotFound):
                    api.remove_config(stone["ID"])
            self._remove_secrets(run_id)
            self._final.pop(run_id, None)

    def follow_log(self, run_id: str, job_id: str, redact: logfiles.Redact | None = None) -> None:
        """Stream the running task's output, redacted, to ``<run>.live`` (``livelog``)."""
        self.followers.follow(run_id, job_id, lambda: self._follow_stream(run_id), redact)

    def _follow_stream(self, run_id: str) -> Iterator[bytes]:
        """The task's output while it runs: ``docker logs --follow`` of its container when it
        runs on this engine; else the service's log read again every ``FOLLOW_POLL`` seconds
        (a service's log never ends by itself), each time from where the last read stopped."""
        with engine.translated(f"follow the log of run {run_id}"):
            service = self._service(run_id)
            if service is None:
                return
            task, container = self._task(service["ID"]), None
            deadline = time.monotonic() + FOLLOW_PLACEMENT
            while container is None and time.monotonic() < deadline:
                task = self._task(service["ID"])
                if task is not None and task["Status"].get("State") in TERMINAL:
                    break
                container = self._local_container(task)
                if (
                    container is None
                    and task is not None
                    and task.get("NodeID")
                    not in (
                        None,
                        "",
                        self._node_id(),
                    )
                ):
                    break  # placed on another node
                if container is None:
                    time.sleep(FOLLOW_POLL / 4)
            if container is not None:
                yield from engine.follow_logs(container)
                return
            sent = 0
            while True:
                task = self._task(service["ID"])
                ended = task is None or task["Status"].get("State") in TERMINAL
                output = b"".join(self._service_log_chunks(service["ID"]))
                if len(output) > sent:
                    yield output[sent:]
                    sent = len(output)
                if ended:
                    return
                time.sleep(FOLLOW_POLL)

    def write_log(self, run_id: str, job_id: str, redact: logfiles.Redact | None = None) -> Path:
        """Stream the run's log, redacted and capped, to ``<state_dir>/logs/<job>/<run>.log``."""
        output = self._log_chunks(run_id)
        return logfiles.save(self.state_dir, job_id, run_id, output, redact, self.max_log_bytes)

    def engine_version(self) -> str:
        """The manager's engine version; ExecutorError if it is not a swarm manager."""
        with engine.translated("ask the engine for its version"):
            self._node_id()
            return str(self._docker().version().get("Version", "unknown"))

    def close(self) -> None:
        with self._lock:
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None

    # -- starting --------------------------------------------------------------------------

    def _image(self, request: RunRequest) -> dict[str, Any]:
        """The image as the manager has it (its entrypoint and command are needed for the
        secrets shim); a registry image the manager has not pulled is left to the nodes."""
        api = self._api()
        try:
            return dict(api.inspect_image(request.image))
        except (ImageNotFound, NotFound):
            pass
        try:
            api.inspect_distribution(request.image)
        except APIError as exc:
            raise messages.missing_image(request.image, request.job_id) from exc
        if request.secret_env:
            raise ExecutorError(
                f"image {request.image!r} of job {request.job_id} is not on the manager, and a "
                "run with secrets needs its entrypoint",
                hint=f"docker pull {request.image} on the manager (docs/cluster.md)",
            )
        return {}

    def _create_secrets(self, request: RunRequest) -> list[SecretReference]:
        refs = []
        for name in request.secret_env:
            value = request.env.get(name)
            if value is None:
                continue
            secret_name = f"oven-{uuid.uuid4().hex[:24]}"
            created = self._api().create_secret(
                name=secret_name,
                data=value.encode(),
                labels=labels.for_request(request, self.instance),
            )
            refs.append(SecretReference(created["ID"], secret_name, filename=name))
        return refs

    def _task_template(
        self,
        request: RunRequest,
        image: dict[str, Any],
        mounts: list[volumes.VolumeSpec],
        resources: Resources,
        secrets: list[SecretReference],
    ) -> TaskTemplate:
        hidden = set(request.secret_env) if secrets else set()
        env = {"OVEN_JOB_ID": request.job_id, "OVEN_RUN_ID": request.run_id, **request.env}
        env = {key: value for key, value in env.items() if key not in hidden}
        command, args = None, list(request.command) or None
        if secrets:
            config = image.get("Config") or {}
            argv = [
                *(config.get("Entrypoint") or []),
                *(request.command or config.get("Cmd") or []),
            ]
            if not argv:
                raise ExecutorError(
                    f"image {request.image!r} has no command to run", hint="set command:"
                )
            command, args = ["/bin/sh", "-c", SHIM, "oven-secrets"], argv
            env["OVEN_SECRET_ENV"] = " ".join(ref["File"]["Name"] for ref in secrets)
        container = ContainerSpec(
            image=request.image,
            command=command,
            args=args,
            env=[f"{key}={value}" for key, value in env.items()],
            user=request.user,
            labels=labels.for_request(request, self.instance),
            mounts=[_mount(spec) for spec in mounts],
            read_only=request.read_only_rootfs,
            secrets=secrets or None,
            cap_drop=["ALL"],
            cap_add=list(request.capabilities) or None,
            stop_signal="SIGKILL",
            stop_grace_period=0,
        )
        return TaskTemplate(
            container_spec=container,
            resources=resources,
            restart_policy=RestartPolicy(condition="none", max_attempts=0),
            log_driver={"Name": "json-file", "Options": dict(limits.ENGINE_LOG)},
        )

    def _create(self, request: RunRequest, template: TaskTemplate) -> dict[str, Any]:
        try:
            return dict(
                self._api().create_service(
                    template,
                    name=service_name(request.run_id),
                    labels=labels.for_request(request, self.instance),
                    mode=ServiceMode("replicated-job", concurrency=1, replicas=1),
                )
            )
        except APIError as exc:
            if exc.status_code == 409:
                raise messages.already_exists(request.run_id) from exc
            raise ExecutorError(
                f"the swarm refused to create run {request.run_id}: {engine.explain(exc)}",
                hint="check the job's image, command, volumes and resources (docs/cluster.md)",
            ) from exc

    # -- observing -------------------------------------------------------------------------

    def _tasks(self, service_ids: list[str]) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
        """The tasks of these services, and the services removed since they were listed (the
        engine refuses a task filter naming a service that is gone: 404 for the whole list,
        as when a removal of this reconciler runs meanwhile)."""
        found: dict[str, list[dict[str, Any]]] = {}
        gone: set[str] = set()
        api = self._api()
        for at in range(0, len(service_ids), 100):
            chunk = service_ids[at : at + 100]
            try:
                tasks = list(api.tasks(filters={"service": chunk}))
            except NotFound:  # one of them went: ask for each alone
                tasks = []
                for service_id in chunk:
                    try:
                        tasks += api.tasks(filters={"service": service_id})
                    except NotFound:
                        gone.add(service_id)
            for task in tasks:
                found.setdefault(task["ServiceID"], []).append(task)
        return found, gone

    def _orphans(self, seen: set[str]) -> list[ObservedRun]:
        """Task containers on this engine whose service is gone and whose run is not
        otherwise seen: a removal cut short between the service and its container (a crash),
        or a service removed by hand. The swarm keeps such containers forever; reported as
        runs, they are settled and removed like any other."""
        api = self._api()
        wanted = [*labels.selector(self.instance), SWARM_SERVICE]
        found = []
        for summary in api.containers(all=True, filters={"label": wanted}):
            tags = summary.get("Labels") or {}
            run_id = tags.get(labels.RUN, "")
            if not run_id or run_id in seen:
                continue
            try:  # listed before the service was created, or gone since: not an orphan
                api.inspect_service(tags.get(SWARM_SERVICE, ""))
                continue
            except NotFound:
                pass
            attrs = self._inspect(str(summary["Id"]))
            if attrs is not None:
                found.append(observed_from(attrs))
                seen.add(run_id)
        return found

    def _observed(self, service: dict[str, Any], tasks: list[dict[str, Any]]) -> ObservedRun:
        fields: dict[str, Any] = labels.run_fields(_service_labels(service))
        done = self._final.get(fields["run_id"])
        if done is not None:
            return done
        image = str(service["Spec"]["TaskTemplate"]["ContainerSpec"].get("Image", ""))
        created = engine.timestamp(service.get("CreatedAt"))
        task = _newest(tasks)
        if task is None:
            return ObservedRun(state="running", image=image, started_at=created, **fields)
        state = task["Status"]["State"]
        status = TASK_STATES.get(state, "dead")
        when = engine.timestamp(task["Status"].get("Timestamp"))
        container = self._local_container(task)
        attrs = self._inspect(container) if container else None
        if attrs is not None:
            started = engine.timestamp(attrs["State"].get("StartedAt")) or created
        else:
            started = created
        if status not in ("exited", "dead"):
            return ObservedRun(state=status, image=image, started_at=started, **fields)
        code = (task["Status"].get("ContainerStatus") or {}).get("ExitCode")
        oom = False
        finished = when
        if attrs is not None:
            code = attrs["State"].get("ExitCode", code)
            oom = bool(attrs["State"].get("OOMKilled", False))
            finished = engine.timestamp(attrs["State"].get("FinishedAt")) or when
        if status == "dead" or not (task["Status"].get("ContainerStatus") or {}).get("ContainerID"):
            status, code = "dead", REJECTED
            log.warning(
                "run %s could not run on the swarm: %s",
                fields["run_id"],
                task["Status"].get("Err") or state,
            )
        run = ObservedRun(
            state=status,
            image=image,
            exit_code=int(code if code is not None else REJECTED),
            started_at=started,
            finished_at=finished,
            oom_killed=oom,
            **fields,
        )
        self._final[run.run_id] = run
        return run

    def _sweep(self, live: set[str]) -> None:
        """Remove secrets of runs that have no service (a start cut short by a crash)."""
        now = time.monotonic()
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        api = self._api()
        cutoff = datetime.now().astimezone() - timedelta(seconds=SWEEP_EVERY)
        for secret in api.secrets(filters={"label": labels.selector(self.instance)}):
            run_id = (secret.get("Spec", {}).get("Labels") or {}).get(labels.RUN, "")
            created = engine.timestamp(secret.get("CreatedAt"))
            if run_id in live or created is None or created > cutoff:
                continue
            if self._service(run_id) is None:
                try:
                    api.remove_secret(secret["ID"])
                except APIError:
                    continue

    # -- stopping --------------------------------------------------------------------------

    def _kill(self, container: str) -> None:
        api = self._api()
        try:
            api.kill(container, signal="SIGKILL")
        except NotFound:
            return
        except APIError as exc:
            if exc.status_code != 409:
                raise
        try:
            api.wait(container, timeout=self.stop_timeout)
        except NotFound:
            return

    def _wait_ended(self, service_id: str) -> None:
        """Until the swarm itself has seen the task end (it learns it from the node)."""
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline:
            task = self._task(service_id)
            if task is None or task["Status"]["State"] in TERMINAL:
                return
            time.sleep(0.05)

    def _bury(self, run_id: str, service: dict[str, Any]) -> None:
        """Stop a run the swarm runs elsewhere: keep its labels and output in a config, then
        remove the service (the swarm kills the task on its node)."""
        api = self._api()
        output = b"".join(self._service_log_chunks(service["ID"]))[-TOMBSTONE_LOG:]
        stone_labels = {
            **_service_labels(service),
            STOPPED_AT: iso(datetime.now().astimezone()) or "",
            STARTED_AT: str(service.get("CreatedAt", "")),
        }
        try:
            api.create_config(tombstone_name(run_id), TOMBSTONE + output, labels=stone_labels)
        except APIError as exc:
            if exc.status_code != 409:
                raise
        with contextlib.suppress(NotFound):
            api.remove_service(service["ID"])
        # the manager's view of a task lags its node: one it still calls starting may run
        # here already, and removing its service does not end it (seen under load)
        for container in self._run_containers(run_id, running=True):
            with contextlib.suppress(NotFound, APIError):
                api.kill(container, signal="SIGKILL")

    # -- logs ------------------------------------------------------------------------------

    def _log_chunks(self, run_id: str) -> Iterator[bytes]:
        with engine.translated(f"read the log of run {run_id}"):
            service = self._service(run_id)
            if service is None:
                stone = self._tombstone(run_id)
                if stone is None:
                    raise messages.no_container(run_id)
                data = self._api().inspect_config(stone["ID"])["Spec"].get("Data", "")
                yield base64.b64decode(data).removeprefix(TOMBSTONE)
                return
            container = self._local_container(self._task(service["ID"]))
            if container is not None:
                yield from frames.payloads(self._container_blocks(container))
            else:
                yield from self._service_log_chunks(service["ID"])

    def _container_blocks(self, container: str) -> Iterator[bytes]:
        api = self._api()
        params = {"stdout": 1, "stderr": 1, "follow": 0, "timestamps": 0}
        response = api._get(api._url("/containers/{0}/logs", container), params=params, stream=True)
        api._raise_for_status(response)
        with response:
            while block := response.raw.read(LOG_BLOCK):
                yield block

    def _service_log_chunks(self, service_id: str) -> Iterator[bytes]:
        output = self._api().service_logs(
            service_id, stdout=True, stderr=True, follow=False, timestamps=False, is_tty=False
        )
        for chunk in output:
            yield bytes(chunk)

    # -- lookups ---------------------------------------------------------------------------

    def _docker(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = engine.connect()
            return self._client

    def _api(self) -> docker.APIClient:
        return self._docker().api

    def _node_id(self) -> str:
        if self._node is None:
            swarm = self._api().info().get("Swarm") or {}
            if not swarm.get("ControlAvailable"):
                raise ExecutorError(
                    "the Docker engine is not a manager of a swarm "
                    f"(its swarm state is {swarm.get('LocalNodeState') or 'inactive'})",
                    hint="point DOCKER_HOST at a swarm manager, or `docker swarm init` "
                    "(docs/cluster.md); or run with --executor docker",
                )
            self._node = str(swarm.get("NodeID", ""))
        return self._node

    def _service(self, run_id: str) -> dict[str, Any] | None:
        """The run's service, if it exists and is this instance's."""
        try:
            service = self._api().inspect_service(service_name(run_id))
        except NotFound:
            return None
        return dict(service) if labels.owned_by(_service_labels(service), self.instance) else None

    def _tombstone(self, run_id: str) -> dict[str, Any] | None:
        try:
            stone = self._api().inspect_config(tombstone_name(run_id))
        except NotFound:
            return None
        own = labels.owned_by(stone.get("Spec", {}).get("Labels"), self.instance)
        return dict(stone) if own else None

    def _task(self, service_id: str) -> dict[str, Any] | None:
        try:
            return _newest(list(self._api().tasks(filters={"service": service_id})))
        except NotFound:  # the service went meanwhile
            return None

    def _local_container(self, task: dict[str, Any] | None) -> str | None:
        """The task's container id when it runs on this engine's node."""
        if task is None or task.get("NodeID") != self._node_id():
            return None
        found = (task["Status"].get("ContainerStatus") or {}).get("ContainerID")
        return str(found) if found else None

    def _run_containers(self, run_id: str, running: bool = False) -> list[str]:
        """The ids of the run's containers on this engine (only running ones if asked)."""
        wanted = [*labels.selector(self.instance), f"{labels.RUN}={run_id}"]
        found = self._api().containers(all=not running, filters={"label": wanted})
        return [str(container["Id"]) for container in found]

    def _inspect(self, container: str) -> dict[str, Any] | None:
        try:
            return dict(self._api().inspect_container(container))
        except NotFound:
            return None

    def _remove_secrets(self, run_id: str) -> None:
        api = self._api()
        wanted = [*labels.selector(self.instance), f"{labels.RUN}={run_id}"]
        for secret in api.secrets(filters={"label": wanted}):
            try:
                api.remove_secret(secret["ID"])
            except NotFound:
                continue
            except APIError as exc:  # still in use by a service being removed: swept later
                log.debug("secret of run %s not removed yet: %s", run_id, engine.explain(exc))


def _service_labels(service: dict[str, Any]) -> dict[str, str]:
    return dict((service.get("Spec") or {}).get("Labels") or {})


def _newest(tasks: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(tasks, key=lambda task: str(task.get("CreatedAt", "")), default=None)


def _from_tombstone(config: dict[str, Any]) -> ObservedRun | None:
    found = (config.get("Spec") or {}).get("Labels") or {}
    if STOPPED_AT not in found:
        return None
    return ObservedRun(
        state="exited",
        exit_code=KILLED,
        started_at=engine.timestamp(found.get(STARTED_AT)),
        finished_at=engine.timestamp(found.get(STOPPED_AT)),
        **labels.run_fields(found),
    )


def _resources(request: RunRequest) -> Resources:
    memory = limits.memory_bytes(request.memory) if request.memory else None
    cpus = limits.nano_cpus(request.cpus) if request.cpus is not None else None
    resources = Resources(cpu_limit=cpus, mem_limit=memory)
    resources.setdefault("Limits", {})["Pids"] = request.pids
    return resources


def _mount(spec: volumes.VolumeSpec) -> Mount:
    return Mount(target=spec.target, source=spec.source, type=spec.kind, read_only=spec.read_only)
