"""Benchmark: `oven validate`, `oven plan` and the daemon's reload with 10k job manifests,
against baselines measured in the same run.

A config repo (git CLI) holds oven.yaml and 10k jobs in jobs/<team>/<job>.yaml; a second
commit changes one job.

- validate: `oven validate` as a process, with an empty cache directory (cold) and again with
  the cache it wrote (warm), against a process running the plain loop (``yaml.safe_load`` and a
  ``Draft202012Validator`` built once, per file). Peak RSS of each process is in the note.
- plan, one changed file: `oven plan --base HEAD~1 --head HEAD` as a process with the cache a
  previous plan wrote (cold: a new process), and the same plan's work repeated in one process
  (warm: ``_read_checkout`` + ``apply_revision``), against ``git diff --name-only`` of the
  same two commits (the least any plan must do).
- reload: a ``GitSource`` that loaded the head, after a one-file commit is pushed: fetch, read
  the files and ``load_tree``, as the daemon's sync step does, against ``git fetch`` of the
  same commit into a clone.

Rounds alternate baseline and ours; the table prints medians and ratios.

    PYTHONPATH=. python bench/manifests.py [--quick] [--jobs 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path

from gitcli import git

from reconciler.manifests import load_tree
from reconciler.planner import apply_revision
from reconciler.source.git import GitSource

ROOT = Path(__file__).resolve().parents[1]

PER_TEAM = 100
PARTS = ["validate", "plan", "reload"]



OVEN = "defaults:\n  policy:\n    concurrency: forbid\n  resources:\n    memory: 256m\n"
JOB = (
    "id: {id}\nname: Job {n}\ntype: docker\nimage: busybox:1.36\n"
    "command: [sh, -c, 'echo {n}']\nschedule:\n  type: cron\n  cron: '{m} * * * *'\n"
    "  timezone: Europe/Berlin\nresources:\n  timeout: 600\nenv:\n  N: '{n}'\n"
)
BASELINE = """
import sys, pathlib, yaml, json
from jsonschema import Draft202012Validator
schema = json.loads(pathlib.Path(sys.argv[2]).read_text())
validator = Draft202012Validator(schema)
problems = 0
for path in sorted(pathlib.Path(sys.argv[1], "jobs").rglob("*.yaml")):
    problems += len(list(validator.iter_errors(yaml.safe_load(path.read_bytes()))))
print(problems)
"""


def job_path(n: int) -> str:
    return f"jobs/team-{n // PER_TEAM}/job-{n}.yaml"


def make_repo(path: Path, jobs: int) -> None:
    git("init", "-q", "-b", "main", str(path))
    (path / "oven.yaml").write_text(OVEN)
    for n in range(jobs):
        file = path / job_path(n)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(JOB.format(id=f"job-{n}", n=n, m=n % 60))
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "jobs", cwd=path)
    change(path, 0)


def change(path: Path, round_: int) -> None:
    """Commit a change to one job."""
    file = path / job_path(7)
    file.write_text(JOB.format(id="job-7", n=7, m=(round_ + 11) % 60))
    git("commit", "-q", "-am", f"change {round_}", cwd=path)


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of a process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{argv} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def oven(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", *args]


def env_for(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OVEN_CACHE_DIR": str(cache)}


def interleave(rounds: int, *runs: Callable[[], float]) -> list[float]:
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for index, run in enumerate(runs):
            samples[index].append(run())
    return [statistics.median(s) for s in samples]


def bench_validate(repo: Path, tmp: Path, rounds: int) -> dict[str, tuple[float, float]]:
    schema = ROOT / "schema" / "job.schema.json"
    rss: dict[str, float] = {}

    def baseline() -> float:
        seconds, rss["baseline"] = timed([sys.executable, "-c", BASELINE, str(repo), str(schema)])
        return seconds

    def cold() -> float:
        cache = tmp / "validate-cache"
        shutil.rmtree(cache, ignore_errors=True)
        seconds, rss["cold"] = timed(oven("validate", str(repo)), env_for(cache))
        return seconds

    def warm() -> float:
        seconds, rss["warm"] = timed(oven("validate", str(repo)), env_for(tmp / "validate-cache"))
        return seconds

    medians = interleave(rounds, baseline, cold, warm)
    return {
        name: (seconds, rss[name])
        for name, seconds in zip(("baseline", "cold", "warm"), medians, strict=True)
    }


def bench_plan(repo: Path, tmp: Path, rounds: int) -> dict[str, tuple[float, float]]:
    from reconciler.cli.plan import _read_checkout
    from reconciler.manifests.cache import ParseCache

    cache = tmp / "plan-cache"
    argv = oven("plan", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD")
    timed(argv, env_for(cache))  # the run before: it fills the cache
    rss: dict[str, float] = {}
    memory = ParseCache()
    args = Namespace(repo=str(repo), base="HEAD~1", head="HEAD", allow_volume=[])
    now = __import__("datetime").datetime(2026, 12, 1, tzinfo=__import__("datetime").UTC)
    apply_revision(*_read_checkout(args, tmp, memory), now)  # warm up this process

    def baseline() -> float:
        started = time.perf_counter()
        git("diff", "--name-only", "HEAD~1", "HEAD", cwd=repo)
        return time.perf_counter() - started

    def cold() -> float:
        seconds, rss["cold"] = timed(argv, env_for(cache))
        return seconds

    def warm() -> float:
        started = time.perf_counter()
        apply_revision(*_read_checkout(args, tmp, memory), now)
        return time.perf_counter() - started

    medians = interleave(rounds, baseline, cold, warm)
    return {
        "baseline": (medians[0], 0.0),
        "cold": (medians[1], rss["cold"]),
        "warm": (medians[2], 0.0),
    }


def bench_reload(repo: Path, tmp: Path, rounds: int) -> tuple[float, float]:
    bare = tmp / "remote.git"
    git("clone", "-q", "--bare", str(repo), str(bare))
    work = tmp / "work"
    git("clone", "-q", str(bare), str(work))
    clone = tmp / "fetcher"
    git("clone", "-q", str(bare), str(clone))
    source = GitSource(str(bare), "main", tmp / "state")
    load_tree(source.files(source.fetch()), "first")
    ours: list[float] = []
    theirs: list[float] = []
    for round_ in range(rounds):
        change(work, round_ + 100)
        git("push", "-q", "origin", "main", cwd=work)
        started = time.perf_counter()
        git("fetch", "-q", "origin", cwd=clone)
        theirs.append(time.perf_counter() - started)
        started = time.perf_counter()
        head = source.fetch()
        load_tree(source.files(head), head)
        ours.append(time.perf_counter() - started)
    return statistics.median(ours), statistics.median(theirs)


def row(work: str, ours: float, base: str, theirs: float, goal: str, met: bool | None) -> str:
    ratio = f"{ours / theirs:.2f}×" if theirs else "–"
    shown = "–" if met is None else ("yes" if met else "no")
    mine, baseline = f"{ours * 1e3:.0f} ms", f"{base} {theirs * 1e3:.0f} ms"
    return f"| {work} | {mine} | {baseline} | {ratio} | {goal} | {shown} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k jobs, one round")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", nargs="+", default=PARTS, choices=PARTS)
    args = parser.parse_args()
    jobs = 2_000 if args.quick else args.jobs
    rounds = 1 if args.quick else args.rounds
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="oven-bench-manifests-") as name:
        tmp = Path(name)
        repo = tmp / "config"
        make_repo(repo, jobs)
        if "validate" in args.parts:
            rows += validate_rows(bench_validate(repo, tmp, rounds), jobs)
        if "plan" in args.parts:
            rows += plan_rows(bench_plan(repo, tmp, rounds))
        if "reload" in args.parts:
            ours, theirs = bench_reload(repo, tmp, max(rounds, 3))
            rows.append(
                row("daemon reload after a one-file commit (fetch, read, load)", ours,
                    "`git fetch`", theirs, "≤ 100 ms", ours <= 0.1)
            )  # fmt: skip
    print("| work | Agent Oven | baseline | ratio | goal | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


def validate_rows(validate: dict[str, tuple[float, float]], jobs: int) -> list[str]:
    base, rss_base = validate["baseline"]
    return [
        row(
            f"`oven validate`, {jobs:,} manifests, {kind} cache (RSS {rss:.0f} MB)",
            seconds,
            f"PyYAML+jsonschema loop (RSS {rss_base:.0f} MB)",
            base,
            "≤ 0.5×, RSS ≤ 150 MB",
            seconds <= 0.5 * base and rss <= 150,
        )
        for kind, (seconds, rss) in ((k, validate[k]) for k in ("cold", "warm"))
    ]


def plan_rows(plan: dict[str, tuple[float, float]]) -> list[str]:
    diff = plan["baseline"][0]
    (cold, cold_rss), warm = plan["cold"], plan["warm"][0]
    return [
        row(f"`oven plan`, one file changed, new process, cache on disk (RSS {cold_rss:.0f} MB)",
            cold, "`git diff --name-only`", diff, "≤ 2 s", cold <= 2.0),
        row("`oven plan`, one file changed, warm (in process)", warm,
            "`git diff --name-only`", diff, "≤ 50 ms", warm <= 0.05),
    ]  # fmt: skip


if __name__ == "__main__":
    main()
