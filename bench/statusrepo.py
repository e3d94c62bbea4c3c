"""A status branch with many jobs and runs, made fast for the read benchmarks.

Writing 100k run files through the ledger would take hours, so the files are rendered from
one real ``RunRecord`` per job (``dump_yaml``) with the run id and times substituted, and the
objects are written straight into one pack with dulwich. The repository is cached under the
temp dir by size, so a second bench run starts at once.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from reconciler.clock import iso
from reconciler.model import RunRecord
from reconciler.status.files import dump_yaml, job_path, run_path
from reconciler.status.summary import job_summary

BRANCH = "oven-status"
FORMAT = 2  # bump when the files change (2: summaries say whether a retry is planned)
T0 = datetime(2026, 11, 1, tzinfo=UTC)
STATUSES = ("succeeded",) * 8 + ("failed", "timed_out")
_MARKS = ("@@RUN@@", "@@STATUS@@", "@@SCHED@@", "@@START@@", "@@FIN@@")


def job_id(n: int) -> str:
    return f"job-{n:04d}"


def run_id(job: str, k: int) -> str:
    return f"{job}-{T0 + timedelta(minutes=k):%Y%m%d-%H%M%S}"


def status_repo(jobs: int, runs_per_job: int, root: Path | None = None) -> Path:
    """A bare repository whose ``oven-status`` branch holds the files; cached by size."""
    root = root or Path(tempfile.gettempdir()) / "oven-bench-reads"
    path = root / f"status-v{FORMAT}-{jobs}x{runs_per_job}.git"
    if (path / "refs" / "heads" / BRANCH).exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    repo = Repo.init_bare(str(building))
    try:
        _write(repo, jobs, runs_per_job)
    finally:
        repo.close()
    building.rename(path)
    return path


def _template(job: str) -> str:
    record = RunRecord(
        run_id=_MARKS[0],
        job_id=job,
        trigger="schedule",
        status="succeeded",
        scheduled_for=T0,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=42),
        exit_code=0,
        config_revision="0123456789abcdef0123456789abcdef01234567",
        image="busybox:1.36",
        log_tail="starting\nprocessed 1234 items\ndone\n",
    )
    data = record.to_dict()
    data.update(
        run_id=_MARKS[0],
        status=_MARKS[1],
        scheduled_for=_MARKS[2],
        started_at=_MARKS[3],
        finished_at=_MARKS[4],
    )
    return dump_yaml(data).decode()


def _run_text(template: str, job: str, k: int) -> bytes:
    start = T0 + timedelta(minutes=k)
    values = (
        run_id(job, k),
        STATUSES[k % len(STATUSES)],
        iso(start),
        iso(start),
        iso(start + timedelta(seconds=42)),
    )
    text = template
    for mark, value in zip(_MARKS, values, strict=True):
        text = text.replace(mark, value)
    return text.encode()


def _summary(job: str, runs_per_job: int) -> bytes:
    newest = [
        RunRecord(
            run_id=run_id(job, k),
            job_id=job,
            trigger="schedule",
            status=STATUSES[k % len(STATUSES)],  # type: ignore[arg-type]
            scheduled_for=T0 + timedelta(minutes=k),
            started_at=T0 + timedelta(minutes=k),
            finished_at=T0 + timedelta(minutes=k, seconds=42),
        )
        for k in range(max(0, runs_per_job - 20), runs_per_job)
    ]
    summary = job_summary(
        None,
        job,
        newest,
        created_at=T0,
        previous={
            "name": f"Job {job}",
            "type": "docker",
            "schedule": "every minute",
            "config_path": f"jobs/{job}.yaml",
            "fingerprint": "x",
        },
    )
    summary.update(enabled=True, retired=False, reason="")
    return dump_yaml(summary)


def _write(repo: Repo, jobs: int, runs_per_job: int) -> None:
    objects: list[tuple[Blob | Tree | Commit, None]] = []
    jobs_tree, runs_tree = Tree(), Tree()
    for n in range(jobs):
        job = job_id(n)
        template = _template(job)
        job_runs = Tree()
        for k in range(runs_per_job):
            blob = Blob.from_string(_run_text(template, job, k))
            objects.append((blob, None))
            job_runs.add(
                run_path(job, run_id(job, k)).rsplit("/", 1)[1].encode(), 0o100644, blob.id
            )
        objects.append((job_runs, None))
        runs_tree.add(job.encode(), 0o040000, job_runs.id)
        summary = Blob.from_string(_summary(job, runs_per_job))
        objects.append((summary, None))
        jobs_tree.add(job_path(job).rsplit("/", 1)[1].encode(), 0o100644, summary.id)
    reconciler = Blob.from_string(
        dump_yaml(
            {
                "applied_revision": "0" * 40,
                "attempted_revision": "0" * 40,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Succeeded",
                        "message": "ok",
                        "last_transition_time": iso(T0),
                    }
                ],
                "problems": [],
                "heartbeat": iso(T0),
                "started_at": iso(T0),
            }
        )
    )
    status = Tree()
    status.add(b"jobs", 0o040000, jobs_tree.id)
    status.add(b"runs", 0o040000, runs_tree.id)
    status.add(b"reconciler.yaml", 0o100644, reconciler.id)
    root = Tree()
    root.add(b"status", 0o040000, status.id)
    commit = Commit()
    commit.tree, commit.parents = root.id, []
    commit.author = commit.committer = b"bench <bench@localhost>"
    commit.author_time = commit.commit_time = int(T0.timestamp())
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"bench status branch\n"
    objects += [
        (jobs_tree, None),
        (runs_tree, None),
        (reconciler, None),
        (status, None),
        (root, None),
        (commit, None),
    ]
    repo.object_store.add_objects(objects)
    repo.refs[f"refs/heads/{BRANCH}".encode()] = commit.id
