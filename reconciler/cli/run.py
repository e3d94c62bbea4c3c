"""``oven run``: the reconciler daemon and its status page, until SIGINT or SIGTERM.

``--listen`` is checked as the flags are parsed and its port bound before anything runs, so
a bad address or a taken port is a usage error (exit 2) and never a daemon without its page.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option
from reconciler.errors import UsageError


def listen_address(text: str) -> str:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; ``:8080`` is 127.0.0.1) with a port 0-65535."""
    host, colon, port = text.strip().rpartition(":")
    bracketed = host.startswith("[") == host.endswith("]")
    if not colon or not port.isdigit() or int(port) > 65535 or not bracketed or " " in host:
        raise argparse.ArgumentTypeError(
            f"not an address: {text!r} (write HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)"
        )
    return text.strip()


# fmt: off
OWN_OPTIONS = (
    Option("--listen", "address of the status page and API",
           env="OVEN_LISTEN", default="127.0.0.1:8080", type=listen_address, metavar="HOST:PORT"),
    Option("--allowed-host", "another host name the page may be opened by (the listen address "
           "and localhost always may; '*' allows any); repeatable, ':'-separated in the variable",
           env="OVEN_ALLOWED_HOSTS", metavar="NAME", repeat=True),
    Option("--interval", "seconds between fetches of the config repo",
           env="OVEN_INTERVAL", default="30", type=float, metavar="SECONDS"),
    Option("--secrets-file", "NAME=value lines; secrets are also read from the environment",
           type=Path, metavar="FILE"),
    Option("--instance", "label value that separates reconcilers sharing one Docker engine",
           env="OVEN_INSTANCE", default="default", metavar="NAME"),
    Option("--watch", "--repo is a local git working tree: read manifests from disk, react "
           "to edits", switch=True),
    Option("--heartbeat", "seconds between status commits when nothing else changed",
           env="OVEN_HEARTBEAT", default="300", type=float, metavar="SECONDS"),
    Option("--keep-runs", "run files kept per job on the status branch",
           env="OVEN_KEEP_RUNS", default="50", type=int, metavar="N"),
    Option("--tick", "seconds between looks at running containers",
           env="OVEN_TICK", default="1", type=float, metavar="SECONDS"),
)
# fmt: on


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    repo = options.REPO.but(shown="required")  # checked in execute, with a hint
    shared = (repo, options.BRANCH, options.STATUS_BRANCH, options.STATE_DIR)
    options.add(parser, env, *shared, *OWN_OPTIONS, options.ALLOW_VOLUME)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.loop import run_daemon
    from reconciler.settings import Settings

    if not args.repo:
        raise UsageError("--repo is required", hint="oven run --repo /path/or/url/of/config-repo")
    settings = Settings(
        repo=args.repo,
        branch=args.branch,
        status_branch=args.status_branch,
        listen=args.listen,
        interval=args.interval,
        state_dir=args.state_dir.resolve(),
        volume_allowlist=tuple(args.allow_volume),
        secrets_file=args.secrets_file,
        tick=args.tick,
        heartbeat=args.heartbeat,
        keep_runs=args.keep_runs,
        instance=args.instance,
        watch=args.watch,
        allowed_hosts=tuple(args.allowed_host),
    )
    return asyncio.run(run_daemon(settings))
