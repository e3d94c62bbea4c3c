"""How runs end, on the real Docker engine and a real git remote: exit codes, timeouts,
memory limits and retries, driven through the real reconcile cycle."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from scenarios.harness import IMAGE, StatusBranch, manifest, push_files, wait_until

from reconciler.clock import SystemClock, utc
from reconciler.executors.docker import DockerExecutor
from reconciler.ledger.git import GitLedger
from reconciler.reconcile import Reconciler
from reconciler.requests import RequestSpool
from reconciler.runids import container_name
from reconciler.settings import Settings
from reconciler.source.git import GitSource


class Driver:
    """The reconcile cycle in this process, ticking until a condition holds."""

    def __init__(self, bare: Path, state: Path, instance: str, allow: tuple[str, ...] = ()) -> None:
        settings = Settings(
            repo=f"file://{bare}",
            state_dir=state,
            instance=instance,
            volume_allowlist=allow,
            heartbeat=3600,
        )
        source = GitSource(settings.repo, "main", state)
        self.spool = RequestSpool(state)
        self.reconciler = Reconciler(
            settings,
            source=source,
            clock=SystemClock(),
            spool=self.spool,
            executor=DockerExecutor(state_dir=state, instance=instance),
            ledger=GitLedger(source.mirror, "oven-status"),
        )
        self.reconciler.restore()
        self.status = StatusBranch(bare)

    def tick_until(self, probe, timeout: float, what: str) -> Any:  # type: ignore[no-untyped-def]
        def step() -> Any:
            self.reconciler.tick(fetch=True)
            return probe()

        return wait_until(step, timeout, what, every=0.2)

    def run_file(self, job_id: str, final: bool = True) -> dict[str, Any] | None:
        runs = self.status.runs(job_id)
        done = [r for r in runs if not final or r["status"] not in ("running", "queued")]
        return done[0] if done else None


@pytest.fixture
def driver(bare: Path, tmp_path: Path, instance: str) -> Iterator[Any]:
    drivers: list[Driver] = []

    def make(files: dict[str, str], allow: tuple[str, ...] = ()) -> Driver:
        push_files(bare, "main", files, "jobs")
        drivers.append(Driver(bare, tmp_path / "state", instance, allow))
        return drivers[-1]

    yield make


def manual(job_id: str, **fields: Any) -> str:
    return manifest(job_id, schedule={"type": "manual"}, **fields)


def test_exit_code_three_is_recorded_failed(driver) -> None:
    d = driver({"jobs/three.yaml": manual("three", command=["sh", "-c", "echo failing; exit 3"])})
    d.spool.submit_manual("three", None)
    run = d.tick_until(lambda: d.run_file("three"), 60, "the run of three to finish")
    assert (run["status"], run["exit_code"]) == ("failed", 3)
    assert run["error"]["class"] == "NonZeroExit" and "failing" in run["log_tail"]
    assert run["image"] == IMAGE and run["trigger"] == "manual"


def test_a_run_past_its_timeout_is_killed_and_recorded_timed_out(driver, docker_client) -> None:
    d = driver(
        {"jobs/slow.yaml": manual("slow", command=["sleep", "60"], resources={"timeout": 2})}
    )
    d.spool.submit_manual("slow", "once")
    started = time.monotonic()
    run = d.tick_until(lambda: d.run_file("slow"), 60, "the slow run to be killed")
    assert run["status"] == "timed_out" and run["error"]["class"] == "Timeout"
    assert time.monotonic() - started < 30, "killed at the timeout, not at the end of sleep 60"
    assert 2 <= run["duration_s"] < 15
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container_name(run["run_id"]))


def test_the_memory_and_cpu_limits_reach_the_container(driver, docker_client) -> None:
    d = driver(
        {
            "jobs/limited.yaml": manual(
                "limited",
                command=["sleep", "30"],
                resources={"memory": "64m", "cpus": 0.5, "timeout": 20},
            )
        }
    )
    d.spool.submit_manual("limited", "limits")
    run = d.tick_until(lambda: d.run_file("limited", final=False), 60, "the limited run to start")
    attrs = docker_client.containers.get(container_name(run["run_id"])).attrs
    assert attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert attrs["HostConfig"]["Privileged"] is False
    labels = attrs["Config"]["Labels"]
    assert labels["agent-oven.job"] == "limited" and labels["agent-oven.run"] == run["run_id"]
    assert labels["agent-oven.revision"] == run["config_revision"]


def test_a_job_that_fails_twice_then_succeeds_records_three_attempts(
    driver, tmp_path: Path
) -> None:
    data = tmp_path / "counter"
    data.mkdir()
    data.chmod(0o777)
    script = (
        "n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/n; "
        "echo attempt $n; [ $n -ge 3 ]"
    )
    d = driver(
        {
            "jobs/flaky.yaml": manual(
                "flaky",
                command=["sh", "-c", script],
                volumes=[f"{data}:/data"],
                retries={"limit": 2, "backoff": 1},
            )
        },
        allow=(str(tmp_path),),
    )
    d.spool.submit_manual("flaky", "flaky-1")

    def three_attempts() -> list[dict[str, Any]] | None:
        runs = sorted(d.status.runs("flaky"), key=lambda r: r["attempt"])
        done = len(runs) == 3 and runs[-1]["status"] == "succeeded"
        return runs if done else None

    runs = d.tick_until(three_attempts, 90, "three attempts of flaky")
    assert [r["status"] for r in runs] == ["failed", "failed", "succeeded"]
    assert [r["trigger"] for r in runs] == ["manual", "retry", "retry"]
    assert "attempt 3" in runs[2]["log_tail"]
    gaps = [
        (utc(later["started_at"]) - utc(earlier["finished_at"])).total_seconds()
        for earlier, later in zip(runs, runs[1:], strict=False)
    ]
    assert 1 <= gaps[0] < gaps[1], f"delays must grow: {gaps}"
