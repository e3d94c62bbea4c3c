"""deploy/: the systemd unit passes `systemd-analyze verify`, and every OVEN_* variable the
deploy files set is one the CLI reads (a misspelt variable would be silently ignored)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VARIABLE = re.compile(r"\bOVEN_[A-Z_]+\b")
# set by compose.yaml / the tests for the compose file itself, not read by `oven`
COMPOSE_ONLY = {"OVEN_ENV_FILE", "OVEN_PUBLISH"}


def _cli_variables() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        names |= set(re.findall(r'env="(OVEN_[A-Z_]+)"', path.read_text()))
    return names


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_the_unit_verifies(tmp_path: Path) -> None:
    oven = Path(sys.executable).with_name("oven")
    assert oven.exists(), "the oven entry point is installed beside this Python"
    unit = (DEPLOY / "agent-oven.service").read_text()
    assert "ExecStart=/opt/agent-oven/bin/oven run" in unit
    # the machine under test has neither the install path nor docker.service as a unit
    unit = unit.replace("/opt/agent-oven/bin/oven", str(oven))
    unit = unit.replace("EnvironmentFile=/etc/agent-oven/oven.env", "EnvironmentFile=-/nonexistent")
    unit = unit.replace("Requires=docker.service\n", "").replace(" docker.service", "")
    copy = tmp_path / "agent-oven.service"
    copy.write_text(unit)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if str(copy) in line]
    assert done.returncode == 0 and not complaints, done.stdout + done.stderr


def test_deploy_files_set_only_variables_the_cli_reads() -> None:
    known = _cli_variables()
    assert {"OVEN_REPO", "OVEN_LISTEN", "OVEN_STATE_DIR"} <= known
    for name in ("oven.env", "compose.yaml", "agent-oven.service"):
        text = (DEPLOY / name).read_text()
        used = set(VARIABLE.findall(text)) - COMPOSE_ONLY
        assert used, name
        assert used <= known, f"{name} sets variables oven does not read: {sorted(used - known)}"
