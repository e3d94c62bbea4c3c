"""Shell completion: argcomplete answers the shell from one parser that knows every command.

The shell runs ``oven`` with ``_ARGCOMPLETE`` set (the script ``oven completion bash|zsh``
prints); ``main`` sees it before parsing and calls ``autocomplete``, which prints the
completions and ends the process. For completion only, every command module is loaded into a
subparser (their heavy imports stay inside ``execute``, so this is quick).
"""

from __future__ import annotations

import argparse
import os

from reconciler import __version__
from reconciler.cli import options
from reconciler.cli.commands import COMMANDS, load
from reconciler.cli.options import Env


def asked() -> bool:
    """Is this process the shell asking for completions?"""
    return "_ARGCOMPLETE" in os.environ


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


def autocomplete(env: Env) -> None:
    """Answer the shell's completion request and end the process (argcomplete's own exit)."""
    import argcomplete

    argcomplete.autocomplete(full_parser(env))
