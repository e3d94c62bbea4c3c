"""``oven logs``, ``oven get`` and ``oven describe`` against a real status branch, a real state
directory and a real HTTP server (the status app with the log endpoint of the shared contract).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from support.gitutil import make_bare, push_files

from reconciler.cli import Context, main
from reconciler.clock import FakeClock, iso
from reconciler.executors.logfiles import live_path, log_path, read_log
from reconciler.model import RunRecord
from reconciler.status.files import dump_yaml, job_path, render_run, run_path
from reconciler.status.view import Snapshot, SnapshotBuilder
from reconciler.web.app import create_app
from reconciler.web.server import ServerHandle, serve_in_thread

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ANSI = re.compile(r"\x1b\[")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def oven(*argv: str, stdout: io.StringIO | None = None, **env: str) -> tuple[int, str, str]:
    out, err = stdout or io.StringIO(), io.StringIO()
    ctx = Context(clock=FakeClock(NOW), stdout=out, stderr=err, env=env)
    code = main(list(argv), ctx)
    return code, out.getvalue(), err.getvalue()


def record(job_id: str, minutes_ago: int, status: str) -> RunRecord:
    start = NOW - timedelta(minutes=minutes_ago)
    done = status not in ("running", "pending")
    return RunRecord(
        run_id=f"{job_id}-{start:%Y%m%d-%H%M%S}",
        job_id=job_id,
        trigger="schedule",
        status=status,  # type: ignore[arg-type]
        scheduled_for=start,
        started_at=start,
        finished_at=start + timedelta(seconds=75) if done else None,
        exit_code=(0 if status == "succeeded" else 1) if done else None,
    )


RUNS = [
    record("db-backup", 5, "running"),
    record("db-backup", 65, "succeeded"),
    record("db-backup", 125, "failed"),
    record("report", 30, "succeeded"),
]


def summary(job_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "name": job_id.title(),
        "type": "docker",
        "schedule": "At 0 minutes past the hour, between 09:00 and 17:59, Monday through Friday",
        "enabled": True,
        "next_run": iso(NOW + timedelta(hours=1)),
        "last_run": None,
        "consecutive_failures": 0,
        "success_rate": None,
        "active_runs": [],
        "config_path": f"jobs/{job_id}.yaml",
        **extra,
    }


JOBS = {
    "db-backup": summary(
        "db-backup",
        consecutive_failures=1,
        success_rate=0.5,
        active_runs=[RUNS[0].run_id],
        owner="ops",
        last_run={"run_id": RUNS[1].run_id, "status": "succeeded", "exit_code": 0},
    ),
    "report": summary(
        "report",
        enabled=False,
        last_run={"run_id": RUNS[3].run_id, "status": "succeeded", "exit_code": 0},
    ),
}
RECONCILER = {
    "applied_revision": "3f9c2e1a7b5d4c6e8f0a1b2c3d4e5f6a7b8c9d0e",
    "conditions": [{"type": "Ready", "status": "True", "reason": "Applied", "message": "ok"}],
    "heartbeat": iso(NOW),
    "problems": [
        {"path": "jobs/report.yaml", "line": 4, "field": "image", "message": "no such image"}
    ],
}


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = make_bare(tmp_path / "config.git")
    files = {"status/reconciler.yaml": dump_yaml(RECONCILER).decode()}
    files |= {job_path(j): dump_yaml(s).decode() for j, s in JOBS.items()}
    files |= {run_path(r.job_id, r.run_id): render_run(r).decode() for r in RUNS}
    push_files(bare, "oven-status", files)
    return bare


def snapshot() -> Snapshot:
    return SnapshotBuilder().build(RECONCILER, JOBS, RUNS)


def log_endpoint(state_dir: Path):  # type: ignore[no-untyped-def]
    """The log endpoint of the shared contract, over ``read_log`` (the real one is the live
    pages' work; this is what the CLI expects of it)."""

    async def endpoint(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        run = snapshot().runs.get(run_id)
        if run is None:
            return Response(b"no such run", status_code=404)
        chunk = read_log(state_dir, run["job_id"], run_id, int(request.query_params["offset"]))
        headers = {"X-Oven-Log-Offset": str(chunk.offset), "X-Oven-Log-Final": str(+chunk.final)}
        return Response(chunk.data, media_type="text/plain", headers=headers)

    return endpoint


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerHandle]:
    route = Route("/api/v1/runs/{run_id}/log", log_endpoint(tmp_path / "state"))
    handle = serve_in_thread(create_app(snapshot, extra_routes=[route]))
    yield handle
    handle.stop()


# -- get -----------------------------------------------------------------------------------------
def test_get_jobs_is_a_plain_table_in_a_pipe(remote: Path) -> None:
    code, out, err = oven("get", "jobs", "--repo", str(remote))
    assert (code, err) == (0, "")
    assert not ANSI.search(out)
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert lines[0] == ["JOB", "SCHEDULE", "LAST", "NEXT", "RUN", "FAILS", "SUCCESS", "ACTIVE"]
    assert lines[2][0] == "db-backup" and lines[2][-5:] == [
        "succeeded",
        "2026-03-01T13:00:00Z",
        "1",
        "50%",
        "1",
    ]
    assert "db-backup" in out and "(disabled)" in out.split("report")[1]
    assert "Monday through Friday" in out
    assert "succeeded" in out and "50%" in out


def test_get_runs_newest_first_filtered_by_job(remote: Path) -> None:
    code, out, _ = oven("get", "runs", "--repo", str(remote), "--job", "db-backup")
    assert code == 0
    ids = re.findall(r"^\s*(db-backup-\S+)", out, re.M)
    assert ids == [r.run_id for r in RUNS[:3]]
    assert "report-" not in out and "1m15s" in out


def test_get_json_and_yaml_are_the_records(remote: Path) -> None:
    code, out, _ = oven("get", "runs", "--repo", str(remote), "-o", "json")
    assert code == 0
    runs = json.loads(out)["runs"]
    assert [r["run_id"] for r in runs] == [
        RUNS[0].run_id,
        RUNS[3].run_id,
        *(r.run_id for r in RUNS[1:3]),
    ]
    code, out, _ = oven("get", "jobs", "--repo", str(remote), "-o", "yaml")
    jobs = yaml.safe_load(out)["jobs"]
    assert [j["job_id"] for j in jobs] == ["db-backup", "report"]
    assert jobs[0]["owner"] == "ops"


def test_get_from_the_server_answers_what_the_status_branch_says(
    remote: Path, server: ServerHandle
) -> None:
    for kind in ("jobs", "runs"):
        _, from_git, _ = oven("get", kind, "--repo", str(remote), "-o", "json")
        code, from_api, err = oven("get", kind, "-o", "json", OVEN_SERVER=server.url)
        assert code == 0, err
        assert json.loads(from_api) == json.loads(from_git)


def test_get_colours_on_a_terminal_only_and_never_with_no_color(remote: Path) -> None:
    code, out, _ = oven("get", "jobs", "--repo", str(remote), stdout=Terminal())
    assert code == 0 and ANSI.search(out)
    code, out, _ = oven("get", "jobs", "--repo", str(remote), stdout=Terminal(), NO_COLOR="1")
    assert code == 0 and not ANSI.search(out) and "db-backup" in out


def test_get_watch_prints_again_only_when_something_changed(server: ServerHandle) -> None:
    code, out, _ = oven(
        "get", "jobs", "--server", server.url, "--watch", "--interval", "0.05",
        "--watch-times", "3",
    )  # fmt: skip
    assert code == 0 and out.count("JOB ") == 1  # three reads, one unchanged answer


def test_get_without_a_source_or_with_a_dead_server_is_an_error_with_a_hint() -> None:
    code, _, err = oven("get", "jobs")
    assert code == 2 and "error: nothing to read from" in err and "hint:" in err
    code, _, err = oven("get", "jobs", "--server", "http://127.0.0.1:9")
    assert code == 2 and "error: cannot reach the daemon at http://127.0.0.1:9" in err
    assert "hint: is `oven run` listening there?" in err


# -- describe ------------------------------------------------------------------------------------
def test_describe_job_shows_summary_problems_and_runs(remote: Path) -> None:
    code, out, err = oven("describe", "job", "report", "--repo", str(remote))
    assert (code, err) == (0, "")
    assert "Job: report" in out and "Enabled:" in out and re.search(r"Enabled:\s+no", out)
    assert "jobs/report.yaml:4: image: no such image" in out
    assert RUNS[3].run_id in out and RUNS[0].run_id not in out


def test_describe_json_from_the_server(server: ServerHandle) -> None:
    code, out, err = oven("describe", "job", "db-backup", "--server", server.url, "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["job"]["owner"] == "ops" and data["problems"] == []
    assert [r["run_id"] for r in data["runs"]] == [r.run_id for r in RUNS[:3]]


def test_describe_from_the_repo_shows_the_manifest_the_daemon_applied(tmp_path: Path) -> None:
    bare = make_bare(tmp_path / "applied.git")
    manifest = "id: report\nname: Report\ntype: docker\nimage: busybox\n"
    applied = push_files(bare, "main", {"jobs/report.yaml": manifest})
    push_files(bare, "main", {"jobs/report.yaml": manifest.replace("busybox", "alpine")})
    files = {"status/reconciler.yaml": dump_yaml({**RECONCILER, "applied_revision": applied})}
    files[job_path("report")] = dump_yaml(JOBS["report"])
    push_files(bare, "oven-status", {path: data.decode() for path, data in files.items()})
    code, out, _ = oven("describe", "job", "report", "--repo", str(bare))
    assert code == 0
    assert f"Manifest jobs/report.yaml at {applied[:12]}:" in out
    assert "  image: busybox" in out and "alpine" not in out  # the applied one, not the head
    code, out, _ = oven("describe", "job", "report", "--repo", str(bare), "-o", "json")
    assert json.loads(out)["manifest"] == {
        "path": "jobs/report.yaml",
        "revision": applied,
        "text": manifest,
    }


def test_describe_without_the_applied_revision_shows_no_manifest(remote: Path) -> None:
    code, out, _ = oven("describe", "job", "report", "--repo", str(remote), "-o", "json")
    assert code == 0 and "manifest" not in json.loads(out)  # RECONCILER names no real commit


def test_describe_an_unknown_job_is_refused_with_the_closest_id(remote: Path) -> None:
    code, out, err = oven("describe", "job", "db-bakup", "--repo", str(remote))
    assert (code, out) == (1, "")
    assert err == "error: no job 'db-bakup'\nhint: did you mean db-backup?\n"


# -- logs ----------------------------------------------------------------------------------------
RUN = RUNS[0]


def write(path: Path, data: bytes, mode: str = "wb") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode) as out:
        out.write(data)


def finish_later(state: Path) -> threading.Thread:
    """Append to the .live file twice, then write the final log and remove the .live."""
    live = live_path(state, RUN.job_id, RUN.run_id)
    write(live, b"one\n")

    def run() -> None:
        time.sleep(0.3)
        write(live, b"two\n", "ab")
        time.sleep(0.3)
        write(log_path(state, RUN.job_id, RUN.run_id), b"one\ntwo\nthree\n")
        live.unlink()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_logs_prints_a_finished_log_from_the_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    write(log_path(state, RUN.job_id, RUN.run_id), b"hello\n\xffbye\n")
    write(log_path(state, "db", "db-20260301-000000"), b"other job\n")
    code, out, err = oven("logs", RUN.run_id, "--state-dir", str(state))
    assert (code, out, err) == (0, "hello\n\ufffdbye\n", "")


def test_logs_without_follow_prints_what_is_there_of_a_running_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    write(live_path(state, RUN.job_id, RUN.run_id), b"so far\n")
    code, out, _ = oven("logs", RUN.run_id, OVEN_STATE_DIR=str(state))
    assert (code, out) == (0, "so far\n")


def test_logs_follow_reads_until_the_log_is_final(tmp_path: Path) -> None:
    state = tmp_path / "state"
    thread = finish_later(state)
    code, out, err = oven("logs", RUN.run_id, "-f", "--state-dir", str(state), "--poll", "0.05")
    thread.join()
    assert (code, out, err) == (0, "one\ntwo\nthree\n", "")


def test_logs_follow_from_the_server(tmp_path: Path, server: ServerHandle) -> None:
    thread = finish_later(tmp_path / "state")
    code, out, err = oven("logs", RUN.run_id, "--follow", "--server", server.url, "--poll", "0.05")
    thread.join()
    assert (code, out, err) == (0, "one\ntwo\nthree\n", "")


def test_logs_of_an_unknown_run_is_an_error_with_a_hint(
    tmp_path: Path, server: ServerHandle
) -> None:
    state = tmp_path / "state"
    write(log_path(state, RUN.job_id, RUN.run_id), b"x\n")
    code, _, err = oven("logs", "db-backup-1", "--state-dir", str(state))
    assert code == 2 and "error: no log of run 'db-backup-1'" in err and "hint:" in err
    code, _, err = oven("logs", "nope-1", "--server", server.url)
    assert code == 2 and "has no log of run 'nope-1'" in err
    code, _, err = oven("logs", "x-1", "--state-dir", str(tmp_path / "missing"))
    assert code == 2 and "error: no run logs in" in err


def test_read_log_pages_through_the_live_then_the_final_file(tmp_path: Path) -> None:
    assert read_log(tmp_path, "j", "j-1", 0) == read_log(tmp_path, "j", "j-1", 0)
    assert (
        read_log(tmp_path, "j", "j-1", 0).data == b"" and not read_log(tmp_path, "j", "j-1").final
    )
    write(live_path(tmp_path, "j", "j-1"), b"abcdef")
    first = read_log(tmp_path, "j", "j-1", 2, limit=3)
    assert (first.data, first.offset, first.final) == (b"cde", 5, False)
    write(log_path(tmp_path, "j", "j-1"), b"abcdefgh")
    big = read_log(tmp_path, "j", "j-1", 5, limit=2)
    assert (big.data, big.offset, big.final) == (b"fg", 7, False)  # more to read
    last = read_log(tmp_path, "j", "j-1", 7)
    assert (last.data, last.offset, last.final) == (b"h", 8, True)
