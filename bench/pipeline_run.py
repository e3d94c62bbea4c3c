"""Benchmark: what the reconciler adds to one agent-pipeline run, against plain `docker run`.

Both sides run the same runner image (built with the Agent Pipeline stand-in) and the same
command, `oven-pipeline nightly`, on a checkout of the same three-stage pipeline repo.

    baseline     `docker run` of the image on a checkout made beforehand (not timed)
    reconciler   a manual request handled by the real cycle: pre-flight (image label), a fresh
                 checkout with git, the container, live stages each tick, the state file read,
                 the status commit on a real git remote

Two figures per side, medians over ``--rounds`` runs, and their ratios:

    to start     from the request (baseline: the `docker run` call) to agent-pipeline's first
                 line ("Pipeline: nightly"), by the engine's own timestamp of that line
    end to end   from the request to the result recorded (baseline: `docker run` returned)

The reconciler ticks every ``--tick`` seconds (the daemon's default is 1 s), so "end to end"
includes up to one tick of waiting to notice the exit. Needs the Docker engine, git and npm.

    .venv/bin/python bench/pipeline_run.py [--rounds 5] [--tick 1.0] [--image IMAGE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import docker
import yaml

from reconciler.clock import SystemClock, utc
from reconciler.executors.docker import DockerExecutor
from reconciler.ledger.git import GitLedger
from reconciler.reconcile import Reconciler
from reconciler.runids import container_name
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.spool import RequestSpool
from reconciler.workspaces import GitWorkspaces

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT / "tests" / "standin" / "agent-pipeline"
IMAGE = "agent-oven/pipeline-runner:standin"
KEY = {"ANTHROPIC_API_KEY": "sk-bench-not-a-real-key"}
FIRST_LINE = "Pipeline: nightly"
PIPELINE = """name: nightly
trigger: manual
git:
  branchPrefix: pipeline
  mergeStrategy: none
agents:
  - name: plan
    agent: .agent-pipeline/agents/plan.md
  - name: build
    agent: .agent-pipeline/agents/build.md
    dependsOn: [plan]
  - name: review
    agent: .agent-pipeline/agents/review.md
    dependsOn: [build]
"""


def sh(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=1800,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def build_image(work: Path) -> None:
    tarball = sh("npm", "pack", "--silent", "--pack-destination", str(work), str(STANDIN))
    env = {
        "AGENT_PIPELINE_PACKAGE": str(work / tarball.splitlines()[-1]),
        "OVEN_RUNNER_TAG": "standin",
    }
    print("building the runner image with the stand-in (a no-op when up to date) ...")
    sh("bash", str(ROOT / "scripts" / "build-images.sh"), "pipeline-runner", env=env)


def repos(work: Path) -> tuple[Path, Path]:
    """A bare source repo with the pipeline, and a bare config repo with the job."""
    git_env = {
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    src = work / "src"
    (src / ".agent-pipeline" / "pipelines").mkdir(parents=True)
    (src / ".agent-pipeline" / "agents").mkdir()
    (src / ".agent-pipeline" / "pipelines" / "nightly.yml").write_text(PIPELINE)
    for stage in ("plan", "build", "review"):
        (src / ".agent-pipeline" / "agents" / f"{stage}.md").write_text(f"{stage}\n")
    sh("git", "init", "-q", "--initial-branch=main", cwd=src)
    sh("git", "add", "-A", cwd=src)
    sh("git", "commit", "-qm", "pipeline", cwd=src, env=git_env)
    source = work / "source.git"
    sh("git", "clone", "-q", "--bare", str(src), str(source))
    cfg = work / "cfg"
    (cfg / "jobs").mkdir(parents=True)
    job = {
        "id": "bench",
        "name": "bench",
        "type": "agent-pipeline",
        "source": {"repo": str(source)},
        "pipeline": "nightly",
        "auth": "api-key",
        "schedule": {"type": "manual"},
    }
    (cfg / "jobs" / "bench.yaml").write_text(yaml.safe_dump(job))
    sh("git", "init", "-q", "--initial-branch=main", cwd=cfg)
    sh("git", "add", "-A", cwd=cfg)
    sh("git", "commit", "-qm", "job", cwd=cfg, env=git_env)
    config = work / "config.git"
    sh("git", "clone", "-q", "--bare", str(cfg), str(config))
    return source, config


def first_line_time(client: docker.DockerClient, name: str) -> datetime:
    """The engine's timestamp of agent-pipeline's first line in a container's output."""
    output = client.api.logs(name, stdout=True, stderr=True, timestamps=True).decode()
    for line in output.splitlines():
        stamp, _, text = line.partition(" ")
        if text.strip() == FIRST_LINE:
            return utc(stamp[:26] + "Z")  # RFC 3339 with nanoseconds: keep microseconds
    raise LookupError(f"no {FIRST_LINE!r} in the output of {name}:\n{output[-1500:]}")


def baseline(
    client: docker.DockerClient, image: str, source: Path, work: Path
) -> tuple[float, float]:
    checkout = work / f"checkout-{uuid.uuid4().hex[:6]}"
    sh("git", "clone", "-q", str(source), str(checkout))
    if os.geteuid() == 0:
        sh("chown", "-R", "1000:1000", str(checkout))
    name = f"oven-bench-{uuid.uuid4().hex[:8]}"
    started = time.time()
    subprocess.run(
        [
            "docker",
            "run",
            "--name",
            name,
            "-v",
            f"{checkout}:/work",
            "-e",
            f"ANTHROPIC_API_KEY={KEY['ANTHROPIC_API_KEY']}",
            image,
            "oven-pipeline",
            "nightly",
        ],
        capture_output=True,
        check=True,
        timeout=600,
    )
    ended = time.time()
    first = first_line_time(client, name).timestamp()
    client.api.remove_container(name, force=True)
    return first - started, ended - started


def reconciler_run(
    client: docker.DockerClient,
    image: str,
    config: Path,
    source: Path,
    work: Path,
    tick: float,
    n: int,
) -> tuple[float, float]:
    state = work / f"state-{n}"
    instance = f"bench-{uuid.uuid4().hex[:6]}"
    settings = Settings(
        repo=f"file://{config}",
        state_dir=state,
        instance=instance,
        volume_allowlist=(str(work),),
        heartbeat=3600,
        runner_image=image,
    )
    git = GitSource(settings.repo, "main", state)
    executor = DockerExecutor(state_dir=state, instance=instance)
    reconciler = Reconciler(
        settings,
        source=git,
        executor=executor,
        clock=SystemClock(),
        ledger=GitLedger(git.mirror, f"oven-status-{n}"),
        secrets=SecretStore(KEY),
        spool=RequestSpool(state),
        workspaces=GitWorkspaces(state / "checkouts"),
    )
    reconciler.restore()
    reconciler.tick(fetch=True)  # the config is loaded before the request, as in the daemon
    spool = RequestSpool(state)
    requested = time.time()
    spool.submit_manual("bench", f"round-{n}")
    run_id, first = None, None
    while True:
        reconciler.tick()
        run_id = run_id or next(iter(reconciler.book.runs), None)
        record = reconciler.book.runs.get(run_id) if run_id else None
        if record is not None and record.is_final and run_id not in reconciler.book.dirty:
            recorded = time.time()
            break
        if time.time() - requested > 600:
            raise SystemExit("the reconciler's run did not finish in 10 minutes")
        pause = time.time() + tick
        while time.time() < pause:  # between ticks: look for agent-pipeline's first line
            if run_id and first is None:
                first = _first_line(client, container_name(run_id))
            time.sleep(0.02)
    if record.status != "succeeded" or first is None:
        raise SystemExit(f"the run ended {record.status} ({record.error}); first line: {first}")
    return first.timestamp() - requested, recorded - requested


def _first_line(client: docker.DockerClient, name: str) -> datetime | None:
    try:
        return first_line_time(client, name)
    except (docker.errors.NotFound, LookupError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between ticks")
    parser.add_argument("--image", default=None, help="use this runner image, build nothing")
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="oven-bench-") as tmp:
        work = Path(tmp)
        image = args.image or IMAGE
        if args.image is None:
            build_image(work)
        source, config = repos(work)
        base = [baseline(client, image, source, work) for _ in range(args.rounds)]
        ours = [
            reconciler_run(client, image, config, source, work, args.tick, n)
            for n in range(args.rounds)
        ]
        report(base, ours, args.rounds, args.tick)


def report(
    base: list[tuple[float, float]], ours: list[tuple[float, float]], rounds: int, tick: float
) -> None:
    print(f"\nagent-pipeline run overhead, medians of {rounds} runs (tick {tick}s)")
    print(f"{'':14}{'docker run':>12}{'reconciler':>12}{'ratio':>8}{'added':>9}")
    for index, label in ((0, "to start"), (1, "end to end")):
        b = statistics.median(x[index] for x in base)
        o = statistics.median(x[index] for x in ours)
        print(f"{label:14}{b:>11.2f}s{o:>11.2f}s{o / b:>7.2f}x{o - b:>8.2f}s")


if __name__ == "__main__":
    main()
