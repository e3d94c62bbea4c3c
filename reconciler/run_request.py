"""From a job and its run record to the container request the executor starts.

Pure: the request carries everything the executor needs (image, command, env with secrets,
mounts, user, limits, what the container may do, labels' sources), or ``NotRunnable`` says why
the job cannot start at all. A docker job runs its own image and command. An agent-pipeline job
runs the runner image on its per-run checkout, prepared beforehand by the cycle
(``PipelineLaunch``)::

    command   oven-pipeline <pipeline>          (the runner's entry script)
    mounts    <checkout>:/work:rw, the checkout's own mounts, host-login files read-only
    env       the job's env and secrets, the auth mode's credentials, the checkout's push
              credential, OVEN_MODEL (the job's model:)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from reconciler.interfaces import RunRequest, Workspace
from reconciler.model import DEFAULT_PIDS_LIMIT, ErrorInfo, JobSpec, RunRecord

RUNNER_COMMAND = "oven-pipeline"  # the runner image's entry script: oven-pipeline <name>
WORK_DIR = "/work"  # where the checkout is mounted in the runner container
MODEL_VARIABLE = "OVEN_MODEL"


class NotRunnable(Exception):
    """The job cannot be started at all; carries the error to record on its run."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class PipelineLaunch:
    """What the cycle prepared for one agent-pipeline run before it may start."""

    image: str  # the runner image
    workspace: Workspace  # the run's checkout
    auth_env: Mapping[str, str] = field(default_factory=dict)  # the auth mode's credentials
    auth_volumes: tuple[str, ...] = ()  # host-login files, read-only


def build_request(
    job: JobSpec,
    record: RunRecord,
    secrets: dict[str, str],
    launch: PipelineLaunch | None = None,
) -> RunRequest:
    """The container request for ``record`` (a run of ``job`` about to start)."""
    env = dict(job.env)
    env.update(secrets)
    request = RunRequest(
        run_id=record.run_id,
        job_id=job.id,
        trigger=record.trigger,
        image=job.image or "",
        command=job.command,
        env=env,
        secret_env=tuple(sorted(secrets)),
        volumes=job.volumes,
        memory=job.resources.memory,
        cpus=job.resources.cpus,
        pids=job.resources.pids or DEFAULT_PIDS_LIMIT,
        user=job.user,
        read_only_rootfs=job.read_only_rootfs,
        network=job.network,
        capabilities=job.capabilities,
        scheduled_for=record.scheduled_for,
        attempt=record.attempt,
        retry_of=record.retry_of,
        config_revision=record.config_revision,
        idempotency_key=record.idempotency_key,
    )
    if job.type != "agent-pipeline":
        return request
    if launch is None or not job.pipeline:
        raise NotRunnable(
            ErrorInfo(
                "NotPrepared",
                "an agent-pipeline run needs a checkout of its source repo, and none was made",
                "this is a bug in Agent Oven: report it with the reconciler's log",
            )
        )
    workspace = launch.workspace
    env.update(launch.auth_env)
    env.update(workspace.env)
    if job.model:
        env[MODEL_VARIABLE] = job.model
    return replace(
        request,
        image=launch.image,
        command=(RUNNER_COMMAND, job.pipeline),
        env=env,
        secret_env=tuple(sorted({*secrets, *launch.auth_env, *workspace.env})),
        volumes=(f"{workspace.path}:{WORK_DIR}:rw", *workspace.volumes, *launch.auth_volumes),
        user=workspace.user,
    )
