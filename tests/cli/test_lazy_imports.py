"""Commands import only what they need to answer: a guard on start-up time.

Python's imports were most of ``oven plan`` in a new process and of the daemon's start to
ready (docs/performance.md): jsonschema (only for a file the compiled pre-check fails), httpx
and with it rich (only when a notification is sent), the Docker SDK and requests (only when
the daemon builds its executor). Each test runs a real command in a new interpreter and reads
``sys.modules`` at its end, so a later top-level import that brings the cost back fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.gitutil import git

import reconciler

ROOT = Path(reconciler.__file__).resolve().parents[1]
HEAVY = (
    "jsonschema",
    "httpx",
    "rich",
    "docker",
    "requests",
    "argcomplete",
    "dulwich.client",
    "starlette",
    "uvicorn",
    "jinja2",
)
COMMAND = """
import json, sys
from reconciler.cli import main
code = main(sys.argv[2:])
loaded = [name for name in {heavy!r} if name in sys.modules]
open(sys.argv[1], "w").write(json.dumps({{"code": code, "loaded": loaded}}))
"""
DAEMON = """
import json, sys
from pathlib import Path
import reconciler.cli.run, reconciler.loop
from reconciler.clock import SystemClock
from reconciler.notify import Notifier, Outbox
from reconciler.secrets import SecretStore
notifier = Notifier(Outbox.open(Path(sys.argv[2])), SecretStore({{}}), SystemClock())
notifier.start()
notifier.stop()
loaded = [name for name in {heavy!r} if name in sys.modules]
open(sys.argv[1], "w").write(json.dumps({{"code": 0, "loaded": loaded}}))
"""
JOB = (
    "id: nightly\nname: Nightly\ntype: docker\nimage: busybox:1.36\n"
    "schedule: {type: cron, cron: '0 4 * * *', timezone: UTC}\n"
)
OVEN = "defaults:\n  resources: {timeout: 300}\n"


def run(tmp: Path, script: str, *argv: str) -> tuple[int, set[str], str]:
    """``script`` in a new interpreter; its exit code, heavy modules loaded and stdout."""
    result = tmp / f"modules-{len(list(tmp.glob('modules-*')))}.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OVEN_")},
        "PYTHONPATH": str(ROOT),
        "XDG_CACHE_HOME": str(tmp / "cache"),
    }
    code = script.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code, str(result), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(result.read_text())
    return found["code"], set(found["loaded"]), done.stdout


def config_repo(path: Path, files: dict[str, str]) -> Path:
    (path / "jobs").mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    git("init", "--quiet", "--initial-branch=main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "--quiet", "-m", "jobs", cwd=path)
    return path


def test_help_loads_none_of_the_heavy_modules(tmp_path: Path) -> None:
    code, loaded, out = run(tmp_path, COMMAND, "--help")
    assert (code, loaded) == (0, set())
    assert "validate" in out


def test_validate_of_valid_files_does_not_load_jsonschema(tmp_path: Path) -> None:
    repo = config_repo(tmp_path / "repo", {"oven.yaml": OVEN, "jobs/nightly.yaml": JOB})

    code, loaded, out = run(tmp_path, COMMAND, "validate", str(repo))

    assert code == 0, out
    assert "1 job valid" in out or "1 jobs valid" in out
    assert loaded == set()


def test_validate_loads_jsonschema_for_a_file_that_fails_the_precheck(tmp_path: Path) -> None:
    broken = JOB + "colour: blue\n"
    repo = config_repo(tmp_path / "repo", {"oven.yaml": OVEN, "jobs/nightly.yaml": broken})

    code, loaded, out = run(tmp_path, COMMAND, "validate", str(repo))

    assert code == 1
    assert "jobs/nightly.yaml:6: colour: unknown field" in out
    assert loaded == {"jsonschema"}


def test_plan_loads_neither_jsonschema_nor_http_nor_docker(tmp_path: Path) -> None:
    repo = config_repo(tmp_path / "repo", {"oven.yaml": OVEN, "jobs/nightly.yaml": JOB})
    (repo / "jobs" / "nightly.yaml").write_text(JOB.replace("0 4", "30 5"))
    git("commit", "--quiet", "-am", "later", cwd=repo)

    code, loaded, out = run(
        tmp_path, COMMAND, "plan", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD"
    )

    assert code == 0, out
    assert "~ nightly" in out and "0 to add, 1 to change" in out
    assert loaded <= {"dulwich.client"}  # plan reads the repo through dulwich's local client


def test_the_daemon_imports_no_http_client_docker_or_jsonschema_before_its_executor(
    tmp_path: Path,
) -> None:
    """The web stack is the daemon's own; httpx comes with the first notification sent, the
    Docker SDK when ``loop.executor`` builds the executor."""
    code, loaded, _ = run(tmp_path, DAEMON, str(tmp_path / "state"))

    assert code == 0
    assert loaded.isdisjoint({"jsonschema", "httpx", "rich", "docker", "requests"}), loaded
