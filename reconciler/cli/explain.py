"""``oven explain MANIFEST --now TIME``: why a job does or does not start at that moment.

The answer comes from the same decision function the daemon uses (docs/scheduling.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.jobfile import load_job
from reconciler.cli.options import Env, Option

LAST_SCHEDULED = Option(
    "--last-scheduled",
    "nominal time of the newest fire already handled",
    type=options.time_arg,
    metavar="TIME",
    shown="none: the job counts as just applied",
)
CREATED = Option(
    "--created",
    "when the reconciler first saw the job",
    type=options.time_arg,
    metavar="TIME",
    shown="--now",
)
ACTIVE = Option("--active", "runs of the job active now", type=int, default="0", metavar="N")


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("manifest", type=Path, metavar="MANIFEST", help="a job manifest file")
    options.NOW.but(help="the moment to decide at", required=True).add_to(parser, env)
    options.add(parser.add_mutually_exclusive_group(), env, LAST_SCHEDULED, CREATED)
    options.add(parser, env, ACTIVE, options.JSON)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.explain import explain, format_explain

    job = load_job(args.manifest)
    result = explain(
        job, args.now, last_scheduled=args.last_scheduled, created=args.created, active=args.active
    )
    if args.json:
        ctx.json(result)
    else:
        ctx.out(format_explain(result))
    return 0
