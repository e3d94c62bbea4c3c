"""A whole config repo (its files at one revision) -> ``DesiredState``.

Each job file is parsed on its own, so one broken file never stops the others. Ids must be
unique across the repo: when several files claim one id, every one of them gets a problem and
none of them is loaded (``keep_last_good`` may still keep the definition a claimant had before).

Sources hand a manifest path that is a symbolic link (git mode 120000, a link on disk) as a
``Symlink`` instead of its content; the loader names it as a problem rather than skip it
silently or follow it out of the repo. A file name with control characters (or not UTF-8) is
a problem too, shown escaped.

Each file's outcome comes from a ``ParseCache`` (``cache.py``) by its git blob id: loading a
revision parses only the files no earlier load has seen with the same inherited settings.

A file whose parsing raises an exception that is not a problem (a bug) becomes a problem of
that file, logged with its traceback; the other files load as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from reconciler.errors import BUG_HINT
from reconciler.manifests.cache import DEFAULT, ParseCache, blob_id, context_key
from reconciler.manifests.files import Symlink, TreeFiles
from reconciler.manifests.job import ParsedJob, parse_job_file
from reconciler.manifests.loaded import Loaded
from reconciler.manifests.oven import OVEN_PATH, OvenSettings, load_oven
from reconciler.manifests.safe_yaml import FILE_FIELD
from reconciler.manifests.text import printable, show
from reconciler.model import DesiredState, Problem

log = logging.getLogger("oven")

JOBS_DIR = "jobs/"
SUFFIXES = (".yaml", ".yml")


def is_job_path(path: str) -> bool:
    """A job manifest: a .yaml or .yml file anywhere under jobs/."""
    return path.startswith(JOBS_DIR) and path.endswith(SUFFIXES)


def load_tree(
    files: Mapping[str, bytes],
    revision: str = "",
    volume_allowlist: Sequence[str] | None = (),
    cache: ParseCache | None = None,
) -> DesiredState:
    """Every job in ``files`` (repo-relative path -> content); other files are ignored.

    Parsed files come from ``cache`` (this process's memory cache when None). When ``files``
    is a git tree (``TreeFiles.tree``) the cache also keeps what the load worked out
    (``loaded.Loaded``): the same tree again costs nothing, and a tree listed as an earlier
    one's plus some paths (``TreeFiles.since``) is derived from it through those paths."""
    cache = DEFAULT if cache is None else cache
    allow = None if volume_allowlist is None else tuple(volume_allowlist)
    tree = files.tree if isinstance(files, TreeFiles) else None
    if tree is None:
        return _load_all(files, allow, cache).state(revision)
    assert isinstance(files, TreeFiles)
    loaded = cache.loaded(tree, allow)
    if loaded is None:
        base = cache.loaded(files.since[0], allow) if files.since else None
        if base is not None and files.since and OVEN_PATH not in files.since[1]:
            loaded = base.changed(files.since[1], _parser(files, base.settings, allow, cache))
        else:
            loaded = _load_all(files, allow, cache)
        cache.keep(tree, allow, loaded)
    return loaded.state(revision)


def _load_all(
    files: Mapping[str, bytes], allow: tuple[str, ...] | None, cache: ParseCache
) -> Loaded:
    """Every file parsed (or found in ``cache``)."""
    unusable = {path: text for path in files if (text := _unusable(files, path))}
    if OVEN_PATH in unusable:
        # like a broken oven.yaml: no defaults, no targets
        settings = OvenSettings(targets=None, notify=None)
    else:
        settings = load_oven(files.get(OVEN_PATH), OVEN_PATH)
    context = context_key(settings.defaults, allow, settings.targets)
    paths = [path for path in sorted(files) if is_job_path(path) and path not in unusable]
    blobs = {path: _blob_id(files, path) for path in paths}
    found = {path: cache.get(context, blobs[path], path) for path in paths}
    if isinstance(files, TreeFiles):
        files.prefetch(path for path, hit in found.items() if hit is None)

    def parse(path: str) -> ParsedJob | Problem | None:
        if path in unusable:
            refused = path == OVEN_PATH or is_job_path(path)
            return Problem(printable(path), 1, FILE_FIELD, unusable[path]) if refused else None
        if path not in found:
            return None
        job = found[path]
        if job is None:
            job = _parse_contained(path, files[path], settings.defaults, allow, settings.targets)
            cache.put(context, blobs[path], path, job)
        return job

    return Loaded(settings, context).changed([*unusable, *paths], parse)


def _parser(
    files: Mapping[str, bytes],
    settings: OvenSettings,
    allow: tuple[str, ...] | None,
    cache: ParseCache,
) -> Callable[[str], ParsedJob | Problem | None]:
    """How ``Loaded.changed`` reads a changed path of ``files`` (oven.yaml unchanged)."""
    context = context_key(settings.defaults, allow, settings.targets)

    def parse(path: str) -> ParsedJob | Problem | None:
        if path not in files or not is_job_path(path):
            return None
        if text := _unusable(files, path):
            return Problem(printable(path), 1, FILE_FIELD, text)
        blob = _blob_id(files, path)
        job = cache.get(context, blob, path)
        if job is None:
            job = _parse_contained(path, files[path], settings.defaults, allow, settings.targets)
            cache.put(context, blob, path, job)
        return job

    return parse


def _blob_id(files: Mapping[str, bytes], path: str) -> str:
    known = files.blob_id(path) if isinstance(files, TreeFiles) else None
    return known or blob_id(files[path])


def _unusable(files: Mapping[str, bytes], path: str) -> str | None:
    """``file_problem`` without reading a regular file of a ``TreeFiles``."""
    if isinstance(files, TreeFiles) and files.blob_id(path) is not None:
        return file_problem(path, b"")
    return file_problem(path, files[path])


def file_problem(path: str, content: bytes) -> str | None:
    """Why the file at ``path`` is not read at all: a symlink, or a name people cannot read."""
    if isinstance(content, Symlink):
        target = show(content.decode("utf-8", "replace"))
        return (
            f"is a symlink (to {target}); manifests must be regular files: copy the file, "
            "or share values through oven.yaml defaults"
        )
    if not path.isprintable():
        return "file name has control characters or is not UTF-8; rename the file"
    return None


def _parse_contained(
    path: str,
    data: bytes,
    defaults: Mapping[str, Any],
    volume_allowlist: Sequence[str] | None,
    targets: Collection[str] | None,
) -> ParsedJob:
    try:
        return parse_job_file(path, data, defaults, volume_allowlist, targets)
    except Exception as exc:  # a bug met in one file must not hide the other files
        log.error("%s: unexpected %s while loading", path, type(exc).__name__, exc_info=exc)
        text = f"cannot be loaded: unexpected {type(exc).__name__}: {exc} ({BUG_HINT})"
        return ParsedJob(path, None, (Problem(path, 1, FILE_FIELD, text),))
