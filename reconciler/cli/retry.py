"""``oven retry RUN``: start the next attempt of an ended failed, timed_out or cancelled run.

Prints the new run's id, ``<first run id>-a<N+1>`` (``reconciler/runids.py``). Locally a
``retry`` request in the spool of the daemon's ``--state-dir`` (the attempt is read off the run
id; the daemon rejects the request if the run is unknown or still running). With
``--server`` it is ``POST /api/v1/runs/RUN/retry``, which refuses an unknown run (404) and a run
that is running or succeeded (409). Asking twice prints the same id and starts one run.
"""

from __future__ import annotations

import argparse

from reconciler.cli import options, remote
from reconciler.cli.context import Context
from reconciler.cli.options import Env


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("run", metavar="RUN", help="the run id of the ended attempt")
    options.add(parser, env, options.STATE_DIR, remote.SERVER, remote.TOKEN)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    try:
        target, new = _remote(args) if args.server else _local(args)
    except remote.Refused as exc:
        return remote.refuse(ctx, exc)
    if new:
        ctx.err(f"requested a retry of {args.run}; the daemon starts it on its next tick")
    else:
        ctx.err(f"a retry of {args.run} was already requested")
    ctx.out(target)
    return 0


def _remote(args: argparse.Namespace) -> tuple[str, bool]:
    body = remote.post(args, f"/api/v1/runs/{remote.segment(args.run)}/retry")
    return str(body["run_id"]), not body.get("already_requested", False)


def _local(args: argparse.Namespace) -> tuple[str, bool]:
    from reconciler.runids import next_attempt_id
    from reconciler.spool import RequestSpool

    target = next_attempt_id(args.run)
    return target, RequestSpool(remote.state_dir(args)).submit_retry("", args.run, target)
