"""Where the operator commands (``get``, ``describe``, ``logs``) read from, and how they print.

Two sources give the same ``Snapshot`` the web pages answer from: the status branch of
``--repo`` (read like ``oven status`` does) or a running daemon's JSON API (``--server``). A
``Console`` writes tables with rich: colours only on a terminal, none in a pipe or when
``NO_COLOR`` is set, and no wrapping in a pipe (a script reads whole lines).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env
from reconciler.errors import OvenError, UsageError
from reconciler.status.view import Snapshot

if TYPE_CHECKING:
    import httpx
    from rich.console import Console

RUNS_LIMIT = 1000  # the API's most runs per request
TIMEOUT = 10.0  # seconds for one request to the daemon

STATUS_STYLES = {
    "succeeded": "green",
    "failed": "bold red",
    "timed_out": "red",
    "lost": "red",
    "cancelled": "yellow",
    "missed": "yellow",
    "skipped": "dim",
    "pending": "cyan",
    "starting": "cyan",
    "running": "bold cyan",
}


def source_arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    """``--repo``/``--status-branch`` (the status branch) or ``--server`` (the daemon's API)."""
    options.add(
        parser,
        env,
        options.REPO.but(help="config repo whose status branch is read (or give --server)"),
        options.STATUS_BRANCH,
        options.SERVER,
    )


def read_snapshot(args: argparse.Namespace) -> Snapshot:
    """Reconciler file, job summaries and runs from ``--server`` or ``--repo``'s status branch."""
    if getattr(args, "server", None):
        return server_snapshot(args.server)
    if not getattr(args, "repo", None):
        raise UsageError(
            "nothing to read from: give --repo (or OVEN_REPO) or --server (or OVEN_SERVER)",
            hint="--repo reads the status branch from git; --server asks a running daemon",
        )
    return branch_snapshot(args.repo, args.status_branch)


def branch_snapshot(repo: str, status_branch: str) -> Snapshot:
    return read_branch(repo, status_branch)[0]


def read_branch(
    repo: str, status_branch: str, manifest_of: str | None = None
) -> tuple[Snapshot, Manifest | None]:
    """The status branch as a snapshot and, for job ``manifest_of``, its manifest file at the
    applied revision (None when there is no such job, file or revision)."""
    from reconciler.gitrepo import GitMirror
    from reconciler.ledger.reader import read_status_tree
    from reconciler.status.view import SnapshotBuilder

    manifest = None
    with tempfile.TemporaryDirectory(prefix="oven-get-") as tmp:
        mirror = GitMirror(repo, Path(tmp) / "mirror.git")
        tree = read_status_tree(mirror, status_branch)
        if tree is not None and manifest_of is not None:
            manifest = _manifest(mirror, tree.reconciler, tree.jobs.get(manifest_of) or {})
    if tree is None:
        raise UsageError(
            f"no branch {status_branch} in {repo}",
            hint="has a reconciler run against this repo yet?",
        )
    jobs = {job_id: {"job_id": job_id, **summary} for job_id, summary in tree.jobs.items()}
    return SnapshotBuilder().build(tree.reconciler, jobs, tree.runs.values()), manifest


@dataclass(frozen=True)
class Manifest:
    """A job's manifest file as the daemon applied it."""

    path: str
    revision: str
    text: str


def _manifest(
    mirror: Any, reconciler: Mapping[str, Any], job: Mapping[str, Any]
) -> Manifest | None:
    revision, path = reconciler.get("applied_revision"), job.get("config_path")
    if not revision or not path:
        return None
    try:
        data = mirror.read_files(str(revision), (str(path),)).get(str(path))
    except OvenError:  # a revision gone from the remote (force-push): nothing to show
        return None
    if data is None:
        return None
    return Manifest(str(path), str(revision), data.decode("utf-8", errors="replace"))


def server_snapshot(server: str) -> Snapshot:
    overview = server_json(server, "/api/v1/snapshot")
    runs = server_json(server, f"/api/v1/runs?limit={RUNS_LIMIT}").get("runs", [])
    jobs = {job["job_id"]: job for job in overview.get("jobs", []) if "job_id" in job}
    return Snapshot(
        reconciler=overview.get("reconciler") or {},
        jobs=jobs,
        runs={run["run_id"]: run for run in runs if "run_id" in run},
    )


def server_get(server: str, path: str) -> httpx.Response:
    """GET ``path`` of the daemon at ``server``; an unreachable daemon is a UsageError."""
    import httpx

    url = server.rstrip("/") + path
    try:
        return httpx.get(url, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise UsageError(
            f"cannot reach the daemon at {server}: {exc}",
            hint="is `oven run` listening there? --server takes the address of its status page",
        ) from exc


def server_json(server: str, path: str) -> dict[str, Any]:
    response = server_get(server, path)
    if response.status_code != 200:
        raise UsageError(f"{server}{path} answered {response.status_code}: {_error(response)}")
    data = response.json()
    if not isinstance(data, dict):
        raise UsageError(f"{server}{path} did not answer a JSON object")
    return data


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("error", body)) if isinstance(body, Mapping) else str(body)


def quoted(value: str) -> str:
    return quote(value, safe="")


# -- printing ----------------------------------------------------------------------------------
def console(ctx: Context) -> Console:
    """A rich console on the context's stdout: colours on a terminal unless NO_COLOR is set."""
    from rich.console import Console

    terminal = _isatty(ctx.stdout)
    colour = terminal and not ctx.env.get("NO_COLOR")
    return Console(
        file=ctx.stdout,
        force_terminal=terminal,
        no_color=not colour,
        color_system="auto" if colour else None,
        width=None if terminal else 10_000,  # a pipe gets whole lines, never wrapped
        highlight=False,
        soft_wrap=not terminal,
        _environ=dict(ctx.env),
    )


def show(ctx: Context, *renderables: Any) -> None:
    """Print rich renderables (markup allowed); in a pipe without the padding rich puts at the
    end of table lines, so a script's lines end where their text does."""
    out = console(ctx)
    if out.is_terminal:
        for renderable in renderables:
            out.print(renderable)
        return
    with out.capture() as captured:
        for renderable in renderables:
            out.print(renderable)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    ctx.out(text)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def styled(status: str) -> str:
    """A run status in its colour (rich markup; plain text where colours are off)."""
    from rich.markup import escape

    style = STATUS_STYLES.get(status)
    return f"[{style}]{escape(status)}[/]" if style else escape(status)
