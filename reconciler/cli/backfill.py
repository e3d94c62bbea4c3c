"""``oven backfill JOB --from TIME --to TIME``: run each scheduled time of a past window once.

Like ``trigger``, a request file in the daemon's spool; the daemon turns it into runs with
trigger ``backfill`` whose ids equal the scheduled runs', so no time runs twice.
"""

from __future__ import annotations

import argparse

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option
from reconciler.clock import iso

WINDOW = (
    Option(
        "--from",
        "first time of the window, ISO 8601",
        dest="start",
        type=options.time_arg,
        metavar="TIME",
        required=True,
    ),
    Option(
        "--to",
        "last time of the window, ISO 8601",
        dest="end",
        type=options.time_arg,
        metavar="TIME",
        required=True,
    ),
)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("job", metavar="JOB", help="the job id")
    options.add(parser, env, *WINDOW, options.STATE_DIR)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.spool import RequestSpool

    RequestSpool(args.state_dir).submit_backfill(args.job, args.start, args.end)
    ctx.out(f"requested a backfill of {args.job} from {iso(args.start)} to {iso(args.end)}")
    return 0
