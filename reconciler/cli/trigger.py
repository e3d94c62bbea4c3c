"""``oven trigger JOB``: run a job now, through the local spool or a daemon's write API.

Prints the run id (the last line, alone). Locally the request is a file in the spool of the
daemon's ``--state-dir`` (``reconciler/spool.py``), started on its next tick with trigger
``manual``; the daemon publishes the job ids it runs there, so an unknown job fails at once
(exit 1, with the closest ids as a hint). Before the daemon ever loaded a config in that
state directory the request is written anyway; the daemon then rejects it
(``requests/rejected/``) if the job does not exist. With ``--server`` it is
``POST /api/v1/jobs/JOB/runs`` (trigger ``webhook``). The same ``--idempotency-key`` prints the
same run id, says it was requested already, and starts no second run.
"""

from __future__ import annotations

import argparse
import difflib

from reconciler.cli import options, remote
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option

SHOWN_IDS = 10  # a hint lists at most this many job ids

IDEMPOTENCY_KEY = Option(
    "--idempotency-key",
    "the same key never starts a second run (and prints the same run id)",
    metavar="KEY",
    shown="a new random key: every call is a new run",
)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("job", metavar="JOB", help="the job id")
    options.add(parser, env, options.STATE_DIR, IDEMPOTENCY_KEY, remote.SERVER, remote.TOKEN)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    try:
        run_id, new = _remote(args) if args.server else _local(args, ctx)
    except remote.Refused as exc:
        return remote.refuse(ctx, exc)
    if new:
        ctx.err(f"requested a run of {args.job}; the daemon starts it on its next tick")
    else:
        ctx.err(f"a run of {args.job} with this idempotency key was already requested")
    ctx.out(run_id)
    return 0


def _remote(args: argparse.Namespace) -> tuple[str, bool]:
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
    body = remote.post(args, f"/api/v1/jobs/{remote.segment(args.job)}/runs", headers)
    return str(body["run_id"]), not body.get("already_requested", False)


def _local(args: argparse.Namespace, ctx: Context) -> tuple[str, bool]:
    from reconciler.spool import RequestSpool

    spool = RequestSpool(remote.state_dir(args))
    known = spool.known_jobs()
    if known is not None and args.job not in known.job_ids:
        raise remote.Refused(
            f"no job {args.job!r} in the config the daemon runs ({known.revision[:12]})",
            _suggest(args.job, known.job_ids),
        )
    if known is None:
        ctx.err(
            f"note: no daemon has loaded a config with state dir {args.state_dir} yet; "
            "it checks the job when it does"
        )
    sent = spool.submit_manual(args.job, args.idempotency_key)
    return sent.run_id, sent.new


def _suggest(job: str, job_ids: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(job, job_ids, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(close) + "?"
    if not job_ids:
        return "the config has no jobs yet"
    listed = ", ".join(job_ids[:SHOWN_IDS]) + (", ..." if len(job_ids) > SHOWN_IDS else "")
    return f"the jobs are: {listed}"
