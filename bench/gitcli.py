"""The real git client for the benchmarks: a fixed identity, no user or system config."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.test",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.test",
}


def git(*args: str, cwd: Path | None = None, data: bytes | None = None) -> str:
    """Run git; its stdout, stripped. Raises CalledProcessError when git fails."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, input=data, capture_output=True, check=True
    )
    return done.stdout.decode().strip()
