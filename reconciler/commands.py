"""The ``oven`` subcommands: each ``add_*`` declares one command and its handler.

Handlers parse, call into the library and print; they hold no policy of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli import existing_dir, print_json
from reconciler.clock import SystemClock, iso, utc
from reconciler.errors import UsageError
from reconciler.model import DesiredState, JobSpec

if TYPE_CHECKING:
    from reconciler.requests import RequestSpool
    from reconciler.source.gitrepo import GitMirror
    from reconciler.status import StatusTree

Sub = Any  # argparse's private _SubParsersAction


def _env(name: str, default: str) -> str:
    return os.environ.get(f"OVEN_{name}", default)


def _time_arg(text: str) -> datetime:
    try:
        return utc(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc


def _allow_volume(parser: argparse.ArgumentParser) -> None:
    default = [p for p in _env("ALLOW_VOLUMES", "").split(":") if p]
    parser.add_argument(
        "--allow-volume",
        action="append",
        default=default,
        metavar="HOST_DIR",
        help="host directory jobs may bind-mount (repeatable; env OVEN_ALLOW_VOLUMES, "
        "':'-separated)",
    )


# -- run ------------------------------------------------------------------------------------
def add_run(commands: Sub) -> None:
    p = commands.add_parser("run", help="run the reconciler daemon and the status page")
    p.add_argument(
        "--repo", default=_env("REPO", ""), help="config repo: path, file://, git://, http(s)://"
    )
    p.add_argument("--branch", default=_env("BRANCH", "main"))
    p.add_argument("--status-branch", default=_env("STATUS_BRANCH", "oven-status"))
    p.add_argument("--listen", default=_env("LISTEN", "127.0.0.1:8080"), metavar="HOST:PORT")
    p.add_argument(
        "--interval", type=float, default=float(_env("INTERVAL", "30")), metavar="SECONDS"
    )
    p.add_argument("--state-dir", type=Path, default=Path(_env("STATE_DIR", ".oven-state")))
    p.add_argument("--secrets-file", type=Path, default=None)
    p.add_argument("--instance", default=_env("INSTANCE", "default"))
    p.add_argument(
        "--watch",
        action="store_true",
        help="--repo is a local git working tree: read manifests from disk, react to edits",
    )
    p.add_argument(
        "--heartbeat", type=float, default=float(_env("HEARTBEAT", "300")), metavar="SECONDS"
    )
    p.add_argument("--keep-runs", type=int, default=int(_env("KEEP_RUNS", "50")))
    p.add_argument("--tick", type=float, default=float(_env("TICK", "1")), metavar="SECONDS")
    _allow_volume(p)
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from reconciler.loop import run_daemon
    from reconciler.settings import Settings

    if not args.repo:
        raise UsageError("--repo is required", hint="oven run --repo /path/or/url/of/config-repo")
    settings = Settings(
        repo=args.repo,
        branch=args.branch,
        status_branch=args.status_branch,
        listen=args.listen,
        interval=args.interval,
        state_dir=args.state_dir.resolve(),
        volume_allowlist=tuple(args.allow_volume),
        secrets_file=args.secrets_file,
        tick=args.tick,
        heartbeat=args.heartbeat,
        keep_runs=args.keep_runs,
        instance=args.instance,
        watch=args.watch,
    )
    return asyncio.run(run_daemon(settings))


# -- validate -------------------------------------------------------------------------------
def add_validate(commands: Sub) -> None:
    p = commands.add_parser("validate", help="check every manifest of a config repo working tree")
    p.add_argument("path", type=existing_dir, metavar="PATH")
    p.add_argument("--json", action="store_true")
    _allow_volume(p)
    p.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from reconciler.manifests import validate_worktree

    # without --allow-volume the reconciler's allow-list is unknown here: skip that one check
    allow = tuple(args.allow_volume) if args.allow_volume else None
    state = validate_worktree(args.path, volume_allowlist=allow)
    files = len({p.path for p in state.problems})
    summary = f"{len(state.jobs)} jobs valid, {len(state.problems)} problems in {files} files"
    if args.json:
        print_json(
            {
                "jobs": sorted(state.jobs),
                "problems": [p.to_dict() for p in state.problems],
                "summary": summary,
            }
        )
    else:
        for problem in state.problems:
            print(problem)
        print(summary, file=sys.stderr if state.problems else sys.stdout)
    return 1 if state.problems else 0


# -- plan -----------------------------------------------------------------------------------
def add_plan(commands: Sub) -> None:
    p = commands.add_parser("plan", help="show how jobs and schedules change between two revisions")
    p.add_argument("--repo", required=True, metavar="PATH_OR_URL")
    p.add_argument(
        "--base", help="revision to compare from (default: what the status branch says is applied)"
    )
    p.add_argument("--head", help="revision to compare to (default: the branch head)")
    p.add_argument("--branch", default="main")
    p.add_argument("--status-branch", default="oven-status")
    p.add_argument(
        "--now", type=_time_arg, default=None, help="time for next-run columns (default now)"
    )
    p.add_argument("--json", action="store_true")
    _allow_volume(p)
    p.set_defaults(handler=_plan)


def _plan(args: argparse.Namespace) -> int:
    from reconciler.manifests import load_tree
    from reconciler.planner import format_plan, plan
    from reconciler.source.git import GitSource

    allow = tuple(args.allow_volume)
    with tempfile.TemporaryDirectory(prefix="oven-plan-") as tmp:
        source = GitSource(args.repo, args.branch, Path(tmp))
        source.mirror.fetch()
        head = source.mirror.resolve(args.head or args.branch)
        base = args.base
        if base is None:
            tree = _status_tree(source.mirror, args.status_branch)
            base = tree.reconciler.get("applied_revision") if tree else None

        def state(rev: str) -> DesiredState:
            return load_tree(source.files(rev), rev, allow)

        base_state = state(source.mirror.resolve(base)) if base else None
        result = plan(base_state, state(head), args.now or SystemClock().now())
    if args.json:
        print_json(result.to_dict())
    else:
        print(format_plan(result))
    return 0


def _status_tree(mirror: GitMirror, branch: str) -> StatusTree | None:
    """The status files of ``branch`` as of the mirror's last fetch; None without the branch."""
    from reconciler.status import parse_status_tree

    tip = mirror.local_tip(branch)
    return parse_status_tree(mirror.read_files(tip, ["status/"])) if tip else None


# -- explain and next -------------------------------------------------------------------------
def _load_job(path: Path, allow: tuple[str, ...] = ()) -> JobSpec:
    from reconciler.errors import ManifestError
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


def add_explain(commands: Sub) -> None:
    p = commands.add_parser("explain", help="why a job does or does not start at a given time")
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("--now", type=_time_arg, required=True, metavar="TIME")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--last-scheduled", type=_time_arg, metavar="TIME")
    group.add_argument("--created", type=_time_arg, metavar="TIME")
    p.add_argument("--active", type=int, default=0, metavar="N", help="runs of the job active now")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_explain)


def _explain(args: argparse.Namespace) -> int:
    from reconciler.explain import explain, format_explain

    job = _load_job(args.manifest)
    result = explain(
        job, args.now, last_scheduled=args.last_scheduled, created=args.created, active=args.active
    )
    print_json(result) if args.json else print(format_explain(result))
    return 0


def add_next(commands: Sub) -> None:
    p = commands.add_parser("next", help="the next fire times of a job, in its zone and in UTC")
    p.add_argument("job", metavar="JOB_OR_MANIFEST")
    p.add_argument("-n", type=int, default=5)
    p.add_argument(
        "--repo", type=Path, default=Path("."), help="config repo working tree to find JOB in"
    )
    p.add_argument("--now", type=_time_arg, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_next)


def _next(args: argparse.Namespace) -> int:
    from reconciler.explain import format_next, next_fire_times
    from reconciler.manifests import validate_worktree

    path = Path(args.job)
    if path.is_file():
        job = _load_job(path)
    else:
        jobs = validate_worktree(args.repo).jobs
        if args.job not in jobs:
            raise UsageError(
                f"no job {args.job!r} in {args.repo}", hint="give a job id or a manifest path"
            )
        job = jobs[args.job]
    times = next_fire_times(job, args.n, args.now or SystemClock().now())
    if args.json:
        print_json(
            {
                "job_id": job.id,
                "timezone": job.schedule.timezone,
                "next": [{"utc": iso(u), "local": local.isoformat()} for u, local in times],
            }
        )
    else:
        print(format_next(job, times))
    return 0


# -- status, trigger, backfill ----------------------------------------------------------------
def add_status(commands: Sub) -> None:
    p = commands.add_parser("status", help="jobs and recent runs as recorded on the status branch")
    p.add_argument("--repo", required=True, metavar="PATH_OR_URL")
    p.add_argument("--status-branch", default="oven-status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    from reconciler.source.gitrepo import GitMirror

    with tempfile.TemporaryDirectory(prefix="oven-status-") as tmp:
        mirror = GitMirror(args.repo, Path(tmp) / "mirror.git")
        mirror.fetch()
        tree = _status_tree(mirror, args.status_branch)
    if tree is None:
        raise UsageError(
            f"no branch {args.status_branch} in {args.repo}",
            hint="has a reconciler run against this repo yet?",
        )
    if args.json:
        print_json({"reconciler": tree.reconciler, "jobs": tree.jobs})
        return 0
    print(format_status(tree.reconciler, tree.jobs))
    return 0


def format_status(reconciler: dict[str, Any], jobs: dict[str, dict[str, Any]]) -> str:
    """The reconciler condition, a table of jobs and the manifest problems, as text."""
    conditions = reconciler.get("conditions", [])
    ready: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    applied = str(reconciler.get("applied_revision") or "-")[:12]
    lines = [
        f"reconciler: Ready={ready.get('status')} {ready.get('reason', '')}: "
        f"{ready.get('message', '')}",
        f"heartbeat {reconciler.get('heartbeat')}, applied {applied}",
        f"{'JOB':<28} {'LAST':<10} {'NEXT RUN':<22} {'FAILS':>5}",
    ]
    for job_id, job in sorted(jobs.items()):
        last = (job.get("last_run") or {}).get("status", "-")
        next_run = str(job.get("next_run") or "-")
        lines.append(
            f"{job_id:<28} {last:<10} {next_run:<22} {job.get('consecutive_failures', 0):>5}"
        )
    for p in reconciler.get("problems", []):
        lines.append(f"problem: {p['path']}:{p['line']}: {p['field']}: {p['message']}")
    return "\n".join(lines)


def _spool(state_dir: Path) -> RequestSpool:
    from reconciler.requests import RequestSpool

    return RequestSpool(state_dir)


def add_trigger(commands: Sub) -> None:
    p = commands.add_parser("trigger", help="ask the local daemon to run a job now")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--state-dir", type=Path, default=Path(_env("STATE_DIR", ".oven-state")))
    p.add_argument("--idempotency-key", default=None, help="the same key never starts a second run")
    p.set_defaults(handler=_trigger)


def _trigger(args: argparse.Namespace) -> int:
    key = _spool(args.state_dir).submit_manual(args.job, args.idempotency_key)
    print(
        f"requested a manual run of {args.job} (idempotency key {key}); "
        "the daemon starts it on its next tick"
    )
    return 0


def add_backfill(commands: Sub) -> None:
    p = commands.add_parser("backfill", help="run every scheduled time of a past window, once each")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--from", dest="start", type=_time_arg, required=True, metavar="TIME")
    p.add_argument("--to", dest="end", type=_time_arg, required=True, metavar="TIME")
    p.add_argument("--state-dir", type=Path, default=Path(_env("STATE_DIR", ".oven-state")))
    p.set_defaults(handler=_backfill)


def _backfill(args: argparse.Namespace) -> int:
    _spool(args.state_dir).submit_backfill(args.job, args.start, args.end)
    print(f"requested a backfill of {args.job} from {iso(args.start)} to {iso(args.end)}")
    return 0
