"""One manifest file -> ``JobSpec`` for ``oven explain`` and ``oven next``, or an error to fix."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import ManifestError, UsageError
from reconciler.model import JobSpec


def load_job(path: Path, allow: tuple[str, ...] = ()) -> JobSpec:
    """The job the manifest at ``path`` defines; ``UsageError``/``ManifestError`` otherwise."""
    from reconciler.manifests import parse_job

    if not path.is_file():
        raise UsageError(f"{path}: no such manifest file")
    job, problems = parse_job(str(path), path.read_bytes(), volume_allowlist=allow)
    if job is None or problems:
        raise ManifestError(
            "; ".join(str(p) for p in problems),
            tuple(problems),
            hint="fix the manifest first (oven validate)",
        )
    return job
