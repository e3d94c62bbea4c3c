"""scripts/demo.sh (``make demo``): the banner's "commit and git push" works as printed.

The script runs for real with real git; only ``oven run`` (the last, exec'd step) is a
stand-in that records its arguments, so the test starts no daemon and needs no engine.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from support.gitutil import GIT_ENV, git

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts" / "demo.sh"


def stand_in_venv(tmp: Path) -> Path:
    venv = tmp / "venv"
    (venv / "bin").mkdir(parents=True)
    oven = venv / "bin" / "oven"
    oven.write_text(f'#!/bin/sh\necho "$@" > {tmp}/oven-args\n')
    oven.chmod(0o755)
    return venv


def run_demo(tmp: Path) -> str:
    venv = tmp / "venv" if (tmp / "venv").exists() else stand_in_venv(tmp)
    done = subprocess.run(
        ["bash", str(DEMO), str(venv), str(tmp / "demo"), "127.0.0.1:0"],
        env={**os.environ, **GIT_ENV}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_banner_push_command_reaches_the_remote_the_daemon_reads(tmp_path: Path) -> None:
    out = run_demo(tmp_path)
    work, remote = tmp_path / "demo" / "config-work", tmp_path / "demo" / "config.git"
    assert (tmp_path / "oven-args").read_text().startswith(f"run --repo file://{remote} ")
    assert git("status", "-sb", cwd=work).splitlines()[0] == "## main...origin/main"
    command = re.search(r"then: (cd .* && git push)$", out, re.MULTILINE)
    assert command, out
    job = next((work / "jobs").glob("*.yaml"))
    job.write_text(job.read_text() + "# a change\n")
    done = subprocess.run(
        ["bash", "-c", command.group(1)],
        env={**os.environ, **GIT_ENV}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    head = git("rev-parse", "HEAD", cwd=work)
    assert git("--git-dir", str(remote), "rev-parse", "main") == head
    assert git("--git-dir", str(remote), "log", "-1", "--format=%s", "main") == "my change"


def test_a_demo_made_before_the_remote_existed_gets_one(tmp_path: Path) -> None:
    run_demo(tmp_path)
    work = tmp_path / "demo" / "config-work"
    git("remote", "remove", "origin", cwd=work)  # how .demo/ looked before this change
    assert git("status", "-sb", cwd=work).splitlines()[0] == "## main"
    run_demo(tmp_path)
    assert git("status", "-sb", cwd=work).splitlines()[0] == "## main...origin/main"
    run_demo(tmp_path)  # and a third start changes nothing
    assert git("remote", cwd=work) == "origin"
