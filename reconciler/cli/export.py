"""``oven export github-actions JOB``: a job as a GitHub Actions workflow, on stdout.

The workflow is printed; each warning (something GitHub does differently, such as daylight
saving moving a cron) is a comment in the file and a ``warning:`` line on stderr. A job GitHub
cannot run as written is refused: one ``refused:`` line per reason on stderr and exit 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option

TARGETS = ("github-actions",)
WORKTREE = Option(
    "--repo", "config repo working tree to find JOB in", type=Path, default=".", metavar="PATH"
)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("target", choices=TARGETS, help="what to export to: github-actions")
    parser.add_argument("job", metavar="JOB_OR_MANIFEST", help="a job id or a manifest file")
    now = options.NOW.but(
        help="the time a once schedule must be after, and the year DST is checked in"
    )
    options.add(parser, env, WORKTREE, now)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.cli.next import _find_job
    from reconciler.export.github import github_actions

    job = _find_job(args.job, args.repo)
    result = github_actions(job, args.now or ctx.clock.now())
    for warning in result.warnings:
        ctx.err(f"warning: {warning}")
    if result.refusals:
        for reason in result.refusals:
            ctx.err(f"refused: {reason}")
        ctx.err(f"error: job {job.id} cannot run on GitHub Actions as written")
        return 1
    ctx.stdout.write(result.text)
    return 0
