"""``oven trigger JOB``: ask the daemon that owns a state directory to run a job now.

The request is a file in the daemon's spool (``reconciler/spool.py``); the daemon starts the
run on its next tick, with trigger ``manual``.
"""

from __future__ import annotations

import argparse

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option

IDEMPOTENCY_KEY = Option(
    "--idempotency-key",
    "the same key never starts a second run",
    metavar="KEY",
    shown="a new random key: every call is a new run",
)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("job", metavar="JOB", help="the job id")
    options.add(parser, env, options.STATE_DIR, IDEMPOTENCY_KEY)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.spool import RequestSpool

    key = RequestSpool(args.state_dir).submit_manual(args.job, args.idempotency_key)
    ctx.out(
        f"requested a manual run of {args.job} (idempotency key {key}); "
        "the daemon starts it on its next tick"
    )
    return 0
