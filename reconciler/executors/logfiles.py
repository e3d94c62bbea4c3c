"""Where a run's full log is kept on the reconciler's host: ``<state_dir>/logs/<job>/<run>.log``.

Shared by every executor's ``write_log``. Redaction of secret values is the caller's job;
it hands a ``redact`` function in, and only redacted text ever reaches the disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from reconciler.errors import ExecutorError

Redact = Callable[[str], str]


def log_path(state_dir: Path, job_id: str, run_id: str) -> Path:
    """The log file of one run; refuses ids that would leave the logs directory."""
    for name, value in (("job id", job_id), ("run id", run_id)):
        if not value or "/" in value or "\\" in value or value.startswith("."):
            raise ExecutorError(f"cannot store a log under the {name} {value!r}")
    return state_dir / "logs" / job_id / f"{run_id}.log"


def save(
    state_dir: Path, job_id: str, run_id: str, output: bytes, redact: Redact | None = None
) -> Path:
    """Write the output (redacted when a redact function is given) atomically; return the path."""
    path = log_path(state_dir, job_id, run_id)
    data = output if redact is None else redact(output.decode("utf-8", "replace")).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as exc:
        raise ExecutorError(
            f"cannot write the log of run {run_id} to {path}: {exc.strerror or exc}",
            hint="check that the state directory exists and is writable",
        ) from exc
    return path
