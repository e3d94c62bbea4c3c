"""Benchmark: push-to-applied latency of `oven run` with the push webhook and with polling,
against one `git fetch` of the same change in the same run.

Two real daemons (subprocesses) watch one bare repo on disk, each with its own status branch
and state dir: ``hook`` with ``--interval 3600`` and ``--webhook-secret`` (a signed GitHub-style
push delivery is posted right after each push), ``poll`` with ``--interval`` (default 5 s,
plus its per-instance jitter). For each round a manifest change is pushed with the real `git`
client; the time until each daemon's ``/api/v1/health`` shows the new revision as applied is
measured, and so is one `git fetch` of the change into a clone. The table prints the medians
and each as a ratio to the fetch (machines here are noisy, the ratio is what to compare).
Docker must run (the daemon connects to the engine); no job runs (the schedule never fires).

    .venv/bin/python bench/push_latency.py [--rounds 5] [--interval 5]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from gitcli import git

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret-value"
JOB = (
    "id: {id}\nname: Bench {id}\ntype: docker\nimage: agent-oven/busybox:latest\n"
    "command: [echo]\nschedule: {{type: cron, cron: '0 0 1 1 *'}}\n"
)



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Daemon:
    def __init__(self, base: Path, name: str, repo: Path, *extra: str) -> None:
        self.port = free_port()
        self.log = (base / f"{name}.log").open("wb")
        command = [
            sys.executable,
            "-m",
            "reconciler",
            "run",
            "--repo",
            f"file://{repo}",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--state-dir",
            str(base / name),
            "--status-branch",
            f"status-{name}",
            "--instance",
            f"bench-{name}-{uuid.uuid4().hex[:6]}",
            "--lease-seconds",
            "0",
            "--tick",
            "0.2",
            *extra,
        ]
        env = {**os.environ, "BENCH_HOOK": SECRET, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )

    def applied(self) -> str | None:
        url = f"http://127.0.0.1:{self.port}/api/v1/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read()).get("applied_revision")
        except (OSError, ValueError):
            return None

    def hook(self, sha: str) -> None:
        body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/hooks/git",
            data=body,
            method="POST",
            headers={
                "X-Hub-Signature-256": signature,
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": uuid.uuid4().hex,
            },
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 202, response.status

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def wait_applied(daemons: dict[str, Daemon], sha: str, started: float, timeout: float) -> dict:
    took: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(took) < len(daemons) and time.monotonic() < deadline:
        for name, daemon in daemons.items():
            if name not in took and daemon.applied() == sha:
                took[name] = time.monotonic() - started
        time.sleep(0.01)
    missing = set(daemons) - set(took)
    if missing:
        raise SystemExit(f"not applied within {timeout}s by: {', '.join(sorted(missing))}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=5.0, help="polling daemon's interval")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oven-push-bench-") as tmp:
        base = Path(tmp)
        bare = base / "config.git"
        git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        work, reader = base / "work", base / "reader"
        git("clone", "--quiet", str(bare), str(work))
        (work / "jobs").mkdir()
        (work / "jobs" / "j0.yaml").write_text(JOB.format(id="j0"))
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", "first", cwd=work)
        git("push", "--quiet", "origin", "HEAD:main", cwd=work)
        git("clone", "--quiet", f"file://{bare}", str(reader))
        daemons = {
            "webhook": Daemon(
                base, "webhook", bare, "--interval", "3600", "--webhook-secret", "BENCH_HOOK"
            ),
            "polling": Daemon(base, "polling", bare, "--interval", str(args.interval)),
        }
        try:
            first = git("rev-parse", "HEAD", cwd=work)
            wait_applied(daemons, first, time.monotonic(), 120)
            phase = random.Random(8)
            rows: dict[str, list[float]] = {"git fetch": [], "webhook": [], "polling": []}
            for n in range(1, args.rounds + 1):
                (work / "jobs" / f"j{n}.yaml").write_text(JOB.format(id=f"j{n}"))
                git("add", "-A", cwd=work)
                git("commit", "--quiet", "-m", f"round {n}", cwd=work)
                git("push", "--quiet", "origin", "HEAD:main", cwd=work)
                sha = git("rev-parse", "HEAD", cwd=work)
                pushed = time.monotonic()
                daemons["webhook"].hook(sha)
                took = wait_applied(daemons, sha, pushed, args.interval * 3 + 30)
                started = time.monotonic()
                git("fetch", "--quiet", "origin", cwd=reader)
                rows["git fetch"].append(time.monotonic() - started)
                rows["webhook"].append(took["webhook"])
                rows["polling"].append(took["polling"])
                time.sleep(phase.uniform(0, args.interval))  # push at any point of a poll
        finally:
            for daemon in daemons.values():
                daemon.stop()
    fetch = statistics.median(rows["git fetch"])
    print(f"push-to-applied latency, {args.rounds} rounds, polling every {args.interval:g}s")
    print(f"{'':12} {'median s':>10} {'max s':>10} {'x git fetch':>12}")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:12} {median:10.3f} {max(values):10.3f} {median / fetch:12.1f}")


if __name__ == "__main__":
    main()
