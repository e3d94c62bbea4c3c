"""The manifests of a config repo checked out on disk (``oven validate PATH``, local sources).

Reads the same files ``load_tree`` looks at: ``oven.yaml`` and ``jobs/**/*.yaml|yml``.
A manifest that is a symbolic link is never followed: it is handed on as a ``Symlink`` and
becomes a problem, as the same link committed to git does. Folders that are links are not
entered, and a file is read no further than one byte past the size limit, so a huge file
costs nothing but its problem.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import SourceError
from reconciler.manifests.cache import ParseCache
from reconciler.manifests.files import Symlink
from reconciler.manifests.oven import OVEN_PATH
from reconciler.manifests.safe_yaml import MAX_BYTES
from reconciler.manifests.tree import JOBS_DIR, is_job_path, load_tree
from reconciler.model import DesiredState


def read_worktree(root: Path | str) -> dict[str, bytes]:
    """Repo-relative path -> content of oven.yaml and every job manifest under ``root``."""
    base = Path(root)
    if not base.is_dir():
        raise SourceError(
            f"{base} is not a directory", hint="give the path of a config repo checkout"
        )
    real_base = base.resolve()
    files: dict[str, bytes] = {}
    jobs = base / JOBS_DIR
    candidates = [base / OVEN_PATH, *([] if jobs.is_symlink() else sorted(jobs.rglob("*")))]
    for path in candidates:
        relative = path.relative_to(base).as_posix()
        if relative != OVEN_PATH and not is_job_path(relative):
            continue
        if path.is_symlink():
            files[relative] = Symlink(os.fsencode(os.readlink(path)))
        elif path.is_file() and path.resolve().is_relative_to(real_base):
            files[relative] = _read(path)
    return files


def validate_worktree(
    root: Path | str, volume_allowlist: Sequence[str] | None = (), cache: ParseCache | None = None
) -> DesiredState:
    """Load and validate the checkout at ``root``; problems are in ``.problems``."""
    return load_tree(read_worktree(root), "", volume_allowlist, cache)


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SourceError(
            f"cannot read {path}: {exc.strerror}", hint="check file permissions"
        ) from exc
