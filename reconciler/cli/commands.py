"""The table of ``oven`` commands, each imported only when it runs (as pip's command table).

A command is a module with two functions:

    arguments(parser, env) -> None      declare its positionals and options (``options.py``)
    execute(args, ctx) -> int           do it; the return value is the exit code

``oven --help`` is built from the summaries here, so listing the commands imports none of
them, and ``oven validate`` never imports docker, dulwich or the web server.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol, cast

from reconciler.cli.context import Context
from reconciler.cli.options import Env


class Command(Protocol):
    """What a command module provides (checked by mypy where ``load`` is used)."""

    def arguments(self, parser: argparse.ArgumentParser, env: Env) -> None: ...

    def execute(self, args: argparse.Namespace, ctx: Context) -> int: ...


@dataclass(frozen=True)
class CommandInfo:
    module: str  # imported on use
    summary: str  # one line, for `oven --help` and the command's own description


COMMANDS: dict[str, CommandInfo] = {
    "run": CommandInfo("reconciler.cli.run", "run the reconciler daemon and the status page"),
    "validate": CommandInfo(
        "reconciler.cli.validate", "check every manifest of a config repo working tree"
    ),
    "plan": CommandInfo(
        "reconciler.cli.plan", "show how jobs and schedules change between two revisions"
    ),
    "explain": CommandInfo(
        "reconciler.cli.explain", "why a job does or does not start at a given time"
    ),
    "next": CommandInfo("reconciler.cli.next", "the next fire times of a job, in its zone and UTC"),
    "status": CommandInfo(
        "reconciler.cli.status", "jobs and recent runs as recorded on the status branch"
    ),
    "trigger": CommandInfo(
        "reconciler.cli.trigger", "run a job now (local daemon or --server); prints the run id"
    ),
    "cancel": CommandInfo("reconciler.cli.cancel", "stop a running run; it ends cancelled"),
    "retry": CommandInfo(
        "reconciler.cli.retry", "start the next attempt of a failed or cancelled run"
    ),
    "token": CommandInfo("reconciler.cli.token", "create, list and revoke write API tokens"),
    "backfill": CommandInfo(
        "reconciler.cli.backfill", "run every scheduled time of a past window, once each"
    ),
    "init": CommandInfo(
        "reconciler.cli.init", "write a new config repo: oven.yaml, an example job, schemas, CI"
    ),
    "schema": CommandInfo(
        "reconciler.cli.schema", "print the JSON Schema of a job or of oven.yaml"
    ),
    "export": CommandInfo(
        "reconciler.cli.export", "print a job as a workflow for another scheduler (GitHub Actions)"
    ),
    "logs": CommandInfo("reconciler.cli.logs", "print a run's log; -f follows it while it runs"),
    "get": CommandInfo("reconciler.cli.get", "list jobs or runs as a table, JSON or YAML"),
    "describe": CommandInfo("reconciler.cli.describe", "everything known about one job"),
    "doctor": CommandInfo(
        "reconciler.cli.doctor",
        "check the engine, repo, secrets, images and host; exit 1 if not ok",
    ),
    "completion": CommandInfo(
        "reconciler.cli.completion", "print the shell completion script for bash or zsh"
    ),
}


def load(name: str) -> Command:
    """Import the module of command ``name`` (a key of ``COMMANDS``)."""
    module: ModuleType = importlib.import_module(COMMANDS[name].module)
    return cast(Command, module)
