"""``oven plan``: how jobs and schedules change between two revisions of the config repo."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option
from reconciler.model import DesiredState

BASE = Option(
    "--base",
    "revision to compare from",
    metavar="REV",
    shown="the revision the status branch says is applied",
)
HEAD = Option("--head", "revision to compare to", metavar="REV", shown="the head of --branch")


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    repo = options.REPO.but(required=True)
    now = options.NOW.but(help="time the next-run columns are computed from")
    shared = (options.BRANCH, options.STATUS_BRANCH, now, options.JSON, options.ALLOW_VOLUME)
    options.add(parser, env, repo, BASE, HEAD, *shared)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.ledger.reader import read_status_tree
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
            tree = read_status_tree(source.mirror, args.status_branch)
            base = tree.reconciler.get("applied_revision") if tree else None

        def state(rev: str) -> DesiredState:
            return load_tree(source.files(rev), rev, allow)

        base_state = state(source.mirror.resolve(base)) if base else None
        result = plan(base_state, state(head), args.now or ctx.clock.now())
    if args.json:
        ctx.json(result.to_dict())
    else:
        ctx.out(format_plan(result))
    return 0
