"""``oven status``: the reconciler condition, jobs and problems recorded on the status branch."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env
from reconciler.errors import UsageError


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    repo = options.REPO.but(required=True)
    options.add(parser, env, repo, options.STATUS_BRANCH, options.JSON)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.gitrepo import GitMirror
    from reconciler.ledger.reader import read_status_tree
    from reconciler.status import format_status, status_document

    with tempfile.TemporaryDirectory(prefix="oven-status-") as tmp:
        tree = read_status_tree(GitMirror(args.repo, Path(tmp) / "mirror.git"), args.status_branch)
    if tree is None:
        raise UsageError(
            f"no branch {args.status_branch} in {args.repo}",
            hint="has a reconciler run against this repo yet?",
        )
    if args.json:
        ctx.json(status_document(tree))
    else:
        ctx.out(format_status(tree))
    return 0
