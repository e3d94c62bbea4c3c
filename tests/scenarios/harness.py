"""Helpers for whole-product scenarios: a real bare git repo changed with the real `git` client, the
reconciler as a real process (or a real in-process cycle), and the real Docker engine.

Every container carries this session's instance label and is removed at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from support.gitutil import free_port, git, make_bare, push_files  # noqa: F401  (re-exported)

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "agent-oven/busybox:latest"
INSTANCE_PREFIX = f"scn-{uuid.uuid4().hex[:8]}"


T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float, what: str, every: float = 0.25) -> T:
    """Poll ``probe`` until it returns something truthy; fail the test naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def manifest(job_id: str, **fields: Any) -> str:
    data: dict[str, Any] = {
        "id": job_id,
        "name": f"Scenario job {job_id}",
        "type": "docker",
        "image": IMAGE,
        "command": ["sh", "-c", "echo hello from " + job_id],
        "schedule": {"type": "interval", "every": "3s"},
    }
    data.update(fields)
    return yaml.safe_dump(data, sort_keys=False)


class StatusBranch:
    """Reads the status branch of a bare repo with the real git client."""

    def __init__(self, bare: Path, branch: str = "oven-status") -> None:
        self.bare, self.branch = bare, branch

    def exists(self) -> bool:
        return bool(git("--git-dir", str(self.bare), "branch", "--list", self.branch))

    def paths(self, rev: str | None = None) -> list[str]:
        if not self.exists():
            return []
        out = git(
            "--git-dir", str(self.bare), "ls-tree", "-r", "--name-only", rev or self.branch,
            "status/",
        )  # fmt: skip
        return out.splitlines()

    def read(self, path: str, rev: str | None = None) -> dict[str, Any]:
        text = git("--git-dir", str(self.bare), "show", f"{rev or self.branch}:{path}")
        return yaml.safe_load(text)

    def runs(self, job_id: str) -> list[dict[str, Any]]:
        """The job's run files in one commit: a daemon that commits meanwhile (and prunes a
        file the listing named) cannot make the reads disagree with the listing."""
        if not self.exists():
            return []
        tip = git("--git-dir", str(self.bare), "rev-parse", self.branch).strip()
        prefix = f"status/runs/{job_id}/"
        return [self.read(p, tip) for p in self.paths(tip) if p.startswith(prefix)]

    def reconciler(self) -> dict[str, Any]:
        return (
            self.read("status/reconciler.yaml") if "status/reconciler.yaml" in self.paths() else {}
        )


class Daemon:
    """`oven run` as a child process against a repo URL, on a free loopback port."""

    def __init__(self, repo: str, state_dir: Path, instance: str, *extra: str) -> None:
        self.repo, self.state_dir, self.instance, self.extra = repo, state_dir, instance, extra
        self.port = free_port()
        self.log = state_dir.parent / f"daemon-{instance}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}  # added to the environment of every start

    def start(self, env: dict[str, str] | None = None) -> Daemon:
        """Start the process; ``env`` adds variables (kept for later restarts)."""
        self.env.update(env or {})
        command = [
            sys.executable,
            "-m",
            "reconciler",
            "run",
            "--repo",
            self.repo,
            "--listen",
            f"127.0.0.1:{self.port}",
            "--interval",
            "1",
            "--tick",
            "0.3",
            "--heartbeat",
            "5",
            "--state-dir",
            str(self.state_dir),
            "--instance",
            self.instance,
            *self.extra,
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )
        return self

    def signal(self, sig: int) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def get(self, path: str) -> tuple[int, str, str]:
        """GET ``path`` from the daemon's web server: (status, content type, body)."""
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read().decode()
                return response.status, response.headers.get("content-type", ""), body
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("content-type", ""), exc.read().decode()

    def get_json(self, path: str) -> Any:
        status, kind, body = self.get(path)
        assert (status, kind) == (200, "application/json"), (path, status, body)
        return json.loads(body)

    def applied_revision(self) -> str | None:
        """The revision the daemon applied, as its API says; None while it cannot answer."""
        try:
            return self.get_json("/api/v1/health").get("applied_revision")
        except (OSError, AssertionError):
            return None

    def serving(self) -> bool:
        """The web server answers (whatever the status)."""
        try:
            self.get("/healthz")
        except OSError:
            return False
        return True


def oven(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
