"""What a command may touch besides its arguments: the clock, the output streams, the environment.

``main`` builds the real one (system clock, ``sys.stdout``/``sys.stderr``, ``os.environ``);
tests pass a ``FakeClock`` and ``io.StringIO`` streams and run commands in process.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from reconciler.clock import Clock, SystemClock


def _stdout() -> TextIO:
    return sys.stdout  # looked up per Context, so a replaced sys.stdout is honoured


def _stderr() -> TextIO:
    return sys.stderr


@dataclass(frozen=True)
class Context:
    """The world of one ``oven`` invocation."""

    clock: Clock = field(default_factory=SystemClock)  # `--now` absent means clock.now()
    stdout: TextIO = field(default_factory=_stdout)  # results: tables, JSON, confirmations
    stderr: TextIO = field(default_factory=_stderr)  # errors, hints, summaries of problems
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)  # OVEN_* defaults

    def out(self, text: str) -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)

    def json(self, data: object) -> None:
        self.out(json.dumps(data, indent=2, sort_keys=True))
