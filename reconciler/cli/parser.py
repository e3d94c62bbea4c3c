"""The two stages of parsing: ``oven [global options] COMMAND ...``, then the command's own.

Like pip, the first stage knows the commands only by name and summary (``commands.py``); the
second imports the chosen command and lets it declare its arguments. Both parsers write help
and usage errors to the context's streams and report their exit as ``ParserExit``, so ``main``
returns the code instead of leaving the interpreter.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from reconciler import __version__
from reconciler.cli import options
from reconciler.cli.commands import COMMANDS, Command
from reconciler.cli.context import Context

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

USAGE_ERROR = 2  # argparse's exit code for bad usage, and ours for an OvenError


class ParserExit(Exception):
    """A parser finished the invocation: ``--help``, ``--version`` or a usage error."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that prints to a ``Context`` and raises instead of exiting."""

    def __init__(self, ctx: Context, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            to_stderr = file is sys.stderr or file is self.ctx.stderr
            (self.ctx.stderr if to_stderr else self.ctx.stdout).write(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.ctx.stderr.write(message)
        raise ParserExit(status)

    def error(self, message: str) -> NoReturn:
        self.print_usage(self.ctx.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def top_parser(ctx: Context) -> Parser:
    """``oven``: global options, the command name, and everything after it for the command."""
    width = max(len(name) for name in COMMANDS)
    listing = "\n".join(f"  {name:<{width}}  {info.summary}" for name, info in COMMANDS.items())
    parser = Parser(
        ctx,
        prog="oven",
        description="Agent Oven: scheduled jobs from git",
        epilog=f"commands:\n{listing}\n\n`oven COMMAND --help` shows the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"oven {__version__}")
    options.LOG_LEVEL.add_to(parser, ctx.env)
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help="see below")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's arguments")
    return parser


def command_parser(name: str, command: Command, ctx: Context) -> Parser:
    """``oven NAME``: the arguments the command declares, with env-aware defaults."""
    parser = Parser(ctx, prog=f"oven {name}", description=COMMANDS[name].summary)
    command.arguments(parser, ctx.env)
    return parser
