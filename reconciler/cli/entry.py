"""``main``: parse, configure logging, run one command, and turn its outcome into an exit code.

Exit codes: 0 success; 1 problems found (validate) or a failed check; 2 bad usage or an error
the user must fix, printed as ``error: ...`` and ``hint: ...`` (never a traceback); 130 when
interrupted (Ctrl-C); 141 when the reader of the output went away (``oven next | head -1``),
quietly, as a command killed by SIGPIPE would.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from reconciler.cli import shell
from reconciler.cli.commands import load
from reconciler.cli.context import Context
from reconciler.cli.parser import USAGE_ERROR, ParserExit, command_parser, top_parser
from reconciler.errors import OvenError

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader is gone


def main(argv: Sequence[str] | None = None, ctx: Context | None = None) -> int:
    """Run ``oven`` with ``argv`` (default: the process arguments); return the exit code."""
    ctx = ctx or Context()
    if argv is None and shell.asked():  # the shell asks for completions (argcomplete)
        shell.autocomplete(ctx.env)
    try:
        top = top_parser(ctx).parse_args(argv)
        command = load(top.command)
        args = command_parser(top.command, command, ctx).parse_args(top.args)
    except ParserExit as done:
        return done.code
    logging.basicConfig(
        level=top.log_level, format="%(asctime)s %(levelname)s %(message)s", stream=ctx.stderr
    )
    try:
        code = command.execute(args, ctx)
        ctx.stdout.flush()  # a closed pipe shows here, while we can still handle it
        return code
    except OvenError as exc:
        ctx.err(f"error: {exc.message}")
        if exc.hint:
            ctx.err(f"hint: {exc.hint}")
        return USAGE_ERROR
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        _silence(ctx)
        return BROKEN_PIPE


def _silence(ctx: Context) -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    if ctx.stdout is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
