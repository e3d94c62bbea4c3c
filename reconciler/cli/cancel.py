"""``oven cancel RUN``: stop a running run; it ends ``cancelled``.

Locally a ``cancel`` request in the spool of the daemon's ``--state-dir``; the daemon stops the
container on its next tick (a run that has ended already is left as it is, a run it does not
know is rejected into ``requests/rejected/``). With ``--server`` it is
``POST /api/v1/runs/RUN/cancel``, which refuses an unknown run (404) or one not running (409).
"""

from __future__ import annotations

import argparse

from reconciler.cli import options, remote
from reconciler.cli.context import Context
from reconciler.cli.options import Env


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("run", metavar="RUN", help="the run id (oven status lists them)")
    options.add(parser, env, options.STATE_DIR, remote.SERVER, remote.TOKEN)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.spool import RequestSpool

    try:
        if args.server:
            remote.post(args, f"/api/v1/runs/{remote.segment(args.run)}/cancel")
        else:
            RequestSpool(remote.state_dir(args)).submit_cancel("", args.run)
    except remote.Refused as exc:
        return remote.refuse(ctx, exc)
    ctx.err(f"requested cancel of {args.run}; the daemon stops it on its next tick")
    ctx.out(args.run)
    return 0
