"""``oven run``: the reconciler daemon and its status page, until SIGINT or SIGTERM.

``--listen`` is checked as the flags are parsed and its port bound before anything runs, so
a bad address or a taken port is a usage error (exit 2) and never a daemon without its page.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option
from reconciler.errors import UsageError
from reconciler.lease import MIN_SECONDS

if TYPE_CHECKING:
    from reconciler.settings import Settings


def lease_seconds(text: str) -> float:
    """0 (no lease) or a lease a daemon can renew in time."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from exc
    if value != 0 and not MIN_SECONDS <= value <= 86400:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: use 0 (no lease) or {MIN_SECONDS:g} to 86400 seconds"
        )
    return value


def positive(kind: type[float] | type[int]) -> Callable[[str], float]:
    """A number above 0 of ``kind`` (rates and bursts: 0 would refuse every request)."""

    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not above 0")
        return value

    return convert


def listen_address(text: str) -> str:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; ``:8080`` is 127.0.0.1) with a port 0-65535."""
    host, colon, port = text.strip().rpartition(":")
    bracketed = host.startswith("[") == host.endswith("]")
    if not colon or not port.isdigit() or int(port) > 65535 or not bracketed or " " in host:
        raise argparse.ArgumentTypeError(
            f"not an address: {text!r} (write HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)"
        )
    return text.strip()


def executor_name(text: str) -> str:
    if text not in EXECUTORS:
        raise argparse.ArgumentTypeError(f"no executor {text!r} (use {' or '.join(EXECUTORS)})")
    return text


EXECUTORS = ("docker", "swarm")

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
    Option("--executor", "where runs go: docker (containers on the local engine) or swarm "
           "(replicated-job services on the swarm DOCKER_HOST manages; docs/cluster.md)",
           env="OVEN_EXECUTOR", default="docker", type=executor_name, metavar="docker|swarm"),
    Option("--watch", "--repo is a local git working tree: read manifests from disk, react "
           "to edits", switch=True),
    Option("--heartbeat", "seconds between status commits when nothing else changed",
           env="OVEN_HEARTBEAT", default="300", type=float, metavar="SECONDS"),
    Option("--keep-runs", "run files kept per job on the status branch",
           env="OVEN_KEEP_RUNS", default="50", type=int, metavar="N"),
    Option("--tick", "seconds between looks at running containers",
           env="OVEN_TICK", default="1", type=float, metavar="SECONDS"),
    Option("--start-concurrency", "containers started at once when several runs are due",
           env="OVEN_START_CONCURRENCY", default="16", type=int, metavar="N"),
    Option("--wake-delay", "seconds after a fire time the daemon wakes to start the run",
           env="OVEN_WAKE_DELAY", default="0.005", type=float, metavar="SECONDS"),
    Option("--runner-image", "image agent-pipeline jobs run in",
           env="OVEN_RUNNER_IMAGE", default="agent-oven/pipeline-runner:latest", metavar="IMAGE"),
    Option("--host-claude-dir", "auth: host-login: the Claude login directory to copy per run",
           env="OVEN_HOST_CLAUDE_DIR", type=Path, metavar="DIR", shown="~/.claude"),
    Option("--host-claude-json", "auth: host-login: Claude's global state file to copy per run",
           env="OVEN_HOST_CLAUDE_JSON", type=Path, metavar="FILE", shown="~/.claude.json"),
    Option("--host-gh-dir", "auth: host-login: the gh login directory to copy per run",
           env="OVEN_HOST_GH_DIR", type=Path, metavar="DIR", shown="~/.config/gh"),
    Option("--max-log-bytes", "most bytes of a run's log kept under the state dir (the first "
           "and last halves, with a marker of what was cut)", env="OVEN_MAX_LOG_BYTES",
           default=str(10 * 1024 * 1024), type=options.log_bytes, metavar="BYTES"),
    Option("--lease-seconds", "length of the leader lease on the status branch, so only one "
           f"of several daemons on one repo schedules; 0 turns it off (else at least "
           f"{MIN_SECONDS:g})", env="OVEN_LEASE_SECONDS", default="60", type=lease_seconds,
           metavar="SECONDS"),
    Option("--webhook-secret", "name of the secret (in the environment or --secrets-file) "
           "that signs pushes to POST /hooks/git (docs/webhooks.md); unset: no webhook",
           env="OVEN_WEBHOOK_SECRET", metavar="NAME", shown="off"),
    Option("--repo-token-secret", "name of the secret holding a token for an http(s):// --repo "
           "(sent with basic auth)", env="OVEN_REPO_TOKEN_SECRET", metavar="NAME"),
    Option("--repo-username", "user name sent with --repo-token-secret",
           env="OVEN_REPO_USERNAME", metavar="NAME", shown="x-access-token"),
    Option("--repo-ssh-key-secret", "name of the secret holding an SSH private key for an "
           "ssh:// --repo", env="OVEN_REPO_SSH_KEY_SECRET", metavar="NAME"),
    Option("--write-api", "serve the write API (trigger, cancel, retry; bearer tokens from "
           "oven token create) beside the status page (docs/api.md)", switch=True),
    Option("--api-rate", "write requests a minute per API token, after its burst",
           env="OVEN_API_RATE", default="60", type=positive(float), metavar="PER_MINUTE"),
    Option("--api-burst", "write requests an API token may make at once",
           env="OVEN_API_BURST", default="10", type=positive(int), metavar="N"),
)
# fmt: on
LOG_WAIT = 0.2  # seconds a tick waits for a run's log to be saved before moving on
START_WAIT = 0.0  # seconds a tick waits for its container starts (a later tick books them)
REMOVE_WAIT = 0.0  # seconds a tick waits for container removals (they go on in the background)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    repo = options.REPO.but(shown="required")  # checked in execute, with a hint
    shared = (repo, options.BRANCH, options.STATUS_BRANCH, options.STATE_DIR)
    options.add(parser, env, *shared, *OWN_OPTIONS, options.ALLOW_VOLUME)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.loop import run_daemon

    return asyncio.run(run_daemon(settings_from(args)))


def settings_from(args: argparse.Namespace, command: str = "run") -> Settings:
    """The daemon's settings from the options ``arguments`` declared (``oven doctor`` too)."""
    from reconciler.settings import Settings

    if not args.repo:
        raise UsageError(
            "--repo is required", hint=f"oven {command} --repo /path/or/url/of/config-repo"
        )
    return Settings(
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
        executor=args.executor,
        max_log_bytes=args.max_log_bytes,
        log_wait=LOG_WAIT,
        start_wait=START_WAIT,
        remove_wait=REMOVE_WAIT,
        start_concurrency=max(1, args.start_concurrency),
        wake_delay=max(0.0, args.wake_delay),
        watch=args.watch,
        runner_image=args.runner_image,
        host_claude_dir=args.host_claude_dir,
        host_claude_json=args.host_claude_json,
        host_gh_dir=args.host_gh_dir,
        lease_seconds=args.lease_seconds,
        allowed_hosts=tuple(args.allowed_host),
        webhook_secret=args.webhook_secret,
        repo_token_secret=args.repo_token_secret,
        repo_username=args.repo_username,
        repo_ssh_key_secret=args.repo_ssh_key_secret,
        write_api=args.write_api,
        api_rate=args.api_rate,
        api_burst=args.api_burst,
    )
