"""``oven validate PATH``: every manifest of a working tree, one line per problem, exit 1 if any."""

from __future__ import annotations

import argparse

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env

PROBLEMS_FOUND = 1


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument(
        "path", type=options.existing_dir, metavar="PATH", help="config repo working tree"
    )
    allow = options.ALLOW_VOLUME.but(shown="none: the volume allow-list is not checked")
    options.add(parser, env, options.JSON, allow, options.CACHE_DIR)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.manifests import validate_worktree

    # without --allow-volume the reconciler's allow-list is unknown here: skip that one check
    allow = tuple(args.allow_volume) if args.allow_volume else None
    cache = options.manifest_cache(args.cache_dir)
    state = validate_worktree(args.path, volume_allowlist=allow, cache=cache)
    cache.save()
    files = len({p.path for p in state.problems})
    summary = f"{len(state.jobs)} jobs valid, {len(state.problems)} problems in {files} files"
    if args.json:
        problems = [p.to_dict() for p in state.problems]
        ctx.json({"jobs": sorted(state.jobs), "problems": problems, "summary": summary})
        return PROBLEMS_FOUND if state.problems else 0
    for problem in state.problems:
        ctx.out(str(problem))
    (ctx.err if state.problems else ctx.out)(summary)
    return PROBLEMS_FOUND if state.problems else 0
