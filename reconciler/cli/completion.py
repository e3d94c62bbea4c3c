"""``oven completion bash|zsh``: the shell script that completes ``oven`` commands and options.

Completion runs ``oven`` itself: the shell calls it with ``_ARGCOMPLETE`` set, and ``main``
hands over to argcomplete (``autocomplete``) before parsing. argcomplete needs one parser that
knows every command, so for completion only, all command modules are loaded into subparsers
(their heavy imports stay inside ``execute``, so this is quick).
"""

from __future__ import annotations

import argparse
import os

from reconciler import __version__
from reconciler.cli import options
from reconciler.cli.commands import COMMANDS, load
from reconciler.cli.context import Context
from reconciler.cli.options import Env

SHELLS = ("bash", "zsh")


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to print the script for")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    import argcomplete

    ctx.stdout.write(argcomplete.shellcode(["oven"], shell=args.shell))
    return 0


def full_parser(env: Env) -> argparse.ArgumentParser:
    """``oven`` with every command as a subparser: what argcomplete completes against."""
    parser = argparse.ArgumentParser(prog="oven", description="Agent Oven: scheduled jobs from git")
    parser.add_argument("--version", action="version", version=f"oven {__version__}")
    options.LOG_LEVEL.add_to(parser, env)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, info in COMMANDS.items():
        command = commands.add_parser(name, help=info.summary, description=info.summary)
        load(name).arguments(command, env)
    return parser


def autocomplete(ctx: Context) -> None:
    """Answer the shell's completion request and end the process (argcomplete's own exit)."""
    import argcomplete

    argcomplete.autocomplete(full_parser(ctx.env))


def asked() -> bool:
    return "_ARGCOMPLETE" in os.environ
