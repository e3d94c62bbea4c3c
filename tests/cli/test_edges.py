"""Edges of the command line, as a user meets them in a real process: a `--listen` that cannot
be had ends `oven run` before anything runs, `oven trigger` refuses a job the daemon does not
have, and `oven next | head -1` ends quietly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.runids import manual_run_id
from reconciler.spool import RequestSpool

NOW = datetime(2026, 3, 1, tzinfo=UTC)  # unused by a keyed run id, which does not depend on time

EVERY_MINUTE = (
    "id: often\nname: Often\ntype: docker\nimage: busybox\n"
    "schedule: {type: cron, cron: '* * * * *'}\n"
)


def oven(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def run_daemon(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    state = tmp_path / "state"
    return oven(
        "run", "--repo", str(tmp_path / "no-repo"), "--state-dir", str(state), *args, env=env
    )


def test_run_on_a_busy_port_fails_before_anything_runs(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run_daemon(tmp_path, "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 2, done.stderr
    assert f"error: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "hint: choose another web port" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "state").exists(), "nothing ran: not even the state dir was made"


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:http", "127.0.0.1:70000", "[::1:80"])
def test_run_with_an_address_that_is_not_host_port_is_a_usage_error(
    tmp_path: Path, listen: str
) -> None:
    done = run_daemon(tmp_path, "--listen", listen)
    assert done.returncode == 2 and "not an address" in done.stderr, done.stderr
    done = run_daemon(tmp_path, OVEN_LISTEN=listen)
    assert done.returncode == 2 and "not an address" in done.stderr, done.stderr
    assert not (tmp_path / "state").exists()


def test_run_on_an_address_of_another_machine_says_which_addresses_work(tmp_path: Path) -> None:
    done = run_daemon(tmp_path, "--listen", "203.0.113.1:8080")  # TEST-NET-3: never ours
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: cannot listen on 203.0.113.1:8080")
    assert "hint: give an address of this machine" in done.stderr


def test_trigger_of_an_unknown_job_exits_1_and_names_the_close_ones(tmp_path: Path) -> None:
    RequestSpool(tmp_path).publish_jobs(["nightly-review", "nightly-backup", "hourly"], "3f9c2e1a")
    done = oven("trigger", "nightly-reveiw", "--state-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr == (
        "error: no job 'nightly-reveiw' in the config the daemon runs (3f9c2e1a)\n"
        "hint: did you mean nightly-review or nightly-backup?\n"
    )
    far = oven("trigger", "zzz", "--state-dir", str(tmp_path))
    assert (
        far.returncode == 1 and "the jobs are: nightly-review, nightly-backup, hourly" in far.stderr
    )
    assert list((tmp_path / "requests").glob("*.json")) == [], "nothing was requested"

    known = oven("trigger", "hourly", "--state-dir", str(tmp_path))
    assert known.returncode == 0 and "requested a run of hourly" in known.stderr
    run_id = known.stdout.strip()
    assert run_id.startswith("hourly-m") and "\n" not in run_id
    assert len(list((tmp_path / "requests").glob("*.json"))) == 1


def test_trigger_with_a_repeated_key_prints_the_same_run_id_and_spools_once(
    tmp_path: Path,
) -> None:
    RequestSpool(tmp_path).publish_jobs(["hourly"], "3f9c2e1a")
    first = oven(
        "trigger", "hourly", "--idempotency-key", "deploy-42", "--state-dir", str(tmp_path)
    )
    again = oven(
        "trigger", "hourly", "--idempotency-key", "deploy-42", "--state-dir", str(tmp_path)
    )
    assert first.returncode == again.returncode == 0
    assert first.stdout == again.stdout == f"{manual_run_id('hourly', 'deploy-42', NOW)}\n"
    assert "already requested" in again.stderr and "already" not in first.stderr
    assert len(list((tmp_path / "requests").glob("*.json"))) == 1


@pytest.mark.parametrize("command", [["trigger", "job"], ["cancel", "run-1"], ["retry", "run-1"]])
def test_trigger_cancel_and_retry_refuse_a_state_dir_that_does_not_exist(
    tmp_path: Path, command: list[str]
) -> None:
    done = oven(*command, "--state-dir", str(tmp_path / "missing"))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"error: state dir {tmp_path / 'missing'} does not exist\nhint: ")
    assert not (tmp_path / "missing").exists()


def test_retry_prints_the_next_attempt_and_spools_it_once(tmp_path: Path) -> None:
    first = oven("retry", "nightly-20260301-020000", "--state-dir", str(tmp_path))
    assert first.returncode == 0 and first.stdout == "nightly-20260301-020000-a2\n"
    again = oven("retry", "nightly-20260301-020000", "--state-dir", str(tmp_path))
    assert again.stdout == first.stdout and "already requested" in again.stderr
    later = oven("retry", "nightly-20260301-020000-a2", "--state-dir", str(tmp_path))
    assert later.stdout == "nightly-20260301-020000-a3\n"
    requests = [json.loads(p.read_text()) for p in (tmp_path / "requests").glob("*.json")]
    assert sorted(r["target"] for r in requests) == [
        "nightly-20260301-020000-a2",
        "nightly-20260301-020000-a3",
    ]
    assert {r["kind"] for r in requests} == {"retry"}


def test_trigger_before_any_daemon_loaded_a_config_writes_the_request_with_a_note(
    tmp_path: Path,
) -> None:
    done = oven("trigger", "anything", "--state-dir", str(tmp_path))
    assert done.returncode == 0
    assert "no daemon has loaded a config" in done.stderr
    assert len(list((tmp_path / "requests").glob("*.json"))) == 1


def test_next_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    job = tmp_path / "often.yaml"
    job.write_text(EVERY_MINUTE)
    command = (
        f"{sys.executable} -m reconciler next {job} -n 5000 | head -1; echo ${{PIPESTATUS[0]}}"
    )
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    first, status = done.stdout.splitlines()
    assert first and status == "141", done.stdout
    assert done.stderr == "", "no BrokenPipeError, no traceback"
