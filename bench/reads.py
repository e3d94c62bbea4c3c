"""Benchmark: reads and start with 1k jobs and 100k runs on the status branch.

Three processes: a daemon-like server (a ``Reconciler`` restored from a real git status branch
through ``GitLedger``, the real app on uvicorn, and a tick loop like ``loop.tick_forever``),
and the clients (httpx, 4 concurrent). Every page and API call is timed interleaved with
``/healthz`` in the same run (the baseline: the same server, the same clients, no work), and
the tick loop's lateness is measured while the clients are quiet and while they run.

Start to ready is the time from spawning the server process to its read model being published
with every job (restore done), against ``git archive`` of the same status tree (reading every
file in C) in the same run; RSS is the server's when quiet.

    PYTHONPATH=. python bench/reads.py [--quick] [--jobs 1000 --runs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from statusrepo import BRANCH, T0, job_id, run_id, status_repo

GOAL_MS = 50.0
GOAL_START_S = 5.0
GOAL_RSS_MB = 150.0
TICK_EVERY = 1.0  # seconds between ticks: the daemon's default ``--tick`` when nothing is due


# -- the server process ---------------------------------------------------------------------


def manifests(count: int) -> dict[str, str]:
    """Jobs that never come due during the bench (quiet ticks, like a quiet daemon)."""
    return {
        f"jobs/{job_id(n)}.yaml": yaml.safe_dump(
            {
                "id": job_id(n),
                "name": f"Job {n}",
                "type": "docker",
                "image": "busybox",
                "schedule": {"type": "cron", "cron": "0 0 1 1 *"},
            }
        )
        for n in range(count)
    }


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def serve(args: argparse.Namespace) -> None:
    from reconciler.clock import FakeClock
    from reconciler.executors.memory import MemoryEngine, MemoryExecutor
    from reconciler.gitrepo import GitMirror
    from reconciler.ledger.git import GitLedger
    try:
        from reconciler.loop import settle_heap
    except ImportError:  # an older tree (the "before" figures): a plain collection
        import gc

        settle_heap = gc.collect
    from reconciler.reconcile import Reconciler
    from reconciler.settings import Settings
    from reconciler.source.memory import MemorySource
    from reconciler.web.app import create_app
    from reconciler.web.server import bind_socket, serve_socket

    imported = time.time()
    state = Path(args.state)
    clock = FakeClock(T0 + timedelta(days=1))
    source = MemorySource()
    source.commit(manifests(args.jobs))
    mirror = GitMirror(args.remote, state / "mirror.git")
    ledger = GitLedger(mirror, BRANCH)
    settings = Settings(repo="memory", state_dir=state, heartbeat=10**9, keep_runs=args.keep)
    reconciler = Reconciler(
        settings,
        source=source,
        ledger=ledger,
        clock=clock,
        executor=MemoryExecutor(MemoryEngine(clock), state_dir=state, instance="bench"),
    )
    restoring = time.time()
    reconciler.restore()
    ready = time.time()
    print(json.dumps({"ready": ready, "imported": imported, "restoring": restoring}), flush=True)
    reconciler.tick(fetch=True)  # the first cycle (loads the config, records summaries)
    first_cycle = time.time()
    settle_heap()  # as loop.tick_forever does after a restore
    sock = bind_socket("127.0.0.1", 0)
    app = create_app(reconciler.snapshots.get, ready=reconciler.ready)
    print(
        json.dumps({"port": sock.getsockname()[1], "rss_mb": rss_mb(), "cycle": first_cycle}),
        flush=True,
    )
    asyncio.run(_serve(app, sock, reconciler, clock, serve_socket))


async def _serve(app: Any, sock: Any, reconciler: Any, clock: Any, serve_socket: Any) -> None:
    server = asyncio.create_task(serve_socket(app, sock))
    loop = asyncio.get_running_loop()
    while True:  # like loop.tick_forever: sleep, then tick in a worker thread
        planned = loop.time() + TICK_EVERY
        await asyncio.sleep(TICK_EVERY)
        late = loop.time() - planned
        clock.advance(TICK_EVERY)
        started = time.perf_counter()
        await asyncio.to_thread(reconciler.tick)
        took = time.perf_counter() - started
        print(json.dumps({"late_ms": late * 1e3, "tick_ms": took * 1e3}), flush=True)
        if server.done():
            return


# -- the client process ---------------------------------------------------------------------


def endpoints(jobs: int, runs: int, keep: int) -> dict[str, str]:
    job = job_id(jobs // 2)
    new_run, old_run = run_id(job, runs - 1), run_id(job, max(0, runs - keep - 10))
    since = (T0 + timedelta(minutes=runs - 5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "GET /": "/",
        "GET /?offset= (a later page of jobs)": f"/?offset={jobs // 2}",
        "GET /jobs/{id}": f"/jobs/{job}",
        "GET /runs/{id} (kept)": f"/runs/{new_run}",
        "GET /runs/{id} (older than keep)": f"/runs/{old_run}",
        "GET /problems": "/problems",
        "GET /api/v1/jobs": "/api/v1/jobs",
        "GET /api/v1/jobs/{id}": f"/api/v1/jobs/{job}",
        "GET /api/v1/runs": "/api/v1/runs",
        "GET /api/v1/runs?status=failed": "/api/v1/runs?status=failed",
        "GET /api/v1/runs?job=": f"/api/v1/runs?job={job}",
        "GET /api/v1/runs?since=": f"/api/v1/runs?since={since}",
        "GET /api/v1/runs?limit=1000": "/api/v1/runs?limit=1000",
        "GET /api/v1/runs/{id}": f"/api/v1/runs/{new_run}",
        "GET /api/v1/runs/{id} (older than keep)": f"/api/v1/runs/{old_run}",
        "GET /api/v1/health": "/api/v1/health",
        "GET /api/v1/snapshot": "/api/v1/snapshot",
        "GET /api/v1/snapshot?offset=&limit= (the overview's feed)": (
            f"/api/v1/snapshot?offset={jobs // 2}&limit=100"
        ),
        "GET /metrics": "/metrics",
        "GET /readyz": "/readyz",
    }


def client(args: argparse.Namespace) -> None:
    paths = endpoints(args.jobs, args.runs, args.keep)
    samples = asyncio.run(_clients(args.url, paths, args.rounds, args.concurrency))
    print(json.dumps(samples))


async def _clients(
    url: str, paths: dict[str, str], rounds: int, concurrency: int
) -> dict[str, Any]:
    import httpx

    samples: dict[str, list[float]] = {name: [] for name in ["/healthz", *paths]}
    codes: dict[str, set[int]] = {name: set() for name in samples}

    async def one(http: httpx.AsyncClient, name: str, path: str) -> None:
        started = time.perf_counter()
        response = await http.get(url + path)
        samples[name].append((time.perf_counter() - started) * 1e3)
        codes[name].add(response.status_code)

    async def worker(http: httpx.AsyncClient, offset: int) -> None:
        names = list(paths)
        for round_ in range(rounds):
            for k in range(len(names)):
                name = names[(k + offset + round_) % len(names)]
                await one(http, "/healthz", "/healthz")  # interleaved: baseline, ours, ...
                await one(http, name, paths[name])

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=600, limits=limits) as http:
        await asyncio.gather(*(worker(http, n) for n in range(concurrency)))
    return {"samples": samples, "codes": {k: sorted(v) for k, v in codes.items()}}


# -- orchestration --------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def git_archive_seconds(repo: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["git", "--git-dir", str(repo), "archive", BRANCH, "status/"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def start_server(args: argparse.Namespace, remote: Path, state: Path) -> tuple[Any, float, dict]:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", ".")}
    spawned = time.time()
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            "--remote",
            str(remote),
            "--state",
            str(state),
            "--jobs",
            str(args.jobs),
            "--keep",
            str(args.keep),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    ready_at = first["ready"]
    info = json.loads(proc.stdout.readline())
    info["cycle"] -= ready_at
    info["imports"] = first["imported"] - spawned  # Python's start-up and every import
    info["restore"] = ready_at - first["restoring"]  # reading the status branch
    ready = ready_at - spawned
    return proc, ready, info


def tick_lines(proc: Any, seconds: float) -> list[dict[str, float]]:
    lines, end = [], time.time() + seconds
    while time.time() < end:
        lines.append(json.loads(proc.stdout.readline()))
    return lines


def drain_ticks(proc: Any, into: list[dict[str, float]], stop: list[bool]) -> None:
    while not stop[0]:
        line = proc.stdout.readline()
        if not line:
            return
        into.append(json.loads(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 jobs x 100 runs, fewer rounds")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100, help="run files per job on the branch")
    parser.add_argument("--keep", type=int, default=50, help="keep_runs of the daemon")
    parser.add_argument("--rounds", type=int, default=20, help="rounds over every endpoint")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--remote", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)
    if args.client:
        return client(args)
    if args.quick:
        args.jobs, args.rounds = min(args.jobs, 100), min(args.rounds, 5)
    run_bench(args)


def run_bench(args: argparse.Namespace) -> None:
    import threading

    print(f"building/reusing a status branch: {args.jobs} jobs x {args.runs} runs", flush=True)
    cached = status_repo(args.jobs, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        remote = Path(tmp) / "remote.git"
        shutil.copytree(cached, remote)
        state = Path(tmp) / "state"
        state.mkdir()
        GitMirrorWarm(remote, state)
        archive = git_archive_seconds(remote)
        proc, ready, info = start_server(args, remote, state)
        try:
            quiet = tick_lines(proc, 8 if args.quick else 15)
            loaded: list[dict[str, float]] = []
            stop = [False]
            reader = threading.Thread(target=drain_ticks, args=(proc, loaded, stop), daemon=True)
            reader.start()
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--client",
                    "--url",
                    f"http://127.0.0.1:{info['port']}",
                    "--jobs",
                    str(args.jobs),
                    "--runs",
                    str(args.runs),
                    "--keep",
                    str(args.keep),
                    "--rounds",
                    str(args.rounds),
                    "--concurrency",
                    str(args.concurrency),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            stop[0] = True
        finally:
            proc.terminate()
            proc.wait()
    report(args, json.loads(out), ready, archive, info, quiet, loaded)


def GitMirrorWarm(remote: Path, state: Path) -> None:  # noqa: N802 - reads as a step
    """The daemon restarts with its mirror in the state dir: fetch it once before timing."""
    from reconciler.gitrepo import GitMirror

    GitMirror(str(remote), state / "mirror.git").fetch()


def report(
    args: argparse.Namespace,
    result: dict[str, Any],
    ready: float,
    archive: float,
    info: dict[str, float],
    quiet: list[dict[str, float]],
    loaded: list[dict[str, float]],
) -> None:
    rss = info["rss_mb"]
    samples, codes = result["samples"], result["codes"]
    base = samples.pop("/healthz")
    base95 = pct(base, 0.95)
    size = f"{args.jobs} jobs, {args.jobs * args.runs // 1000}k runs"
    print(
        f"\n## Reads and start ({size}, {args.concurrency} clients, {len(base)} baseline samples)\n"
    )
    print("| work | Agent Oven | baseline | ratio | goal | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, values in samples.items():
        p50, p95 = pct(values, 0.5), pct(values, 0.95)
        bad = [c for c in codes[name] if c >= 400 and c != 503]
        note = f" (HTTP {bad})" if bad else ""
        print(
            f"| {name}{note} | p50 {p50:.1f} ms, p95 {p95:.1f} ms | `/healthz` p95 "
            f"{base95:.1f} ms | {p95 / base95:.1f}x | p95 <= {GOAL_MS:.0f} ms | "
            f"{'yes' if p95 <= GOAL_MS and not bad else 'no'} |"
        )
    print(
        f"| start to ready | {ready:.2f} s | `git archive` of status/ {archive:.2f} s | "
        f"{ready / archive:.1f}x | <= {GOAL_START_S:.0f} s | "
        f"{'yes' if ready <= GOAL_START_S else 'no'} |"
    )
    print(
        f"| start: Python start-up and imports | {info['imports']:.2f} s | - | - | - | - |\n"
        f"| start: restore (summaries, active runs) | {info['restore']:.2f} s | - | - | - | - |"
    )
    print(
        f"| first cycle after ready (config load, every summary) | {info['cycle']:.2f} s | - | "
        "- | - | - |"
    )
    print(
        f"| RSS, quiet | {rss:.0f} MB | - | - | <= {GOAL_RSS_MB:.0f} MB | "
        f"{'yes' if rss <= GOAL_RSS_MB else 'no'} |"
    )
    for label, lines in (("quiet", quiet), ("under load", loaded)):
        late = [line["late_ms"] for line in lines]
        took = [line["tick_ms"] for line in lines]
        print(
            f"| tick lateness, {label} ({len(late)} ticks) | p50 {pct(late, 0.5):.1f} ms, "
            f"p95 {pct(late, 0.95):.1f} ms; tick p50 {statistics.median(took or [0]):.1f} ms "
            f"| - | - | no delay under load | - |"
        )
    late_q = pct([x["late_ms"] for x in quiet], 0.95)
    late_l = pct([x["late_ms"] for x in loaded], 0.95)
    print(f"\ntick lateness p95 under load / quiet: {late_l:.1f} / {late_q:.1f} ms")


if __name__ == "__main__":
    main()
