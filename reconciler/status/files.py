"""Where the status files live and how they are written: paths, stable YAML, commit subjects.

Every reader and writer of the status branch (the git ledger, the recorder, the CLI, the web
pages) goes through these paths and this YAML, so a file written by one is read the same way
by the others. Output is deterministic: keys sorted, block style, times as ISO 8601 UTC text,
so a status commit's diff shows only what changed; loading keeps times as that text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import yaml

from reconciler.clock import iso
from reconciler.errors import LedgerError
from reconciler.model import RunRecord

__all__ = [
    "JOBS_DIR",
    "RECONCILER_PATH",
    "RUNS_DIR",
    "STATUS_DIR",
    "STATUS_SCHEMA_VERSION",
    "commit_message",
    "dump_yaml",
    "job_path",
    "job_runs_dir",
    "load_yaml",
    "render_run",
    "run_path",
    "short_revision",
    "under",
]

STATUS_SCHEMA_VERSION = 1

STATUS_DIR = "status/"
RECONCILER_PATH = "status/reconciler.yaml"
JOBS_DIR = "status/jobs/"
RUNS_DIR = "status/runs/"


def run_path(job_id: str, run_id: str) -> str:
    return f"{RUNS_DIR}{job_id}/{run_id}.yaml"


def job_path(job_id: str) -> str:
    return f"{JOBS_DIR}{job_id}.yaml"


def job_runs_dir(job_id: str) -> str:
    return f"{RUNS_DIR}{job_id}/"


def under(path: str, paths: Sequence[str]) -> bool:
    """Whether ``path`` is one of ``paths`` or lies under one (a directory, '/' or not)."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths)


def commit_message(runs: int, jobs: int, revision: str | None) -> str:
    """The deterministic subject of a status commit."""
    return f"oven: status {runs} runs, {jobs} jobs @ {short_revision(revision)}"


def short_revision(revision: str | None) -> str:
    """First 7 characters of a sha (of the hash for ``worktree:<hash>``), or ``none``."""
    return revision.rsplit(":", 1)[-1][:7] if revision else "none"


# -- YAML -------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as literal blocks, datetimes as ISO UTC text."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    value = value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from bad bytes
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(datetime, lambda d, v: _represent_str(d, iso(v) or ""))
_Dumper.add_representer(tuple, lambda d, v: d.represent_list(list(v)))
_Dumper.add_representer(frozenset, lambda d, v: d.represent_list(sorted(v)))


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading where times stay text (as written), never datetime objects."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def dump_yaml(data: Mapping[str, Any]) -> bytes:
    """Stable UTF-8 YAML: sorted keys, block style, unicode kept readable."""
    text: bytes = yaml.dump(
        dict(data),
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=120,
        encoding="utf-8",
    )
    return text


def load_yaml(data: bytes) -> dict[str, Any]:
    """Parse one status file (safe loader); an empty file is an empty mapping."""
    try:
        loaded = yaml.load(data, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise LedgerError(
            f"status file is not valid YAML: {exc}",
            hint="fix or delete the file on the status branch",
        ) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise LedgerError(
            "status file is not a mapping", hint="fix or delete the file on the status branch"
        )
    return loaded


def render_run(run: RunRecord) -> bytes:
    return dump_yaml(run.to_dict())
