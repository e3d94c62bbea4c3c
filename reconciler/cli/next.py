"""``oven next JOB_OR_MANIFEST``: the coming fire times, in the job's zone and in UTC."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.jobfile import load_job
from reconciler.cli.options import Env, Option
from reconciler.clock import iso
from reconciler.errors import UsageError
from reconciler.model import JobSpec

COUNT = Option("-n", "how many fire times", type=int, default="5", metavar="N")
WORKTREE = Option(
    "--repo", "config repo working tree to find JOB in", type=Path, default=".", metavar="PATH"
)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("job", metavar="JOB_OR_MANIFEST", help="a job id or a manifest file")
    options.add(parser, env, COUNT, WORKTREE, options.NOW, options.JSON)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.explain import format_next, next_fire_times

    job = _find_job(args.job, args.repo)
    times = next_fire_times(job, args.n, args.now or ctx.clock.now())
    if not args.json:
        ctx.out(format_next(job, times))
        return 0
    ctx.json(
        {
            "job_id": job.id,
            "timezone": job.schedule.timezone,
            "next": [{"utc": iso(u), "local": local.isoformat()} for u, local in times],
        }
    )
    return 0


def _find_job(name: str, worktree: Path) -> JobSpec:
    from reconciler.manifests import validate_worktree

    if Path(name).is_file():
        return load_job(Path(name))
    jobs = validate_worktree(worktree).jobs
    if name not in jobs:
        raise UsageError(f"no job {name!r} in {worktree}", hint="give a job id or a manifest path")
    return jobs[name]
