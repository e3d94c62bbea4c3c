"""``oven plan``: how jobs and schedules change between two revisions of the config repo."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option
from reconciler.model import DesiredState

if TYPE_CHECKING:
    from reconciler.manifests.cache import ParseCache
    from reconciler.source.checkout import Checkout

EXIT_CHANGES = 3  # --exit-code: the plan changes jobs (1 stays "the head has problems")
FORMATS = ("text", "json", "markdown")

BASE = Option(
    "--base",
    "revision to compare from: anything git names (HEAD~1, origin/main, a tag, a commit id)",
    metavar="REV",
    shown="the revision the status branch says is applied",
)
HEAD = Option("--head", "revision to compare to", metavar="REV", shown="the head of --branch")


def plan_format(value: str) -> str:
    if value not in FORMATS:
        raise argparse.ArgumentTypeError(f"choose one of {', '.join(FORMATS)}")
    return value


FORMAT = Option(
    "--format",
    "output: text, json (like --json) or markdown (a pull-request comment)",
    type=plan_format,
    default="text",
    metavar="FORMAT",
)
EXIT_CODE = Option(
    "--exit-code",
    f"exit {EXIT_CHANGES} when the plan adds, changes or removes a job (0: no change)",
    switch=True,
)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    repo = options.REPO.but(required=True)
    now = options.NOW.but(help="time the next-run columns are computed from")
    shared = (options.BRANCH, options.STATUS_BRANCH, now, options.JSON, options.ALLOW_VOLUME)
    options.add(parser, env, repo, BASE, HEAD, *shared, FORMAT, EXIT_CODE, options.CACHE_DIR)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.planner import apply_revision, format_markdown, format_plan
    from reconciler.source.checkout import is_local_path

    read = _read_checkout if is_local_path(args.repo) else _read_remote
    cache = options.manifest_cache(args.cache_dir)
    with tempfile.TemporaryDirectory(prefix="oven-plan-") as tmp:
        base_state, head_state = read(args, Path(tmp), cache)
    cache.save()
    _, result = apply_revision(base_state, head_state, args.now or ctx.clock.now())
    form = "json" if args.json else args.format
    if form == "json":
        ctx.json(result.to_dict())
    elif form == "markdown":
        ctx.out(format_markdown(result))
    else:
        ctx.out(format_plan(result))
    if result.problems:
        return 1
    return EXIT_CHANGES if args.exit_code and result.has_changes else 0


Loaded = tuple[DesiredState | None, DesiredState]


def _read_checkout(args: argparse.Namespace, _tmp: Path, cache: ParseCache) -> Loaded:
    """A repository on this machine, read in place: git resolves the revisions."""
    from reconciler.manifests import load_tree
    from reconciler.source.checkout import Checkout
    from reconciler.status import parse_status_tree

    checkout = Checkout(Path(args.repo))
    allow = tuple(args.allow_volume)
    base: str | None
    if args.head and args.base:  # one run of git for both
        head, base = checkout.resolve_all(args.head, args.base)
    else:
        head = checkout.resolve(args.head) if args.head else _branch_head(checkout, args)
        base = checkout.resolve(args.base) if args.base else None
    if args.base is None:
        status = checkout.first(args.status_branch, f"origin/{args.status_branch}")
        if status is not None:
            tree = parse_status_tree(checkout.read(status, "status/"))
            applied = tree.reconciler.get("applied_revision")
            base = checkout.resolve(str(applied)) if applied else None

    def state(rev: str) -> DesiredState:
        return load_tree(checkout.files(rev), rev, allow, cache)

    return (state(base) if base else None), state(head)


def _branch_head(checkout: Checkout, args: argparse.Namespace) -> str:
    from reconciler.errors import SourceError

    found = checkout.first(args.branch, f"origin/{args.branch}")
    if found is None:
        raise SourceError(
            f"branch {args.branch!r} not found in {args.repo}",
            hint="name the revision to review: --head HEAD",
        )
    return found


def _read_remote(args: argparse.Namespace, tmp: Path, cache: ParseCache) -> Loaded:
    """A URL: fetched into a temporary mirror, whose revisions are branches and commit ids."""
    from reconciler.ledger.reader import read_status_tree
    from reconciler.manifests import load_tree
    from reconciler.source.git import GitSource

    allow = tuple(args.allow_volume)
    source = GitSource(args.repo, args.branch, tmp)
    source.mirror.fetch()
    head = source.mirror.resolve(args.head or args.branch)
    base = args.base
    if base is None:
        tree = read_status_tree(source.mirror, args.status_branch)
        base = tree.reconciler.get("applied_revision") if tree else None

    def state(rev: str) -> DesiredState:
        return load_tree(source.files(rev), rev, allow, cache)

    return (state(source.mirror.resolve(base)) if base else None), state(head)
