"""Options declared once: each with its flag, ``OVEN_*`` environment variable, default and help.

Several commands share an option (``--repo``, ``--state-dir``, ``--allow-volume``, ...); they all
add the same ``Option`` here, so the flag, its variable and its help cannot drift apart. The
help text is built from the declaration and always names the variable and the default. A
value from the environment replaces the default and is converted like a typed flag, so a bad
``OVEN_INTERVAL`` is a usage error (exit 2), not a traceback. An empty variable counts as unset.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from reconciler.clock import utc

Env = Mapping[str, str]
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class ArgumentContainer(Protocol):
    """A parser or an argument group: anything options can be added to."""

    def add_argument(self, *flags: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Option:
    """One command-line option and where else its value may come from."""

    flag: str  # "--state-dir"; argparse derives the attribute name unless ``dest`` is given
    help: str  # what the value is for; env and default are appended by ``describe``
    env: str | None = None  # OVEN_* variable that replaces the default when set and not empty
    default: str | None = None  # as text, converted by ``type`` like a value given as a flag
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    dest: str | None = None
    required: bool = False  # argparse requires it unless ``env`` gives a value
    switch: bool = False  # a flag without value (store_true); never from the environment
    repeat: bool = False  # repeatable; the environment variable is ':'-separated
    shown: str | None = None  # the default as the help shows it, when not ``default``

    def but(self, **changes: Any) -> Option:
        """The same option with some fields changed (a command's own help or requirement)."""
        return replace(self, **changes)

    def describe(self) -> str:
        default = self.shown or self.default or ("off" if self.switch else "none")
        value = "required" if self.required or default == "required" else f"default: {default}"
        return f"{self.help} ({f'env {self.env}, ' if self.env else ''}{value})"

    def add_to(self, parser: ArgumentContainer, env: Env) -> None:
        given = env.get(self.env, "") if self.env else ""
        kwargs: dict[str, Any] = {"help": self.describe()}
        if self.dest:
            kwargs["dest"] = self.dest
        if self.switch:
            parser.add_argument(self.flag, action="store_true", **kwargs)
            return
        kwargs.update(type=self.type, metavar=self.metavar, required=self.required and not given)
        if self.repeat:
            kwargs.update(action="append", default=[p for p in given.split(":") if p])
        else:
            kwargs["default"] = given or self.default
        parser.add_argument(self.flag, **kwargs)


def add(parser: ArgumentContainer, env: Env, *options: Option) -> None:
    for option in options:
        option.add_to(parser, env)


# -- value types: a ValueError or ArgumentTypeError here is a usage error (exit 2) -----------
def existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a directory")
    return path


def time_arg(text: str) -> datetime:
    try:
        return utc(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc


def log_bytes(text: str) -> int:
    """A size in bytes for --max-log-bytes: at least 4096, so the marker is not most of it."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of bytes: {text!r}") from exc
    if value < 4096:
        raise argparse.ArgumentTypeError(f"{value} is below the minimum of 4096 bytes")
    return value


def log_level(text: str) -> int:
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"not a log level: {text!r} (use {', '.join(LOG_LEVELS)})")
    return int(getattr(logging, text.upper()))


# -- options shared by several commands -------------------------------------------------------
# fmt: off
LOG_LEVEL = Option("--log-level", "how much to log: " + "|".join(LOG_LEVELS),
                   env="OVEN_LOG_LEVEL", default="info", type=log_level, metavar="LEVEL")
REPO = Option("--repo", "config repo: a path, file://, git:// or http(s):// URL",
              env="OVEN_REPO", metavar="PATH_OR_URL")
BRANCH = Option("--branch", "branch holding the manifests",
                env="OVEN_BRANCH", default="main", metavar="BRANCH")
STATUS_BRANCH = Option("--status-branch", "branch the status files are committed to",
                       env="OVEN_STATUS_BRANCH", default="oven-status", metavar="BRANCH")
STATE_DIR = Option("--state-dir", "the daemon's state directory: repo mirror, run logs, "
                   "request spool", env="OVEN_STATE_DIR", default=".oven-state", type=Path,
                   metavar="DIR")
ALLOW_VOLUME = Option("--allow-volume", "host directory jobs may bind-mount; repeatable, "
                      "':'-separated in the variable", env="OVEN_ALLOW_VOLUMES",
                      metavar="HOST_DIR", repeat=True)
NOW = Option("--now", "the time to compute from, ISO 8601 (UTC without a zone)",
             type=time_arg, metavar="TIME", shown="the current time")
JSON = Option("--json", "print JSON for scripts instead of text", switch=True)
SERVER = Option("--server", "URL of a running daemon's status page (http://HOST:PORT): read "
                "from its JSON API instead of git or the state directory", env="OVEN_SERVER",
                metavar="URL")
CACHE_DIR = Option("--cache-dir", "where parsed manifests are kept between runs, by git blob "
                   "id; 'off' keeps none", env="OVEN_CACHE_DIR", metavar="DIR",
                   shown="$XDG_CACHE_HOME/agent-oven, else ~/.cache/agent-oven")
# fmt: on


def manifest_cache(value: str | None) -> Any:
    """The ``ParseCache`` ``--cache-dir`` names: on disk, or this process's memory for 'off'."""
    from reconciler.manifests.cache import DEFAULT, ParseCache, default_directory

    if value == "off":
        return DEFAULT
    return ParseCache(Path(value) if value else default_directory())
