"""From a job and its run record to the container request the executor starts.

Pure: the request carries everything the executor needs (image, command, env with secrets,
limits, what the container may do, labels' sources), or ``NotRunnable`` says why the job
cannot start at all.
"""

from __future__ import annotations

from reconciler.interfaces import RunRequest
from reconciler.model import DEFAULT_PIDS_LIMIT, ErrorInfo, JobSpec, RunRecord


class NotRunnable(Exception):
    """The job cannot be started at all; carries the error to record on its run."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(error.message)
        self.error = error


def build_request(job: JobSpec, record: RunRecord, secrets: dict[str, str]) -> RunRequest:
    """The container request for ``record`` (a run of ``job`` about to start)."""
    if job.type == "agent-pipeline":
        raise NotRunnable(
            ErrorInfo(
                "NotBuilt",
                "agent-pipeline jobs need the pipeline-runner image and its entrypoint, "
                "which this version of Agent Oven does not build yet",
                "keep the job disabled, or run the pipeline from a docker job for now",
            )
        )
    env = dict(job.env)
    env.update(secrets)
    return RunRequest(
        run_id=record.run_id,
        job_id=job.id,
        trigger=record.trigger,
        image=job.image or "",
        command=job.command,
        env=env,
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
