"""SIGKILL the reconciler at random moments while short jobs run, restart it, and check that
no run started twice, every container got a final run file, and no job stayed blocked; with
``--executor docker`` (containers) and ``--executor swarm`` (replicated-job services on a
one-node swarm, whose task containers carry the same labels)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import docker
from scenarios.harness import StatusBranch, manifest, push_files, wait_until

from reconciler.clock import utc

KILLS = 10
JOBS = {
    "crash-forbid": {
        "schedule": {"type": "interval", "every": "2s"},
        "command": ["sh", "-c", "sleep 1.5; echo forbid"],
    },
    "crash-allow": {
        "schedule": {"type": "interval", "every": "2s"},
        "policy": {"concurrency": "allow"},
        "command": ["sh", "-c", "sleep 3; echo allow"],
    },
    "crash-timeout": {
        "schedule": {"type": "interval", "every": "3s"},
        "resources": {"timeout": 2},
        "command": ["sh", "-c", "sleep 2.5"],
    },
    "crash-fail": {
        "schedule": {"type": "interval", "every": "3s"},
        "command": ["sh", "-c", "exit 7"],
        "retries": {"limit": 1, "backoff": 1},
    },
}
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "missed", "skipped"}


def test_sigkill_restarts_lose_nothing_and_duplicate_nothing(
    bare: Path, daemons, docker_client: docker.DockerClient, instance: str, executor: str
) -> None:
    files = {f"jobs/{job_id}.yaml": manifest(job_id, **spec) for job_id, spec in JOBS.items()}
    push_files(bare, "main", files, "crash jobs")
    status = StatusBranch(bare)
    rng = random.Random(20261122)
    creations = _CreationLog(docker_client, instance)
    daemon = daemons(f"file://{bare}", "--keep-runs", "1000", "--executor", executor)
    for _ in range(KILLS):
        time.sleep(rng.uniform(1.0, 4.5))
        daemon.kill()
        daemon.start()
    restarted = datetime.now(UTC)

    # no job stays blocked: each one has a run that started after the last restart and ended
    def all_moved_on() -> bool:
        for job_id in JOBS:
            runs = status.runs(job_id)
            if not any(
                r["status"] in FINAL and r["started_at"] and utc(r["started_at"]) > restarted
                for r in runs
            ):
                return False
        return True

    wait_until(all_moved_on, 90, "every job to finish a run after the last restart")

    # wind down: remove the jobs and let every active run end
    push_files(bare, "main", {path: None for path in files}, "remove crash jobs")

    def quiet() -> bool:
        runs = [r for job_id in JOBS for r in status.runs(job_id)]
        label = {"label": f"agent-oven.instance={instance}"}
        mine = docker_client.containers.list(all=True, filters=label, ignore_removed=True)
        if executor == "swarm":
            mine += docker_client.api.services(filters=label)
        return bool(runs) and all(r["status"] in FINAL for r in runs) and not mine

    wait_until(quiet, 90, "every run final and every container removed")
    daemon.stop()

    counts = Counter(creations.stop())
    twice = {run_id: n for run_id, n in counts.items() if n > 1}
    assert not twice, f"run ids started more than once: {twice}"
    recorded = {r["run_id"]: r for job_id in JOBS for r in status.runs(job_id)}
    missing = sorted(set(counts) - set(recorded))
    assert not missing, f"containers without a run file: {missing}"
    assert all(recorded[run_id]["status"] in FINAL for run_id in counts)
    print(
        f"\n{KILLS} SIGKILLs, {len(counts)} containers, {len(recorded)} run files, "
        f"statuses {dict(Counter(r['status'] for r in recorded.values()))}, "
        f"errors {dict(Counter((r.get('error') or {}).get('class') for r in recorded.values()))}"
    )
    assert len(counts) >= 10, "the jobs should have run many times during the test"


class _CreationLog:
    """Every container creation by this reconciler instance, streamed live from the engine
    (the engine keeps only its last few hundred events, too few to ask afterwards)."""

    def __init__(self, client: docker.DockerClient, instance: str) -> None:
        self.run_ids: list[str] = []
        self._events = client.events(
            decode=True,
            filters={
                "type": "container",
                "event": "create",
                "label": f"agent-oven.instance={instance}",
            },
        )
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            for event in self._events:
                self.run_ids.append(event["Actor"]["Attributes"]["agent-oven.run"])
        except Exception:  # the stream ends when stop() closes it
            return

    def stop(self) -> list[str]:
        time.sleep(1)  # let the last events arrive
        self._events.close()
        self._thread.join(timeout=10)
        return list(self.run_ids)
