"""``oven token create|list|revoke``: bearer tokens of the write API (docs/api.md).

``create`` prints the token alone on its last line, once: only its SHA-256 is kept, in
``<state-dir>/api-tokens.json`` (mode 0600). A token acts on the jobs given with ``--job``
(repeatable), or on every job (``*``, the default). ``revoke NAME`` deletes it; a running
daemon refuses it (401) from the next request on.
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import cast

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option

NOT_FOUND = 1

JOB = Option(
    "--job",
    "a job id the token may trigger, cancel and retry; repeatable; '*' is every job",
    metavar="ID",
    repeat=True,
    shown="*: every job",
)
NAME = Option(
    "--name",
    "the token's name, shown in the daemon's log for each write",
    metavar="NAME",
    shown="token-<random>",
)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    # the sub-parsers print and exit like ``parser`` (cli/parser.py's Parser takes a Context)
    ctx = getattr(parser, "ctx", None)
    sub = cast(type[argparse.ArgumentParser], partial(type(parser), ctx) if ctx else type(parser))
    actions = parser.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=sub
    )
    create = actions.add_parser(
        "create",
        help="make a token and print it once",
        description="make a token and print it once (last line)",
    )
    options.add(create, env, options.STATE_DIR, JOB, NAME)
    listing = actions.add_parser(
        "list",
        help="the tokens' names, scopes and creation times",
        description="the tokens' names, scopes and creation times",
    )
    options.add(listing, env, options.STATE_DIR, options.JSON)
    revoke = actions.add_parser(
        "revoke",
        help="delete a token: it is refused from now on",
        description="delete a token: it is refused from now on",
    )
    revoke.add_argument("name", metavar="NAME", help="the token's name (oven token list)")
    options.add(revoke, env, options.STATE_DIR)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.api.tokens import TokenStore

    store = TokenStore(args.state_dir)
    if args.action == "create":
        token, text = store.create(args.name, args.job)
        ctx.err(
            f"token {token.name} for jobs {', '.join(token.jobs)}, stored hashed in {store.path}"
        )
        ctx.err("it is shown this once: keep it in a secret store (OVEN_TOKEN for the CLI)")
        ctx.out(text)
        return 0
    if args.action == "list":
        tokens = store.all()
        if args.json:
            ctx.json(
                [{"name": t.name, "jobs": list(t.jobs), "created_at": t.created_at} for t in tokens]
            )
        elif not tokens:
            ctx.out(f"no tokens in {store.path}")
        for t in tokens if not args.json else ():
            ctx.out(f"{t.name}\t{','.join(t.jobs)}\t{t.created_at}")
        return 0
    if not store.revoke(args.name):
        ctx.err(f"error: no token named {args.name!r} in {store.path}")
        ctx.err("hint: oven token list shows the names")
        return NOT_FOUND
    ctx.out(f"revoked {args.name}")
    return 0
