"""Issue 6, items 5-7, tried the way an attacker or an unlucky operator would, on the real
Docker engine, real git repositories and the real daemon:

- bounded resources: a run that prints 30 MB grows the daemon by under 20 MB, its saved log is
  capped with head, tail and a marker, and another job's fires stay on time;
- least privilege: ``docker inspect`` of a run shows the defaults (no capabilities, pids
  limit, capped engine log, memory-swap = memory, no-new-privileges) and what a manifest asks
  for; a symlink planted by one job in an allowed directory cannot mount the host's ``/`` in
  another;
- secrets: a secret printed as base64, hex and split over two lines appears nowhere on the
  status branch, in the saved logs, the API or the page; a value too short to redact refuses
  the job.
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from scenarios.harness import Daemon, StatusBranch, manifest, oven, wait_until
from support import engine
from support.gitutil import git, make_bare, push_files

from reconciler.clock import SystemClock
from reconciler.executors import labels
from reconciler.executors.docker import DockerExecutor
from reconciler.ledger.git import GitLedger
from reconciler.loop import tick_forever
from reconciler.manifests import parse_job
from reconciler.model import RunRecord
from reconciler.reconcile import Reconciler
from reconciler.run_request import build_request
from reconciler.runids import container_name
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.spool import RequestSpool

PREFIX = f"hard-{uuid.uuid4().hex[:8]}"
SECRET = "hunter2-correct-horse-battery"
MiB = 1024 * 1024


# -- fixtures: everything this file starts carries an instance label starting with PREFIX ----
@pytest.fixture(scope="module")
def docker_client() -> Iterator[docker.DockerClient]:
    client = engine.connect()
    yield client
    engine.remove_containers(client, labels.MANAGED, PREFIX)
    client.close()


@pytest.fixture
def instance(docker_client: docker.DockerClient) -> str:
    return f"{PREFIX}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return make_bare(tmp_path / "config.git")


class Driver:
    """The daemon's own loop (``loop.tick_forever``) over the real engine and a real git
    remote, in a thread of this process, so the test can measure the daemon's memory."""

    def __init__(self, bare: Path, state: Path, instance: str, **settings: Any) -> None:
        self.settings = Settings(
            repo=f"file://{bare}",
            state_dir=state,
            instance=instance,
            heartbeat=3600,
            tick=0.2,
            interval=1,
            log_wait=0.2,
            **settings,
        )
        source = GitSource(self.settings.repo, "main", state)
        self.spool = RequestSpool(state)
        self.reconciler = Reconciler(
            self.settings,
            source=source,
            clock=SystemClock(),
            spool=self.spool,
            executor=DockerExecutor(
                state_dir=state,
                instance=instance,
                volume_allowlist=self.settings.volume_allowlist,
                max_log_bytes=self.settings.max_log_bytes,
            ),
            ledger=GitLedger(source.mirror, "oven-status"),
            secrets=SecretStore.load(self.settings.secrets_file, environ={}),
        )
        self.reconciler.restore()
        self.status = StatusBranch(bare)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        wait_until(lambda: self._stop is not None, 10, "the loop to start")

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            await tick_forever(self.reconciler, self.settings, self._stop, asyncio.Event())

        asyncio.run(main())

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=60)

    def final_run(self, job_id: str) -> RunRecord | None:
        done = [r for r in list(self.reconciler.book.runs.values()) if r.job_id == job_id]
        done = [r for r in done if r.is_final]
        return done[0] if done else None


@pytest.fixture
def driver(bare: Path, tmp_path: Path, instance: str) -> Iterator[Any]:
    drivers: list[Driver] = []

    def make(files: dict[str, str], **settings: Any) -> Driver:
        push_files(bare, "main", files, "jobs")
        drivers.append(Driver(bare, tmp_path / "state", instance, **settings))
        return drivers[-1]

    yield make
    for d in drivers:
        d.stop()


def manual(job_id: str, **fields: Any) -> str:
    return manifest(job_id, schedule={"type": "manual"}, **{"network": "none", **fields})


def rss() -> int:
    """This process's resident memory in bytes (the daemon's, since the loop runs here)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


# -- item 6: least privilege ------------------------------------------------------------------
def start_from_manifest(executor: DockerExecutor, text: str, run_id: str) -> dict[str, Any]:
    job, problems = parse_job("jobs/x.yaml", text.encode(), volume_allowlist=None)
    assert job is not None, problems
    record = RunRecord(run_id=run_id, job_id=job.id, trigger="manual", status="running")
    executor.start(build_request(job, record, {}))
    container = executor._docker().containers.get(container_name(run_id))
    return dict(container.attrs)


pytestmark = pytest.mark.docker


def test_docker_inspect_shows_the_least_privilege_defaults(
    docker_client: docker.DockerClient, instance: str, tmp_path: Path
) -> None:
    executor = DockerExecutor(state_dir=tmp_path, instance=instance)
    attrs = start_from_manifest(
        executor,
        manual(
            "plain",
            command=["sh", "-c", "grep CapEff /proc/self/status; sleep 30"],
            resources={"memory": "64m"},
        ),
        f"plain-{uuid.uuid4().hex[:8]}",
    )
    host = attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert host["PidsLimit"] == 512
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "10m", "max-file": "3"},
    }
    assert host["Memory"] == 64 * MiB and host["MemorySwap"] == host["Memory"]
    assert "no-new-privileges" in host["SecurityOpt"] and host["Privileged"] is False
    assert host["ReadonlyRootfs"] is False and not attrs["Config"]["User"]
    run_id = attrs["Config"]["Labels"][labels.RUN]
    wait_until(lambda: b"CapEff" in executor.logs(run_id), 30, "the capability line")
    assert b"CapEff:\t0000000000000000" in executor.logs(run_id), "no capability at all"
    executor.stop(run_id)


def test_docker_inspect_shows_what_the_manifest_asks_for(
    docker_client: docker.DockerClient, instance: str, tmp_path: Path
) -> None:
    executor = DockerExecutor(state_dir=tmp_path, instance=instance)
    attrs = start_from_manifest(
        executor,
        manual(
            "asks",
            command=["sleep", "30"],
            user="1000:1000",
            readOnlyRootfs=True,
            network="none",
            capabilities=["NET_BIND_SERVICE", "CHOWN"],
            resources={"pids": 64},
        ),
        f"asks-{uuid.uuid4().hex[:8]}",
    )
    host = attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and sorted(host["CapAdd"]) == ["CHOWN", "NET_BIND_SERVICE"]
    assert host["PidsLimit"] == 64 and host["ReadonlyRootfs"] is True
    assert host["NetworkMode"] == "none" and attrs["Config"]["User"] == "1000:1000"
    executor.stop(attrs["Config"]["Labels"][labels.RUN])


def test_a_capability_outside_the_allow_list_is_a_manifest_problem() -> None:
    text = manual("greedy", capabilities=["SYS_ADMIN"], network="host", resources={"pids": 0})
    job, problems = parse_job("jobs/greedy.yaml", text.encode(), volume_allowlist=None)
    assert job is None
    fields = {p.field for p in problems}
    assert {"capabilities[0]", "network", "resources.pids"} <= fields, problems
    assert all(str(p).startswith("jobs/greedy.yaml:") for p in problems)


def test_a_symlink_planted_in_an_allowed_directory_cannot_mount_the_host_root(
    driver, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    d = driver(
        {
            "jobs/planter.yaml": manual(
                "planter", command=["ln", "-s", "/", "/data/escape"], volumes=[f"{allowed}:/data"]
            ),
            "jobs/climber.yaml": manual(
                "climber", command=["ls", "/host/etc"], volumes=[f"{allowed}/escape:/host:ro"]
            ),
        },
        volume_allowlist=(str(allowed),),
    )
    wait_until(lambda: d.reconciler.desired is not None, 30, "the jobs to load")
    assert not d.reconciler.desired.problems, "at load the path is inside the allow-list"
    d.spool.submit_manual("planter", "plant")
    planted = wait_until(lambda: d.final_run("planter"), 60, "the planter to finish")
    assert planted.status == "succeeded"
    assert os.readlink(allowed / "escape") == "/", "the link really is on the host"
    d.spool.submit_manual("climber", "climb")
    climbed = wait_until(lambda: d.final_run("climber"), 60, "the climber to be refused")
    assert climbed.status == "failed" and climbed.error is not None
    assert climbed.error.cls == "VolumeRefused"
    assert "resolves to '/'" in climbed.error.message and "symlink" in climbed.error.hint
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container_name(climbed.run_id))


# -- item 7: secrets --------------------------------------------------------------------------
LEAKY = (
    'printf %s "$TOKEN" | base64; '
    'printf "x%s" "$TOKEN" | base64; '
    "printf %s \"$TOKEN\" | od -An -tx1 -v | tr -d ' \\n'; echo; "
    'echo "$TOKEN" | cut -c1-9; echo "$TOKEN" | cut -c10-; '
    "echo done"
)


def needles() -> list[str]:
    raw = SECRET.encode()
    return [
        SECRET,
        SECRET[9:],  # the second line of the split
        raw.hex(),
        raw.hex()[10:50],
        base64.b64encode(raw).decode().rstrip("="),
        base64.b64encode(b"x" + raw).decode()[4:-4],
    ]


def leaked(text: str) -> list[str]:
    return [needle for needle in needles() if needle in text]


def test_a_secret_printed_encoded_and_split_appears_nowhere(
    bare: Path, tmp_path: Path, instance: str, docker_client: docker.DockerClient
) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"TOKEN={SECRET}\n")
    push_files(
        bare,
        "main",
        {"jobs/leaky.yaml": manual("leaky", command=["sh", "-c", LEAKY], secrets=["TOKEN"])},
    )
    state = tmp_path / "state"
    daemon = Daemon(f"file://{bare}", state, instance, "--secrets-file", str(secrets)).start()
    try:
        wait_until(daemon.serving, 60, "the daemon's web server")
        wait_until(lambda: StatusBranch(bare).exists(), 60, "the first status commit")
        assert oven("trigger", "leaky", "--state-dir", str(state)).returncode == 0
        run = wait_until(
            lambda: next(
                (
                    r
                    for r in daemon.get_json("/api/v1/runs?job=leaky")["runs"]
                    if r["status"] == "succeeded"
                ),
                None,
            ),
            90,
            "the leaky run to succeed",
        )
        detail = daemon.get_json(f"/api/v1/runs/{run['run_id']}")
        # base64, base64 after one byte (its first group is shared), hex, the split pair, done
        assert detail["log_tail"] == "***\neG***\n***\n***\ndone"
        wait_until(lambda: StatusBranch(bare).runs("leaky"), 30, "the run file")
        surfaces = {
            "status branch history": git("--git-dir", str(bare), "log", "-p", "--all"),
            "saved logs": "".join(p.read_text() for p in (state / "logs").rglob("*.log")),
            "API run": str(detail),
            "API snapshot": daemon.get("/api/v1/snapshot")[2],
            "run page": daemon.get(f"/runs/{run['run_id']}")[2],
            "job page": daemon.get("/jobs/leaky")[2],
            "daemon log": daemon.output(),
        }
    finally:
        daemon.stop()
    assert "done" in surfaces["saved logs"], "the log was saved"
    assert {name: leaked(text) for name, text in surfaces.items() if leaked(text)} == {}


def test_a_secret_too_short_to_redact_refuses_the_job_and_says_why(
    driver, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("PIN=1234\n")
    d = driver(
        {"jobs/pin.yaml": manual("pin", command=["sh", "-c", "echo $PIN"], secrets=["PIN"])},
        secrets_file=secrets,
    )
    d.spool.submit_manual("pin", "once")
    run = wait_until(lambda: d.final_run("pin"), 60, "the pin run to be refused")
    assert run.status == "failed" and run.error is not None
    assert run.error.cls == "SecretTooShort" and "PIN" in run.error.message
    assert "at least 8 characters" in run.error.hint
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container_name(run.run_id))


# -- item 5: bounded resources ----------------------------------------------------------------
FLOOD_BYTES = 30 * MiB
FLOOD = f"yes 'a line of output that goes on and on and on' | head -c {FLOOD_BYTES}"


def test_a_run_printing_30_mb_costs_little_memory_and_delays_no_other_job(
    driver, docker_client: docker.DockerClient
) -> None:
    d = driver(
        {
            "jobs/flood.yaml": manual("flood", command=["sh", "-c", FLOOD]),
            "jobs/steady.yaml": manifest(
                "steady",
                command=["true"],
                schedule={"type": "interval", "every": "2s"},
                policy={"concurrency": "allow"},  # every fire starts, however slow the engine
                network="none",
            ),
        },
        max_log_bytes=1 * MiB,
    )
    wait_until(lambda: d.final_run("steady"), 60, "a first steady run")
    ticks: list[float] = []
    tick = d.reconciler.tick

    def timed_tick(fetch: bool = False) -> Any:
        ticks.append(time.monotonic())
        return tick(fetch)

    d.reconciler.tick = timed_tick  # type: ignore[method-assign]
    time.sleep(6)  # the baseline: ticks while only the steady job runs
    baseline = len(ticks)
    before, peak = rss(), [0]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = d.reconciler.clock.now()
    d.spool.submit_manual("flood", "once")
    flood = wait_until(lambda: d.final_run("flood"), 120, "the flood to be recorded")
    time.sleep(3)  # two more steady fires after the flood ended
    ended = d.reconciler.clock.now()
    sampling.set()
    sampler.join()
    d.stop()

    assert flood.status == "succeeded"
    growth = peak[0] - before
    assert growth < 20 * MiB, f"the daemon grew by {growth / MiB:.1f} MiB"

    saved = (d.settings.state_dir / "logs" / "flood" / f"{flood.run_id}.log").read_bytes()
    assert len(saved) <= 1 * MiB + 300 and b"bytes of output cut here" in saved
    assert saved.startswith(b"a line of output"), "the head is kept"
    assert len(flood.log_tail.encode()) <= 16 * 1024 and "a line of output" in flood.log_tail

    gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:], strict=False)]
    quiet, flooded = max(gaps[: baseline - 1]), max(gaps[baseline - 1 :])
    print(f"longest gap between ticks: {quiet:.2f} s before the flood, {flooded:.2f} s during")
    assert flooded < quiet + 1.0, "the loop never stalls on the flood's log"
    steady = [r for r in d.reconciler.book.runs.values() if r.job_id == "steady"]
    due = ended - timedelta(seconds=2)
    during = [r for r in steady if r.scheduled_for and began <= r.scheduled_for <= due]
    expected = int((due - began).total_seconds()) // 2
    assert len(during) >= expected, f"every fire ran: {len(during)} of {expected}"
    late = max((r.started_at - r.scheduled_for).total_seconds() for r in during)  # type: ignore[operator]
    assert late < 5, f"the engine started every fire soon after its time (worst {late:.1f} s)"


def test_saved_logs_from_the_engine_never_hold_the_whole_output_in_memory(
    docker_client: docker.DockerClient, instance: str, tmp_path: Path
) -> None:
    """The executor alone: write_log of a finished 30 MB run, memory measured around it."""
    executor = DockerExecutor(state_dir=tmp_path, instance=instance, max_log_bytes=2 * MiB)
    run_id = f"burst-{uuid.uuid4().hex[:8]}"
    start_from_manifest(executor, manual("burst", command=["sh", "-c", FLOOD]), run_id)
    wait_until(
        lambda: any(o.run_id == run_id and not o.is_running for o in executor.observe()),
        120,
        "the burst to exit",
    )
    before = rss()
    path = executor.write_log(run_id, "burst")
    assert rss() - before < 20 * MiB
    assert path.stat().st_size <= 2 * MiB + 300
    executor.remove(run_id)


def test_the_manifest_fields_of_least_privilege_reach_the_job_spec() -> None:
    text = manual(
        "fields",
        user="app",
        readOnlyRootfs=True,
        network="none",
        capabilities=["KILL"],
        resources={"pids": 100},
    )
    job, problems = parse_job("jobs/fields.yaml", text.encode(), volume_allowlist=None)
    assert job is not None, problems
    assert (job.user, job.read_only_rootfs, job.network, job.capabilities, job.resources.pids) == (
        "app",
        True,
        "none",
        ("KILL",),
        100,
    )
    text = manifest("plain", schedule={"type": "manual"})
    plain, _ = parse_job("jobs/plain.yaml", text.encode(), volume_allowlist=None)
    assert plain is not None
    assert (plain.user, plain.read_only_rootfs, plain.capabilities) == (None, False, ())
    assert plain.network == "bridge", "Docker's default network unless the manifest says none"
    assert "pids" not in yaml.safe_load(plain.manifest)["resources"], "no fingerprint churn"
