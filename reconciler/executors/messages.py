"""The errors every executor raises for the same situations, worded once.

Executors differ in how they talk to an engine, not in what a user reads when something goes
wrong; the contract tests check these messages and hints against every executor.
"""

from __future__ import annotations

from reconciler.errors import EngineUnavailable, ExecutorError, RunAlreadyExists

ENGINE_HINT = "start Docker: sudo systemctl start docker, or run scripts/ensure-docker.sh"
IMAGE_HINT = "build it with `make images` or check the image name"


def engine_unavailable(action: str, detail: str = "") -> EngineUnavailable:
    suffix = f" ({detail})" if detail else ""
    return EngineUnavailable(f"cannot {action}: no Docker engine answers{suffix}", ENGINE_HINT)


def missing_image(image: str, job_id: str) -> ExecutorError:
    owner = f" of job {job_id}" if job_id else ""
    return ExecutorError(f"image {image!r}{owner} is not on this engine", IMAGE_HINT)


def already_exists(run_id: str) -> RunAlreadyExists:
    return RunAlreadyExists(
        f"a container for run {run_id} already exists",
        hint="the run counts as started; it is never started twice",
    )


def no_container(run_id: str) -> ExecutorError:
    return ExecutorError(
        f"no container for run {run_id}; its log is gone",
        hint="logs are kept until the run is recorded; see the saved log file",
    )
