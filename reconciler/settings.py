"""Deployment settings of one reconciler: where the config repo is and how to run.

These come from ``oven run`` flags (docs/cli.md); every flag also has an ``OVEN_*``
environment variable so a container deployment needs no command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    repo: str
    branch: str = "main"
    status_branch: str = "oven-status"
    listen: str = "127.0.0.1:8080"
    interval: float = 30.0  # seconds between fetches of the config repo
    state_dir: Path = Path(".oven-state")
    volume_allowlist: tuple[str, ...] = ()
    secrets_file: Path | None = None
    tick: float = 1.0  # seconds between looks at running containers
    start_concurrency: int = 16  # containers started at once when several runs are due
    wake_delay: float = 0.005  # seconds after a fire time the daemon wakes to start it
    remove_wait: float | None = None  # seconds a tick waits for container removals; None: all
    heartbeat: float = 300.0  # seconds between heartbeat-only status commits
    keep_runs: int = 50  # run files kept per job on the status branch
    instance: str = "default"  # label value separating reconcilers sharing one engine
    executor: str = "docker"  # docker: containers on one engine; swarm: services on a swarm
    log_tail_lines: int = 40
    max_log_bytes: int = 10 * 1024 * 1024  # a run's log saved under state_dir: head + tail
    log_wait: float | None = None  # seconds a tick waits for a log save; None: until saved
    start_wait: float | None = None  # seconds a tick waits for its starts; None: until started
    watch: bool = False  # repo is a local working tree, watched with watchfiles
    # agent-pipeline jobs (docs/agent-pipelines.md)
    runner_image: str = "agent-oven/pipeline-runner:latest"
    host_claude_dir: Path | None = None  # host-login: ~/.claude unless set
    host_claude_json: Path | None = None  # host-login: ~/.claude.json unless set
    host_gh_dir: Path | None = None  # host-login: ~/.config/gh unless set
    lease_seconds: float = 60.0  # the leader lease on the status branch; 0 turns it off
    allowed_hosts: tuple[str, ...] = ()  # Host names served besides listen address, localhost
    webhook_secret: str | None = None  # secret-store name of the push webhook's secret; None: off
    repo_token_secret: str | None = None  # secret-store name of an HTTP(S) token for --repo
    repo_username: str | None = None  # user name sent with that token (x-access-token)
    repo_ssh_key_secret: str | None = None  # secret-store name of an SSH private key for --repo
    write_api: bool = False  # serve the write API (reconciler/api) beside the pages
    api_rate: float = 60.0  # write requests a minute per API token, after the burst
    api_burst: int = 10  # write requests a token may make at once

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)
