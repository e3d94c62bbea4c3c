"""Benchmark: fire -> container running on the real Docker engine, against the docker SDK in
a thread pool and `docker run` starting the same containers in the same run.

A real daemon loop (``loop.tick_forever`` with ``DockerExecutor``, its event stream and the
concurrent starts; an in-memory config source and ledger, so git is not measured) runs in a
thread. Each round commits N ``once`` jobs due at the same whole second T; the lateness of a
run is the engine's ``State.StartedAt`` of its container minus T. The baselines start the same
N containers of the same image at T: the SDK's ``containers.run(detach=True)`` in a thread
pool of N threads, and (N = 1) ``docker run -d --rm``. Rounds are interleaved (ours,
pool, docker run, ours, ...). Sustained: 30 jobs every 5 s (360 fires/min offered) for a
bounded time, against a pool starting 30 containers every 5 s, in interleaved segments
(ours, pool, ours, ...); the note gives the daemon's CPU per run. Every container carries
this bench's own label and is removed at the end.

    PYTHONPATH=. python bench/starts.py [--quick] [--baseline]

``--baseline`` runs the daemon as it was before concurrent starts (one start at a time,
the 100 ms wake-up delay, no event stream) for a before/after table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import docker

from reconciler.clock import SystemClock, utc
from reconciler.executors import labels
from reconciler.executors.docker import DockerExecutor
from reconciler.ledger.memory import MemoryLedger
from reconciler.loop import _set_soon, tick_forever, wait_for_events
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.memory import MemorySource

IMAGE = "agent-oven/busybox:latest"
BENCH_LABEL = "agent-oven.bench-starts"


class Daemon:
    """A reconciler ticking in its own thread and event loop, like ``oven run``."""

    def __init__(self, state_dir: Path, baseline: bool, concurrency: int) -> None:
        self.instance = f"bench-starts-{uuid.uuid4().hex[:8]}"
        self.settings = Settings(
            repo="memory",
            state_dir=state_dir,
            interval=3600,
            tick=1.0,
            heartbeat=10**9,
            lease_seconds=0,
            instance=self.instance,
            log_wait=0.2,
            start_wait=None if baseline else 0.0,
            remove_wait=0.0,
            start_concurrency=1 if baseline else concurrency,
            wake_delay=0.1 if baseline else 0.005,
        )
        self.source = MemorySource()
        self.source.commit({"oven.yaml": "{}\n"})
        self.executor = DockerExecutor(state_dir=state_dir, instance=self.instance, pool_size=12)
        self.watch = not baseline
        self.reconciler = Reconciler(
            self.settings,
            source=self.source,
            executor=self.executor,
            ledger=MemoryLedger(),
            clock=SystemClock(),
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop, self._wake = asyncio.Event(), asyncio.Event()
            nudge = asyncio.Event()
            if self.watch:
                loop = self._loop
                self.executor.watch(lambda: loop.call_soon_threadsafe(nudge.set))
                self.reconciler.dispatch.on_started = partial(_set_soon, loop, nudge)
            ready.set()
            wait = partial(wait_for_events, nudge=nudge)
            await tick_forever(self.reconciler, self.settings, self._stop, self._wake, wait)

        asyncio.run(main())

    def commit(self, files: dict[str, str | None]) -> None:
        assert self._loop is not None and self._wake is not None
        self._loop.call_soon_threadsafe(self._commit_and_wake, files)

    def _commit_and_wake(self, files: dict[str, str | None]) -> None:
        assert self._wake is not None
        self.source.commit(files)  # on the loop's thread: never during a tick's fetch
        self._wake.set()

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=30)
        self.executor.close()


def job(job_id: str, schedule: str, command: str) -> str:
    return (
        f"id: {job_id}\nname: {job_id}\ntype: docker\nimage: {IMAGE}\n"
        f"command: {command}\nschedule: {schedule}\npolicy: {{concurrency: allow}}\n"
    )


def next_second(ahead: float) -> datetime:
    at = datetime.now(UTC) + timedelta(seconds=ahead)
    return at.replace(microsecond=0) + timedelta(seconds=1)


def sleep_until(at: datetime) -> None:
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


def started_lateness(api: Any, ids: list[str], at: datetime) -> list[float]:
    lateness = []
    for container_id in ids:
        with contextlib.suppress(docker.errors.NotFound):
            state = api.inspect_container(container_id)["State"]
            lateness.append((utc(state["StartedAt"]) - at).total_seconds())
    return lateness


def wait_running(api: Any, label: str, count: int, tag: str, timeout: float = 180.0) -> list[str]:
    """Ids of the ``count`` containers carrying ``label`` and named after ``tag`` once all
    have started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = api.containers(all=True, filters={"label": label})
        mine = [c for c in found if any(tag in name for name in c.get("Names") or ())]
        started = [c for c in mine if c["State"] != "created"]
        if len(started) >= count:
            return [c["Id"] for c in started]
        time.sleep(0.05)
    raise RuntimeError(f"only some of {count} containers ({label}) started in {timeout:.0f}s")


def remove_all(api: Any, label: str) -> None:
    for container in api.containers(all=True, filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_container(container["Id"], force=True)


def round_ours(daemon: Daemon, api: Any, count: int, tag: str) -> list[float]:
    at = next_second(1.5)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    files: dict[str, str | None] = {
        f"jobs/{tag}-{n}.yaml": job(f"{tag}-{n}", f"{{type: once, at: '{stamp}'}}", "[sleep, '60']")
        for n in range(count)
    }
    daemon.commit(files)
    label = f"{labels.INSTANCE}={daemon.instance}"
    ids = wait_running(api, label, count, tag)
    lateness = started_lateness(api, ids, at)
    remove_all(api, label)  # first: the daemon records them vanished, it has nothing to stop
    daemon.commit({path: None for path in files})
    time.sleep(1)
    return lateness


def round_pool(client: docker.DockerClient, count: int, tag: str) -> list[float]:
    at = next_second(0.5)
    label = f"{BENCH_LABEL}={tag}"
    sleep_until(at)
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [
            pool.submit(
                client.containers.run,
                IMAGE,
                ["sleep", "60"],
                detach=True,
                labels={BENCH_LABEL: tag},
            )
            for _ in range(count)
        ]
        ids = [future.result().id for future in futures]
    lateness = started_lateness(client.api, ids, at)
    remove_all(client.api, label)
    return lateness


def round_cli(client: docker.DockerClient, tag: str) -> list[float]:
    at = next_second(0.5)
    sleep_until(at)
    done = subprocess.run(
        ["docker", "run", "-d", "--rm", "--label", f"{BENCH_LABEL}={tag}", IMAGE, "sleep", "60"],
        capture_output=True,
        text=True,
        check=True,
    )
    lateness = started_lateness(client.api, [done.stdout.strip()], at)
    remove_all(client.api, f"{BENCH_LABEL}={tag}")
    return lateness


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def sustained_ours(daemon: Daemon, seconds: float) -> tuple[float, float]:
    """Starts per minute and CPU seconds per run of the daemon, 30 jobs every 5 s."""
    files: dict[str, str | None] = {
        f"jobs/every-{n}.yaml": job(f"every-{n}", "{type: interval, every: 5s}", "['true']")
        for n in range(30)
    }
    daemon.commit(files)
    time.sleep(6)  # the first fire after the jobs were applied
    book = daemon.reconciler.book
    before = set(list(book.runs))
    cpu, begin = time.process_time(), time.monotonic()
    time.sleep(seconds)
    runs = len(set(list(book.runs)) - before)
    cpu = time.process_time() - cpu
    elapsed = time.monotonic() - begin
    daemon.commit({path: None for path in files})
    time.sleep(3)
    return runs / elapsed * 60, cpu / max(runs, 1)


def sustained_pool(client: docker.DockerClient, seconds: float) -> tuple[float, float]:
    """Starts per minute of a 30-thread SDK pool starting 30 containers every 5 s."""
    tag = f"sustained-{uuid.uuid4().hex[:6]}"
    started = 0
    lock = threading.Lock()

    def start() -> None:
        nonlocal started
        container = client.containers.run(IMAGE, ["true"], detach=True, labels={BENCH_LABEL: tag})
        with lock:
            started += 1
        remover.submit(_remove_later, client, container.id)

    cpu, begin = time.process_time(), time.monotonic()
    with ThreadPoolExecutor(4) as remover, ThreadPoolExecutor(30) as pool:
        while time.monotonic() - begin < seconds:
            fire = time.monotonic()
            for _ in range(30):
                pool.submit(start)
            time.sleep(max(0.0, 5 - (time.monotonic() - fire)))
        counted, elapsed = started, time.monotonic() - begin
    cpu = time.process_time() - cpu
    remove_all(client.api, f"{BENCH_LABEL}={tag}")
    return counted / elapsed * 60, cpu / max(counted, 1)


def _remove_later(client: docker.DockerClient, container_id: str) -> None:
    try:
        client.api.wait(container_id, timeout=30)
        client.api.remove_container(container_id, force=True)
    except Exception:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a bounded slice (~2 minutes)")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="the daemon as before: serial starts, 100 ms wake-up, no events",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--start-concurrency", type=int, default=Settings.start_concurrency)
    args = parser.parse_args()
    logging.getLogger("oven").setLevel(logging.ERROR)
    reps = {1: 3, 10: 2, 50: 1} if args.quick else {1: 7, 10: 4, 50: 2}
    sustain = 20.0 if args.quick else 60.0
    segments = 1 if args.quick else 3  # sustained: ours, pool, ours, pool, ... (interleaved)
    client = docker.from_env(max_pool_size=64)
    rows: list[tuple[str, str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(Path(tmp), args.baseline, args.start_concurrency)
        try:
            for size in args.sizes:
                ours: list[float] = []
                pool: list[float] = []
                cli: list[float] = []
                for rep in range(reps.get(size, 1)):
                    tag = f"r{size}x{rep}-{uuid.uuid4().hex[:4]}"
                    ours += round_ours(daemon, client.api, size, tag)
                    pool += round_pool(client, size, tag)
                    if size == 1:
                        cli += round_cli(client, tag)
                p50, p99 = percentile(ours, 0.5), percentile(ours, 0.99)
                b50, b99 = percentile(pool, 0.5), percentile(pool, 0.99)
                rows.append(
                    (
                        f"fire → running, {size} job(s), p99",
                        f"{p99:.3f} s (p50 {p50:.3f})",
                        f"SDK pool {b99:.3f} s (p50 {b50:.3f})",
                        f"{p99 / b99:.2f}×",
                        "≤ 1.2×",
                        "yes" if p99 <= 1.2 * b99 else "no",
                    )
                )
                if size == 1:
                    c50 = statistics.median(cli)
                    rows.append(
                        (
                            "fire → running, 1 job, p50",
                            f"{p50:.3f} s",
                            f"docker run {c50:.3f} s",
                            f"{p50 / c50:.2f}× (+{(p50 - c50) * 1000:.0f} ms)",
                            "≤ +50 ms",
                            "yes" if p50 - c50 <= 0.05 else "no",
                        )
                    )
            ours_s: list[tuple[float, float]] = []
            pool_s: list[tuple[float, float]] = []
            for _ in range(segments):
                ours_s.append(sustained_ours(daemon, sustain / segments))
                pool_s.append(sustained_pool(client, sustain / segments))
            rate, cpu = (statistics.mean(values) for values in zip(*ours_s, strict=True))
            base_rate, base_cpu = (statistics.mean(values) for values in zip(*pool_s, strict=True))
        finally:
            daemon.close()
            remove_all(client.api, f"{labels.INSTANCE}={daemon.instance}")
    rows.append(
        (
            f"starts/min, 30 jobs every 5 s ({sustain:.0f} s)",
            f"{rate:.0f}/min, {cpu * 1000:.0f} ms CPU/run",
            f"SDK pool {base_rate:.0f}/min ({base_cpu * 1000:.0f} ms CPU/run)",
            f"{rate / base_rate:.2f}×",
            "≥ 1×",
            "yes" if rate >= base_rate else "no",
        )
    )
    mode = "baseline (before)" if args.baseline else "Agent Oven"
    print(f"\n| work | {mode} | baseline | ratio | goal | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    client.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
