"""The ``oven`` command (docs/cli.md is its contract): parsing and wiring only, no policy.

One job per module: ``entry`` (``main``: parse, run, exit codes), ``parser`` (the two
parsing stages), ``commands`` (the table of commands, imported on use), ``options`` (options
shared by commands, each with its ``OVEN_*`` variable), ``context`` (clock and streams, so
tests run commands in process), ``shell`` (completion requests, argcomplete), ``readmodel``
(where ``get``, ``describe`` and ``logs`` read from: the status branch or ``--server``; rich
tables) and one module per command: ``run``, ``validate``, ``plan``, ``explain``, ``next``,
``status``, ``trigger``, ``backfill``, ``get``, ``describe``, ``logs``, ``doctor``,
``completion``, ... This file re-exports ``main``, the console script
``oven = "reconciler.cli:main"``.
"""

from reconciler.cli.context import Context
from reconciler.cli.entry import main

__all__ = ["Context", "main"]
