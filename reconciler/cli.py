"""The ``oven`` command: argument parsing and wiring only (docs/cli.md is its contract).

Exit codes: 0 success, 1 problems found (validate) or a failed check, 2 bad usage or an error
the user must fix (printed as ``error: ...`` and ``hint: ...``, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler import __version__
from reconciler.errors import OvenError

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except OvenError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oven", description="Agent Oven: scheduled jobs from git")
    parser.add_argument("--version", action="version", version=f"oven {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("OVEN_LOG_LEVEL", "info"))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from reconciler import commands as c

    c.add_run(commands)
    c.add_validate(commands)
    c.add_plan(commands)
    c.add_explain(commands)
    c.add_next(commands)
    c.add_status(commands)
    c.add_trigger(commands)
    c.add_backfill(commands)
    return parser


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a directory")
    return path
