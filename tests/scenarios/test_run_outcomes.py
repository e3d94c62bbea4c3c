"""How runs end, on the real Docker engine and a real git remote: exit codes, timeouts,
memory limits, retries, containers that never started or are not ours, secrets, replaced runs
and runs whose job was removed, driven through the real reconcile cycle in this process."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from scenarios.harness import IMAGE, StatusBranch, git, manifest, push_files, wait_until

from reconciler.clock import SystemClock, utc
from reconciler.executors import labels
from reconciler.executors.docker import DockerExecutor
from reconciler.executors.labels import INSTANCE
from reconciler.interfaces import RunRequest
from reconciler.ledger.git import GitLedger
from reconciler.reconcile import Reconciler
from reconciler.runids import container_name, manual_run_id
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.spool import RequestSpool

pytestmark = pytest.mark.docker


class Driver:
    """The reconcile cycle in this process, ticking until a condition holds."""

    def __init__(
        self,
        bare: Path,
        state: Path,
        instance: str,
        allow: tuple[str, ...] = (),
        secrets_file: Path | None = None,
    ) -> None:
        settings = Settings(
            repo=f"file://{bare}",
            state_dir=state,
            instance=instance,
            volume_allowlist=allow,
            heartbeat=3600,
            secrets_file=secrets_file,
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
            secrets=SecretStore.load(secrets_file, environ={}),
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

    def run_with(self, job_id: str, status: str) -> dict[str, Any] | None:
        return next((r for r in self.status.runs(job_id) if r["status"] == status), None)


@pytest.fixture
def driver(
    bare: Path, tmp_path: Path, instance: str, docker_client: docker.DockerClient
) -> Iterator[Any]:
    drivers: list[Driver] = []

    def make(
        files: dict[str, str], allow: tuple[str, ...] = (), secrets_file: Path | None = None
    ) -> Driver:
        push_files(bare, "main", files, "jobs")
        drivers.append(Driver(bare, tmp_path / "state", instance, allow, secrets_file))
        return drivers[-1]

    yield make
    mine = docker_client.containers.list(all=True, filters={"label": f"{INSTANCE}={instance}"})
    for container in mine:
        container.remove(force=True)


def gone(client: docker.DockerClient, run_id: str) -> bool:
    try:
        client.containers.get(container_name(run_id))
    except docker.errors.NotFound:
        return True
    return False


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
    # a key of this session: a container left by an interrupted earlier session holds "once"
    d.spool.submit_manual("slow", f"once-{uuid.uuid4().hex[:8]}")
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


def test_a_run_over_its_memory_limit_is_recorded_out_of_memory(driver) -> None:
    eat = 'x=$(head -c 200m /dev/zero | tr "\\0" x)'  # 200 MiB in a shell variable
    d = driver(
        {
            "jobs/hungry.yaml": manual(
                "hungry", command=["sh", "-c", eat], resources={"memory": "16m"}
            )
        }
    )
    d.spool.submit_manual("hungry", "once")
    run = d.tick_until(lambda: d.run_file("hungry"), 60, "the hungry run to end")
    assert (run["status"], run["exit_code"]) == ("failed", 137)
    assert run["error"]["class"] == "OutOfMemory" and "16m" in run["error"]["message"]


def test_a_container_created_but_never_started_is_recorded_never_started(
    driver, docker_client: docker.DockerClient, instance: str
) -> None:
    """The reconciler died between creating a container and starting it: the next one adopts
    the container from its labels, records NeverStarted and removes it."""
    d = driver({"jobs/stuck.yaml": manual("stuck", command=["echo", "never printed"])})
    run_id = manual_run_id("stuck", "before-the-crash", utc("2026-01-01T00:00:00Z"))
    request = RunRequest(run_id, "stuck", "manual", IMAGE, idempotency_key="before-the-crash")
    docker_client.containers.create(
        IMAGE,
        ["echo", "never printed"],
        name=container_name(run_id),
        labels=labels.for_request(request, instance),
    )
    run = d.tick_until(lambda: d.run_file("stuck"), 30, "the created container to be settled")
    assert (run["run_id"], run["status"]) == (run_id, "failed")
    assert run["error"]["class"] == "NeverStarted" and run["trigger"] == "manual"
    d.tick_until(lambda: gone(docker_client, run_id), 10, "the container to be removed")


def test_a_run_id_taken_by_another_instances_container_fails_and_leaves_it_alone(
    driver, docker_client: docker.DockerClient, instance: str
) -> None:
    d = driver({"jobs/twin.yaml": manual("twin")})
    run_id = manual_run_id("twin", "shared-key", utc("2026-01-01T00:00:00Z"))
    theirs = RunRequest(run_id, "twin", "manual", IMAGE, idempotency_key="shared-key")
    foreign = docker_client.containers.run(
        IMAGE,
        ["sleep", "30"],
        name=container_name(run_id),
        labels=labels.for_request(theirs, instance + "-other"),
        detach=True,
    )
    try:
        d.spool.submit_manual("twin", "shared-key")
        run = d.tick_until(lambda: d.run_file("twin"), 30, "the run of twin to be refused")
        assert (run["run_id"], run["status"]) == (run_id, "failed")
        assert run["error"]["class"] == "RunIdTaken"
        d.reconciler.tick(fetch=True)
        foreign.reload()
        assert foreign.status == "running", "another instance's container is never touched"
        assert foreign.labels[INSTANCE] == instance + "-other"
    finally:
        foreign.remove(force=True)


def test_secrets_from_the_secrets_file_never_reach_the_status_branch_or_the_log(
    driver, bare: Path, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("API_TOKEN=s3cr3t-value-42\n")
    d = driver(
        {
            "jobs/leaky.yaml": manual(
                "leaky",
                command=["sh", "-c", 'echo "token is $API_TOKEN"; echo "again $API_TOKEN"; exit 1'],
                secrets=["API_TOKEN"],
            )
        },
        secrets_file=secrets,
    )
    d.spool.submit_manual("leaky", "once")
    run = d.tick_until(lambda: d.run_file("leaky"), 60, "the leaky run to end")
    assert run["status"] == "failed"
    assert run["log_tail"] == "token is ***\nagain ***", "the command really printed the secret"
    history = git("--git-dir", str(bare), "log", "-p", "--all")
    assert "s3cr3t-value-42" not in history, "not in any commit of any branch"
    saved = (tmp_path / "state" / "logs" / "leaky" / f"{run['run_id']}.log").read_text()
    assert "s3cr3t-value-42" not in saved and saved.count("***") == 2


def test_replace_stops_the_running_run_when_the_next_fire_comes(
    driver, docker_client: docker.DockerClient
) -> None:
    d = driver(
        {
            "jobs/swap.yaml": manifest(
                "swap",
                command=["sleep", "60"],
                schedule={"type": "interval", "every": "2s"},
                policy={"concurrency": "replace"},
            )
        }
    )
    started = time.monotonic()
    old = d.tick_until(lambda: d.run_with("swap", "cancelled"), 30, "a replaced run of swap")
    assert old["error"]["class"] == "ReplacedByNewerRun"
    assert time.monotonic() - started < 20, "stopped at the next fire, not after sleep 60"
    d.tick_until(lambda: gone(docker_client, old["run_id"]), 10, "the old container removed")
    newer = d.run_with("swap", "running")
    assert newer is not None and utc(newer["scheduled_for"]) > utc(old["scheduled_for"])
    assert docker_client.containers.get(container_name(newer["run_id"])).status == "running"


def test_a_job_removed_from_the_config_while_running_is_stopped_as_job_removed(
    driver, bare: Path, docker_client: docker.DockerClient
) -> None:
    d = driver({"jobs/doomed.yaml": manual("doomed", command=["sleep", "60"])})
    d.spool.submit_manual("doomed", "once")
    running = d.tick_until(lambda: d.run_with("doomed", "running"), 30, "doomed to run")
    push_files(bare, "main", {"jobs/doomed.yaml": None}, "remove doomed")
    started = time.monotonic()
    run = d.tick_until(lambda: d.run_file("doomed"), 30, "the run of doomed to be stopped")
    assert (run["run_id"], run["status"]) == (running["run_id"], "cancelled")
    assert run["error"]["class"] == "JobRemoved"
    assert time.monotonic() - started < 20, "stopped, not left to finish its sleep"
    d.tick_until(lambda: gone(docker_client, run["run_id"]), 10, "its container removed")
    d.tick_until(lambda: "status/jobs/doomed.yaml" not in d.status.paths(), 10, "summary gone")
