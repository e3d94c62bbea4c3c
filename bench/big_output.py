"""Benchmark: what a run that prints a lot costs the daemon, against one that prints nothing.

The daemon's own loop (``loop.build_reconciler`` + ``loop.tick_forever``) runs in this process
on the real Docker engine and a real git remote, with two jobs: ``flood`` (manual, prints
``--mb`` megabytes) and ``steady`` (every 2 s, ``true``). Each scenario triggers ``flood``
once and measures, until its run is recorded plus a few seconds: the growth of this process's
resident memory (the daemon's), the longest gap between two ticks, and how late ``steady``'s
containers started after their nominal times. Machines here are noisy, so the same figures
are measured for a ``flood`` that prints 0 bytes in the same run, and the table shows both
and their ratio.

    .venv/bin/python bench/big_output.py [--mb 100] [--max-log-bytes 10485760]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import docker
import yaml

from reconciler.loop import build_reconciler, tick_forever
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings

IMAGE = "agent-oven/busybox:latest"
LINE = "a line of output that goes on and on and on"


@dataclass
class Figures:
    rss_growth_mb: float
    longest_tick_gap_s: float
    steady_worst_late_s: float
    flood_recorded_s: float


def git(*args: str, cwd: Path | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.test",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.test"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def config_repo(root: Path, flood_bytes: int) -> Path:
    bare, work = root / "config.git", root / "work"
    git("init", "--bare", "--initial-branch=main", str(bare))
    git("clone", "--quiet", str(bare), str(work))
    jobs = {
        "flood": {"schedule": {"type": "manual"},
                  "command": ["sh", "-c", f"yes '{LINE}' | head -c {flood_bytes}"]},
        "steady": {"schedule": {"type": "interval", "every": "2s"}, "command": ["true"],
                   "policy": {"concurrency": "allow"}},
    }
    (work / "jobs").mkdir()
    for job_id, fields in jobs.items():
        manifest = {"id": job_id, "name": job_id, "type": "docker", "image": IMAGE,
                    "network": "none", **fields}
        (work / "jobs" / f"{job_id}.yaml").write_text(yaml.safe_dump(manifest))
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "jobs", cwd=work)
    git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=work)
    return bare


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def wait_for(probe, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s")
        time.sleep(0.1)


def recorded(reconciler: Reconciler, job_id: str) -> bool:
    return any(r.job_id == job_id and r.is_final for r in list(reconciler.book.runs.values()))


def scenario(flood_bytes: int, max_log_bytes: int, instance: str) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(repo=f"file://{config_repo(root, flood_bytes)}",
                            state_dir=root / "state", instance=instance, heartbeat=3600,
                            tick=0.2, interval=1, log_wait=0.2, max_log_bytes=max_log_bytes)
        reconciler = build_reconciler(settings)
        reconciler.restore()
        ticks: list[float] = []
        tick = reconciler.tick

        def timed(fetch: bool = False):  # type: ignore[no-untyped-def]
            ticks.append(time.monotonic())
            return tick(fetch)

        reconciler.tick = timed  # type: ignore[method-assign]
        control: dict[str, object] = {}

        async def main() -> None:
            stop = asyncio.Event()
            control.update(loop=asyncio.get_running_loop(), stop=stop)
            await tick_forever(reconciler, settings, stop, asyncio.Event())

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        try:
            wait_for(lambda: recorded(reconciler, "steady"), 120)
            first_tick, before, peak = len(ticks), rss(), [rss()]
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.is_set():
                    peak[0] = max(peak[0], rss())
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            began, clock = time.monotonic(), reconciler.clock
            since = clock.now()
            reconciler.dispatch.spool.submit_manual("flood", "bench")  # type: ignore[union-attr]
            wait_for(lambda: recorded(reconciler, "flood"), 600)
            flood_s = time.monotonic() - began
            time.sleep(3)
            until = clock.now() - timedelta(seconds=2)
            sampling.set()
            sampler.join()
        finally:
            loop, stop = control.get("loop"), control.get("stop")
            if isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event):
                loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=60)
            remove_containers(instance)
        gaps = [b - a for a, b in zip(ticks[first_tick:], ticks[first_tick + 1 :], strict=False)]
        late = [
            (r.started_at - r.scheduled_for).total_seconds()
            for r in reconciler.book.runs.values()
            if r.job_id == "steady" and r.started_at and r.scheduled_for
            and since <= r.scheduled_for <= until
        ]
        return Figures((peak[0] - before) / 2**20, max(gaps, default=0.0),
                       max(late, default=0.0), flood_s)


def remove_containers(instance: str) -> None:
    client = docker.from_env()
    for container in client.containers.list(
        all=True, filters={"label": f"agent-oven.instance={instance}"}
    ):
        container.remove(force=True)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="megabytes the flood prints")
    parser.add_argument("--max-log-bytes", type=int, default=10 * 2**20)
    args = parser.parse_args()
    instance = f"bench-{uuid.uuid4().hex[:8]}"
    print(f"flood of 0 bytes (baseline) and of {args.mb} MB; saved logs capped at "
          f"{args.max_log_bytes} bytes; steady job every 2 s", flush=True)
    base = scenario(0, args.max_log_bytes, instance)
    big = scenario(args.mb * 2**20, args.max_log_bytes, instance)
    print(f"\n{'':28} {'0 bytes':>10} {f'{args.mb} MB':>10} {'ratio':>8}")
    for name, unit in (("rss_growth_mb", "MB"), ("longest_tick_gap_s", "s"),
                       ("steady_worst_late_s", "s"), ("flood_recorded_s", "s")):
        a, b = getattr(base, name), getattr(big, name)
        ratio = f"{b / a:8.2f}" if a > 0.01 else f"{'-':>8}"
        print(f"{name.replace('_', ' '):28} {a:9.2f}{unit[0]} {b:9.2f}{unit[0]} {ratio}")
    print("\nrss growth: this process's peak resident memory while the flood ran and its log "
          "was saved, over the figure just before it. Tick gap: the longest time between two "
          "ticks (the tick is 0.2 s). Steady late: the worst start of a steady container after "
          "its nominal time while the flood ran (includes the engine's own start time).")


if __name__ == "__main__":
    main()
