"""Full run logs live on the reconciler's disk; only a redacted tail goes into git.

``<state-dir>/logs/<job-id>/<run-id>.log`` holds the whole output of a run, with secret values
already replaced by ***.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def log_path(state_dir: Path, job_id: str, run_id: str) -> Path:
    return state_dir / "logs" / job_id / f"{run_id}.log"


def save_log(
    state_dir: Path, job_id: str, run_id: str, output: bytes, redact: Callable[[str], str]
) -> str:
    """Write the redacted log and return its text."""
    text = redact(output.decode("utf-8", "replace"))
    path = log_path(state_dir, job_id, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])
