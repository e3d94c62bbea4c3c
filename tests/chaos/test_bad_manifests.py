"""Issue 6's manifest rows against a real `oven run` process: it stays up, also across restarts.

Each input once ended the daemon at load, plan or its first due fire, and again on every
restart. Here they are pushed beside a good job; the daemon reports each as a
``FILE:LINE: FIELD: message`` problem in ``status/reconciler.yaml``, keeps running the good
job, and comes up again after a restart over the same repository. The exact problem lines are
checked in tests/manifests/test_gate.py; this file checks the process itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scenarios.harness import StatusBranch, manifest, wait_until
from support.gitutil import push_files

ROWS = {
    "every-days": {"schedule": {"type": "interval", "every": "99999999999d"}},
    "far-once": {"schedule": {"type": "once", "at": "9999-12-31T23:59:59-14:00"}},
    "every-minutes": {"schedule": {"type": "interval", "every": "1830358181m"}},
    "deadline": {
        "schedule": {"type": "interval", "every": "20s"},
        "policy": {"startingDeadline": 258053483022575},
    },
}


def problem_paths(status: StatusBranch) -> set[str]:
    return {p["path"] for p in status.reconciler().get("problems", [])}


def finished_runs(status: StatusBranch) -> list[dict[str, object]]:
    return [run for run in status.runs("good") if run.get("finished_at")]


@pytest.mark.docker
def test_the_daemon_reports_each_row_runs_the_good_job_and_restarts(
    bare: Path, containment_daemon, tmp_path: Path
) -> None:
    files = {f"jobs/{job_id}.yaml": manifest(job_id, **fields) for job_id, fields in ROWS.items()}
    files["jobs/good.yaml"] = manifest("good")
    push_files(bare, "main", files)
    status = StatusBranch(bare)
    daemon = containment_daemon(f"file://{bare}")

    expected = {f"jobs/{job_id}.yaml" for job_id in ROWS}
    wait_until(lambda: problem_paths(status) == expected, 60, "the four rows as problems")
    wait_until(lambda: finished_runs(status), 60, "a finished run of the good job")
    assert daemon.process is not None and daemon.process.poll() is None, "still up"

    daemon.stop()  # a restart over the same repository comes up and goes on
    before = len(finished_runs(status))
    daemon.start()
    wait_until(lambda: daemon.serving(), 60, "serving again")
    wait_until(lambda: len(finished_runs(status)) > before, 60, "the good job runs again")
    assert problem_paths(status) == expected
    assert daemon.process is not None and daemon.process.poll() is None, "still up"
    assert "Traceback" not in daemon.output()
