"""``oven completion bash|zsh``: the shell script that completes ``oven`` commands and options.

The script makes the shell run ``oven`` itself with ``_ARGCOMPLETE`` set; ``main`` then hands
over to argcomplete (``reconciler.cli.shell``) before parsing.
"""

from __future__ import annotations

import argparse

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option

SHELLS = ("bash", "zsh")
PROG = Option("--prog", "name of the executable the script completes (as installed, or an "
              "alias)", default="oven", metavar="NAME")  # fmt: skip


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to print the script for")
    options.add(parser, env, PROG)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from argcomplete.shell_integration import shellcode

    ctx.stdout.write(shellcode([args.prog], shell=args.shell))
    return 0
