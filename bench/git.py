"""Benchmark: status records per second on a status branch of 1k, 10k and 100k files,
against the git CLI committing and pushing the same records in the same run.

Each size gets one bare remote, made with ``git fast-import`` (``status/runs/<job>/<run>.yaml``,
100 runs per job, and a summary per job). A record is what the recorder writes after a run:
one new run file, the job's summary and ``status/reconciler.yaml``, committed and pushed.

- Agent Oven: ``GitLedger.write`` (with a queue directory, as the daemon runs it) on a mirror
  that has read the branch once, as a started daemon has.
- git CLI: a bare clone with an index of the branch; per record ``git hash-object -w``,
  ``git update-index --cacheinfo``, ``git write-tree``, ``git commit-tree`` and ``git push``.

Rounds alternate (git, ours, git, ours ...), each on its own copy of the remote; the table
shows the median records per second and the ratio ours/git. Flatness is the median cost of a
record at the largest size over the smallest (goal: within 2x).

    PYTHONPATH=. python bench/git.py [--quick] [--records 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from gitcli import git

from reconciler.gitrepo import GitMirror
from reconciler.ledger.git import GitLedger

BRANCH = "oven-status"
RUNS_PER_JOB = 100
RUN = (
    "job: {job}\nrun_id: {run}\nstatus: Succeeded\nexit_code: 0\n"
    "started_at: '2026-12-01T00:00:00Z'\n"
)



def make_remote(path: Path, files: int) -> None:
    """A bare repo whose status branch holds ``files`` files, in one commit by fast-import."""
    git("init", "--bare", "-q", str(path))
    jobs = max(1, files // (RUNS_PER_JOB + 1))
    lines = [f"commit refs/heads/{BRANCH}\n", "committer Bench <b@e.t> 0 +0000\n", "data 5\nseed\n"]
    count = 0
    for job in range(jobs):
        body = f"id: job-{job}\nruns: {RUNS_PER_JOB}\n".encode()
        lines.append(f"M 100644 inline status/jobs/job-{job}.yaml\ndata {len(body)}\n")
        lines.append(body.decode() + "\n")
        count += 1
        for run in range(RUNS_PER_JOB):
            if count >= files:
                break
            body = RUN.format(job=f"job-{job}", run=f"run-{run}").encode()
            lines.append(f"M 100644 inline status/runs/job-{job}/run-{run}.yaml\n")
            lines.append(f"data {len(body)}\n{body.decode()}\n")
            count += 1
    git("fast-import", "--quiet", cwd=path, data="".join(lines).encode())


def record(n: int, jobs: int) -> dict[str, bytes]:
    job = f"job-{n % jobs}"
    return {
        f"status/runs/{job}/new-{n}.yaml": RUN.format(job=job, run=f"new-{n}").encode(),
        f"status/jobs/{job}.yaml": f"id: {job}\nlast: new-{n}\n".encode(),
        "status/reconciler.yaml": f"applied: {n}\n".encode(),
    }


def run_ours(remote: Path, work: Path, records: int, jobs: int) -> float:
    mirror = GitMirror(str(remote), work / "mirror.git")
    ledger = GitLedger(mirror, BRANCH, queue_dir=work / "queue")
    ledger.read()  # a started daemon has read the branch once
    started = time.perf_counter()
    for n in range(records):
        ledger.write(record(n, jobs), f"oven: status {n}")
    elapsed = time.perf_counter() - started
    return elapsed


def run_git(remote: Path, work: Path, records: int, jobs: int) -> float:
    clone = work / "clone.git"
    git("clone", "--bare", "-q", "--single-branch", "-b", BRANCH, str(remote), str(clone))
    git("read-tree", BRANCH, cwd=clone)
    tip = git("rev-parse", BRANCH, cwd=clone)
    scratch = work / "files"
    scratch.mkdir()
    started = time.perf_counter()
    for n in range(records):
        files = record(n, jobs)
        names = []
        for index, content in enumerate(files.values()):
            name = scratch / str(index)
            name.write_bytes(content)
            names.append(str(name))
        shas = git("hash-object", "-w", *names, cwd=clone).split()
        infos = [
            arg
            for sha, path in zip(shas, files, strict=True)
            for arg in ("--cacheinfo", f"100644,{sha},{path}")
        ]
        git("update-index", "--add", *infos, cwd=clone)
        tree = git("write-tree", cwd=clone)
        tip = git("commit-tree", tree, "-p", tip, "-m", f"status {n}", cwd=clone)
        git("push", "-q", "origin", f"{tip}:refs/heads/{BRANCH}", cwd=clone)
    return time.perf_counter() - started


def measure(files: int, records: int, rounds: int, tmp: Path) -> tuple[float, float]:
    """Median seconds per record: (ours, git)."""
    template = tmp / f"remote-{files}.git"
    make_remote(template, files)
    jobs = max(1, files // (RUNS_PER_JOB + 1))
    ours: list[float] = []
    theirs: list[float] = []
    for index in range(rounds):
        for name, runner, samples in (("git", run_git, theirs), ("ours", run_ours, ours)):
            work = tmp / f"{name}-{files}-{index}"
            work.mkdir()
            remote = work / "remote.git"
            shutil.copytree(template, remote)
            samples.append(runner(remote, work, records, jobs) / records)
            shutil.rmtree(work)
    shutil.rmtree(template)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k files, one round")
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else args.sizes
    rounds = 1 if args.quick else args.rounds
    results: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="oven-bench-git-") as tmp:
        for files in sizes:
            results[files] = measure(files, args.records, rounds, Path(tmp))
    print("| work | Agent Oven | baseline | ratio | goal | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for files, (ours, theirs) in results.items():
        ratio = theirs / ours
        goal = "≥ 2× git CLI" if files == 10_000 else "–"
        met = ("yes" if ratio >= 2 else "no") if files == 10_000 else "–"
        print(
            f"| status records/s, {files:,} files, {args.records} records | {1 / ours:.1f}/s "
            f"| git CLI {1 / theirs:.1f}/s | {ratio:.2f}× | {goal} | {met} |"
        )
    small, large = min(results), max(results)
    if large != small:
        flat = results[large][0] / results[small][0]
        git_flat = results[large][1] / results[small][1]
        print(
            f"| cost of a record, {large:,} / {small:,} files | {flat:.2f}× | git CLI "
            f"{git_flat:.2f}× | – | ≤ 2× | {'yes' if flat <= 2 else 'no'} |"
        )


if __name__ == "__main__":
    main()
