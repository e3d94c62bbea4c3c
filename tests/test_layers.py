"""The import contracts in pyproject.toml (`lint-imports`, run by `make lint`) can fail.

Each case copies the ``reconciler`` package into a temporary directory, adds one import that
breaks a layer, and runs ``lint-imports`` on the copy with the project's own contracts: the
run must fail and name the contract. The same run on an untouched copy must pass, so a
contract that can never be kept (or a typo in a module name) shows up here too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

CORE = "the pure core imports no adapter, no web and no cycle"
CORE_LIBRARIES = "the pure core imports no engine, git, web or watch library"
WEB = "the web does not import the cycle"
ADAPTERS = "adapters import neither the cycle nor the web"
INDEPENDENT = "source, ledger and executors are independent of each other"
PLUMBING = "gitrepo, their shared git plumbing, imports neither source nor ledger"
CYCLE_WEB = "the cycle does not import the web"
WRITE_API = "the write API imports neither the web pages nor the cycle"
READ_WEB = "the read-only web does not import the write API"
CYCLE_ADAPTERS = "the cycle reaches adapters only through reconciler.interfaces"


def contract_names() -> list[str]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return [c["name"] for c in config["tool"]["importlinter"]["contracts"]]


def test_every_contract_has_a_case_that_breaks_it() -> None:
    broken = {case.values[1] for case in VIOLATIONS}
    assert broken == set(contract_names())


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "reconciler",
        tmp_path / "reconciler",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "500", "NO_COLOR": "1"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def add_import(root: Path, module: str, statement: str) -> None:
    path = root / "reconciler" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{statement}\n", encoding="utf-8")


VIOLATIONS = [
    pytest.param("decide.py", CORE, "import reconciler.web", id="core-imports-web"),
    pytest.param(
        "model.py", CORE, "from reconciler.executors import docker", id="core-imports-adapter"
    ),
    pytest.param("planner.py", CORE, "import reconciler.dispatch", id="core-imports-cycle"),
    pytest.param("status/files.py", CORE_LIBRARIES, "import dulwich", id="core-imports-dulwich"),
    pytest.param("web/queries.py", WEB, "import reconciler.recorder", id="web-imports-cycle"),
    pytest.param("api/app.py", WRITE_API, "import reconciler.web.pages", id="api-imports-web"),
    pytest.param("api/tokens.py", WRITE_API, "import reconciler.dispatch", id="api-imports-cycle"),
    pytest.param("web/api.py", READ_WEB, "import reconciler.api.app", id="web-imports-write-api"),
    pytest.param(
        "ledger/memory.py", ADAPTERS, "import reconciler.reconcile", id="adapter-imports-cycle"
    ),
    pytest.param(
        "ledger/git.py", INDEPENDENT, "import reconciler.source.git", id="ledger-imports-source"
    ),
    pytest.param(
        "gitrepo/trees.py", PLUMBING, "import reconciler.ledger.git", id="gitrepo-imports-ledger"
    ),
    pytest.param("dispatch.py", CYCLE_WEB, "import reconciler.web.app", id="cycle-imports-web"),
    pytest.param(
        "book.py", CYCLE_ADAPTERS, "import reconciler.executors.docker", id="cycle-imports-docker"
    ),
]


@pytest.mark.parametrize(("module", "contract", "statement"), VIOLATIONS)
def test_a_forbidden_import_breaks_its_contract(
    package_copy: Path, module: str, contract: str, statement: str
) -> None:
    add_import(package_copy, module, statement)

    result = lint_imports(package_copy)

    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in result.stdout, result.stdout


def test_the_untouched_package_keeps_every_contract(package_copy: Path) -> None:
    result = lint_imports(package_copy)

    assert result.returncode == 0, result.stdout + result.stderr
    for name in contract_names():
        assert f"{name} KEPT" in result.stdout, result.stdout
