"""Benchmark: what one reconciler can drive through the Swarm executor, against the Docker
executor on the same engine in the same run.

The engine is made a one-node swarm for the bench (and left again at the end if it was not
one). Rounds alternate executor by executor (docker, swarm, docker, swarm ...) so both see the
same machine load. Each round, through the executor itself (``start``, ``observe``,
``remove``, exactly the calls the daemon's tick makes):

- starts: ``--runs`` runs of ``true`` started back to back; starts per minute = runs / the time
  the ``start`` calls took (what a tick that starts them serially can do);
- runs end to end: from the first start until ``observe`` shows every run finished, then all
  removed; runs per minute = runs / that time (start, placement, run, exit, removal);
- observe: the time of one ``observe()`` with all those runs present, finished (what every tick
  pays), and of the first ``observe()`` of a new executor (a restarted daemon, nothing cached);
  runs per tick-second = runs / the first (how many runs one 1 s tick could look at).

Every figure is the median over rounds and is printed beside the Docker executor's as a ratio.

    PYTHONPATH=. python bench/swarm.py [--quick] [--runs 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from reconciler.executors.docker import DockerExecutor
from reconciler.executors.swarm import SwarmExecutor
from reconciler.interfaces import RunRequest

IMAGE = "agent-oven/busybox:latest"
Executor = DockerExecutor | SwarmExecutor


def one_round(executor: Executor, runs: int) -> dict[str, float]:
    ids = [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(runs)]
    began = time.perf_counter()
    for run_id in ids:
        executor.start(
            RunRequest(
                run_id=run_id, job_id="bench", trigger="manual", image=IMAGE, command=("true",)
            )
        )
    started = time.perf_counter()
    deadline = started + 300
    while True:
        seen = {run.run_id: run for run in executor.observe()}
        if all(run_id in seen and not seen[run_id].is_running for run_id in ids):
            break
        if time.perf_counter() > deadline:
            raise SystemExit(f"runs did not finish in 300 s on {type(executor).__name__}")
        time.sleep(0.1)
    ended = time.perf_counter()
    executor.observe()
    steady = time.perf_counter() - ended
    fresh = type(executor)(state_dir=executor.state_dir, instance=executor.instance)
    look = time.perf_counter()
    fresh.observe()  # a restarted daemon: nothing cached
    looked = time.perf_counter() - look
    fresh.close()
    for run_id in ids:
        executor.remove(run_id)
    removed = time.perf_counter()
    return {
        "starts/min": runs / (started - began) * 60,
        "runs/min end to end": runs / (removed - began) * 60,
        "observe ms, a tick (all finished)": steady * 1000,
        "observe ms, after a restart": looked * 1000,
        "finished after last start s": ended - started,
    }


def swarm_state(client: docker.DockerClient) -> str:
    return str((client.info().get("Swarm") or {}).get("LocalNodeState", "inactive"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs, 2 rounds")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs, rounds = (5, 2) if args.quick else (args.runs, args.rounds)
    client = docker.from_env()
    made = False
    if swarm_state(client) == "inactive":
        subprocess.run(
            ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
            check=True,
            capture_output=True,
        )
        made = True
    instance = f"bench-swarm-{uuid.uuid4().hex[:6]}"
    figures: dict[str, dict[str, list[float]]] = {"docker": {}, "swarm": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            kinds: dict[str, Callable[..., Any]] = {
                "docker": DockerExecutor,
                "swarm": SwarmExecutor,
            }
            executors = {
                name: kind(state_dir=Path(tmp), instance=instance) for name, kind in kinds.items()
            }
            one_round(executors["swarm"], 1)  # warm up: image, networks, first connection
            one_round(executors["docker"], 1)
            for _ in range(rounds):
                for name, executor in executors.items():
                    for key, value in one_round(executor, runs).items():
                        figures[name].setdefault(key, []).append(value)
    finally:
        if made and not client.api.services():
            subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True)
    print(
        f"\n{runs} runs of `true` per round, {rounds} rounds, medians; one-node swarm on this "
        "engine vs plain containers on it\n"
    )
    print(
        "| work | Agent Oven (swarm executor) | baseline (docker executor) | ratio | goal | met |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    goals = {"starts/min": 0.5, "runs/min end to end": 0.25}
    for key in figures["docker"]:
        ours = statistics.median(figures["swarm"][key])
        base = statistics.median(figures["docker"][key])
        ratio = ours / base if base else float("nan")
        goal = goals.get(key)
        goal_text = f"≥ {goal}× docker" if goal else "–"
        met = ("yes" if ratio >= goal else "no") if goal else "–"
        print(f"| {key} | {ours:.1f} | {base:.1f} | {ratio:.2f}× | {goal_text} | {met} |")
    jobs = runs / (statistics.median(figures["swarm"]["observe ms, after a restart"]) / 1000)
    print(
        f"\nruns one 1 s tick can observe on the swarm: ≈ {jobs:.0f} (observe is one services "
        "list, one tasks list and an inspect per new local task, cached once finished)"
    )


if __name__ == "__main__":
    main()
