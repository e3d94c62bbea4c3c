"""Every command in the table: its help, its place in docs/cli.md, and its usage errors.

Parametrized over ``COMMANDS``, so a command added to the table without docs or help fails
here. Runs in process through ``main(argv, ctx)``; one test runs the real ``oven --help`` to
show that listing the commands imports none of them.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import Context, main
from reconciler.cli.commands import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "cli.md").read_text()
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-n)\b")
ENV = re.compile(r"\bOVEN_[A-Z_]+\b")


def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Context(stdout=out, stderr=err, env=env or {}))
    return code, out.getvalue(), err.getvalue()


def docs_section(name: str) -> str:
    """The part of docs/cli.md under the heading that names `oven NAME`."""
    sections = re.split(r"^## ", DOCS, flags=re.MULTILINE)
    found = [s for s in sections if s.startswith(f"`oven {name}")]
    assert len(found) == 1, f"docs/cli.md needs one '## `oven {name} ...`' heading"
    return found[0]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_exits_0_and_prints_the_usage_and_summary(name: str) -> None:
    code, out, err = run(name, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: oven {name}")
    assert COMMANDS[name].summary in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_flag_and_variable_in_the_help_is_documented(name: str) -> None:
    section = docs_section(name)
    _, out, _ = run(name, "--help")
    for action in ACTIONS.get(name, ()):  # a command with sub-commands: each one's help too
        out += run(name, action, "--help")[1]
    flags = set(FLAG.findall(out)) - {"--help"}
    assert flags, out
    assert [f for f in sorted(flags) if f"`{f}" not in section] == []
    assert [v for v in sorted(set(ENV.findall(out))) if v not in section] == []


# the fewest arguments each command parses, so that the unknown option is what fails
VALID = {
    "run": [],
    "validate": ["."],
    "plan": ["--repo", "x"],
    "explain": ["job.yaml", "--now", "2026-01-01T00:00:00Z"],
    "next": ["job"],
    "status": ["--repo", "x"],
    "trigger": ["job"],
    "backfill": ["job", "--from", "2026-01-01", "--to", "2026-01-02"],
    "init": [],
    "schema": [],
    "export": ["github-actions", "job"],
    "logs": ["run-1"],
    "get": ["jobs"],
    "describe": ["job", "x"],
    "doctor": [],
    "completion": ["bash"],
    "cancel": ["run"],
    "retry": ["run"],
    "token": ["list"],
}
ACTIONS = {"token": ("create", "list", "revoke")}  # sub-commands, each with its own options


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_unknown_option_is_a_usage_error(name: str) -> None:
    code, out, err = run(name, *VALID[name], "--no-such-option")
    assert code == 2 and out == ""
    assert err.startswith(f"usage: oven {name}")
    assert err.endswith(f"oven {name}: error: unrecognized arguments: --no-such-option\n")


def test_every_command_has_valid_arguments_above() -> None:
    assert set(VALID) == set(COMMANDS)


def test_oven_help_lists_every_command_with_its_summary() -> None:
    code, out, _ = run("--help")
    assert code == 0 and out.startswith("usage: oven")
    for name, info in COMMANDS.items():
        assert re.search(rf"^  {name} +{re.escape(info.summary)}$", out, re.MULTILINE), name


def test_listing_the_commands_imports_none_of_them() -> None:
    probe = (
        "import sys; from reconciler.cli import main; code = main(['--help']); "
        "print(code, sorted(set(m for m in sys.modules if m.startswith('reconciler.cli.'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    last = done.stdout.strip().splitlines()[-1]
    loaded = {m.rsplit(".", 1)[1] for m in re.findall(r"'([\w.]+)'", last)}
    assert last.startswith("0 ") and loaded and not loaded & set(COMMANDS), last


def test_unknown_and_missing_commands_are_usage_errors() -> None:
    code, _, err = run("frobnicate")
    assert code == 2 and "invalid choice: 'frobnicate'" in err
    code, _, err = run()
    assert code == 2 and "required: COMMAND" in err


def test_a_bad_value_in_the_environment_is_a_usage_error_not_a_traceback() -> None:
    code, _, err = run("run", env={"OVEN_REPO": "/x", "OVEN_INTERVAL": "soon"})
    assert code == 2 and "argument --interval: invalid float value: 'soon'" in err
    code, _, err = run("validate", ".", env={"OVEN_LOG_LEVEL": "loud"})
    assert code == 2 and "not a log level: 'loud'" in err


def test_version_prints_to_the_context() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("oven ")
