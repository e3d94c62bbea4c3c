"""``oven trigger JOB``: ask the daemon that owns a state directory to run a job now.

The request is a file in the daemon's spool (``reconciler/spool.py``); the daemon starts the
run on its next tick, with trigger ``manual``. The daemon publishes the job ids of the
revision it runs in the spool, so an unknown job fails here at once (exit 1, with the
closest ids as a hint). Before the daemon ever loaded a config in that state directory the
request is written anyway; the daemon then rejects it (``requests/rejected/``) if the job does
not exist.
"""

from __future__ import annotations

import argparse
import difflib

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option

UNKNOWN_JOB = 1  # like a failed check: the request is refused, nothing was written
SHOWN_IDS = 10  # a hint lists at most this many job ids

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

    spool = RequestSpool(args.state_dir)
    known = spool.known_jobs()
    if known is not None and args.job not in known.job_ids:
        ctx.err(f"error: no job {args.job!r} in the config the daemon runs ({known.revision[:12]})")
        ctx.err(f"hint: {_suggest(args.job, known.job_ids)}")
        return UNKNOWN_JOB
    key = spool.submit_manual(args.job, args.idempotency_key)
    ctx.out(
        f"requested a manual run of {args.job} (idempotency key {key}); "
        "the daemon starts it on its next tick"
    )
    if known is None:
        ctx.err(
            f"note: no daemon has loaded a config with state dir {args.state_dir} yet; "
            "it checks the job when it does"
        )
    return 0


def _suggest(job: str, job_ids: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(job, job_ids, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(close) + "?"
    if not job_ids:
        return "the config has no jobs yet"
    listed = ", ".join(job_ids[:SHOWN_IDS]) + (", ..." if len(job_ids) > SHOWN_IDS else "")
    return f"the jobs are: {listed}"
