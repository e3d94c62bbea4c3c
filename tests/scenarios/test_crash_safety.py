"""SIGKILL the reconciler at random moments while short jobs run, restart it, and check that
no run started twice, every container got a final run file, and no job stayed blocked."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import docker
from scenarios.harness import StatusBranch, manifest, push_files, wait_until

from reconciler.clock import utc

KILLS = 10
JOBS = {
    "crash-forbid": {"schedule": {"type": "interval", "every": "2s"},
                     "command": ["sh", "-c", "sleep 1.5; echo forbid"]},
    "crash-allow": {"schedule": {"type": "interval", "every": "2s"}, "policy": {"concurrency": "allow"},
                    "command": ["sh", "-c", "sleep 3; echo allow"]},
    "crash-timeout": {"schedule": {"type": "interval", "every": "3s"}, "resources": {"timeout": 2},
                      "command": ["sh", "-c", "sleep 2.5"]},
    "crash-fail": {"schedule": {"type": "interval", "every": "3s"}, "command": ["sh", "-c", "exit 7"],
                   "retries": {"limit": 1, "backoff": 1}},
}
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "missed", "skipped"}


def test_sigkill_restarts_lose_nothing_and_duplicate_nothing(
    bare: Path, daemons, docker_client: docker.DockerClient, instance: str
) -> None:
    files = {f"jobs/{job_id}.yaml": manifest(job_id, **spec) for job_id, spec in JOBS.items()}
    push_files(bare, "main", files, "crash jobs")
    status = StatusBranch(bare)
    rng = random.Random(20261122)
    began = datetime.now(UTC)
    daemon = daemons(f"file://{bare}", "--keep-runs", "1000")
    for _ in range(KILLS):
        time.sleep(rng.uniform(1.0, 4.5))
        daemon.kill()
        daemon.start()
    restarted = datetime.now(UTC)

    # no job stays blocked: each one has a run that started after the last restart and ended
    def all_moved_on() -> bool:
        for job_id in JOBS:
            runs = status.runs(job_id)
            if not any(r["status"] in FINAL and r["started_at"] and utc(r["started_at"]) > restarted
                       for r in runs):
                return False
        return True

    wait_until(all_moved_on, 90, "every job to finish a run after the last restart")

    # wind down: remove the jobs and let every active run end
    push_files(bare, "main", {path: None for path in files}, "remove crash jobs")

    def quiet() -> bool:
        runs = [r for job_id in JOBS for r in status.runs(job_id)]
        mine = docker_client.containers.list(all=True, filters={"label": f"agent-oven.instance={instance}"})
        return bool(runs) and all(r["status"] in FINAL for r in runs) and not mine

    wait_until(quiet, 90, "every run final and every container removed")
    daemon.stop()

    created = _created_run_ids(docker_client, instance, began)
    counts = Counter(created)
    twice = {run_id: n for run_id, n in counts.items() if n > 1}
    assert not twice, f"run ids started more than once: {twice}"
    recorded = {r["run_id"]: r for job_id in JOBS for r in status.runs(job_id)}
    missing = sorted(set(counts) - set(recorded))
    assert not missing, f"containers without a run file: {missing}"
    assert all(recorded[run_id]["status"] in FINAL for run_id in counts)
    print(f"\n{KILLS} SIGKILLs, {len(counts)} containers, {len(recorded)} run files, "
          f"statuses {dict(Counter(r['status'] for r in recorded.values()))}")
    assert len(counts) >= 10, "the jobs should have run many times during the test"


def _created_run_ids(client: docker.DockerClient, instance: str, since: datetime) -> list[str]:
    events = client.events(
        since=int(since.timestamp()) - 1, until=int(time.time()) + 1, decode=True,
        filters={"type": "container", "event": "create", "label": f"agent-oven.instance={instance}"},
    )
    return [e["Actor"]["Attributes"]["agent-oven.run"] for e in events]
