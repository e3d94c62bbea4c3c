"""Every option of every command has help text, and shell completion works in a real bash."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import reconciler
from reconciler.cli import Context, main
from reconciler.cli.commands import COMMANDS, load
from reconciler.cli.parser import command_parser, top_parser
from reconciler.cli.shell import full_parser

CLONE = Path(reconciler.__file__).resolve().parent.parent


def helpless(parser: argparse.ArgumentParser) -> list[str]:
    """The options and positionals of ``parser`` (and its subparsers) without help text."""
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [f"{name} {missing}" for missing in helpless(sub)]
            continue
        if not action.help or action.help == argparse.SUPPRESS or not action.help.strip():
            found.append("/".join(action.option_strings) or action.dest)
    return found


def test_every_option_of_every_command_has_help() -> None:
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert helpless(top_parser(ctx)) == []
    for name in COMMANDS:
        assert helpless(command_parser(name, load(name), ctx)) == [], name
    assert helpless(full_parser({})) == []


def test_the_help_check_finds_an_option_without_help() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--loud", action="store_true", help="shout")
    sub = parser.add_subparsers(help="commands").add_parser("go")
    sub.add_argument("target")
    assert helpless(parser) == ["--quiet", "go target"]


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_prints_the_script_for_the_shell(shell: str) -> None:
    out = io.StringIO()
    assert main(["completion", shell], Context(stdout=out, stderr=io.StringIO())) == 0
    script = out.getvalue()
    assert "_python_argcomplete" in script and "oven" in script
    if shell == "bash":
        subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    else:
        assert script.startswith("#compdef oven")
    out = io.StringIO()
    assert main(["completion", shell, "--prog", "ov"], Context(stdout=out)) == 0
    assert "-F _python_argcomplete ov\n" in out.getvalue() and "oven" not in out.getvalue()


def complete(tmp_path: Path, line: str, **env: str) -> list[str]:
    """What a real bash offers for ``line`` (the cursor at its end), ``oven`` on PATH."""
    oven = tmp_path / "bin" / "oven"
    oven.parent.mkdir(exist_ok=True)
    oven.write_text(f'#!/bin/sh\nexec {sys.executable} -m reconciler "$@"\n')
    oven.chmod(0o755)
    words = line.split(" ")
    script = (
        "source <(oven completion bash)\n"
        f"COMP_LINE='{line}'; COMP_POINT={len(line)}; COMP_WORDS=({' '.join(words)} '');\n"
        f"COMP_CWORD={len(words) - 1}\n"
        f"_python_argcomplete oven '{words[-1]}' '{words[-2]}'\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    path = f"{oven.parent}:{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(CLONE), **env}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    return [word.strip() for word in done.stdout.splitlines() if word.strip()]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_commands_kinds_and_options(tmp_path: Path) -> None:
    assert complete(tmp_path, "oven ge") == ["get"]
    assert {"jobs", "runs", "--output", "--server"} <= set(complete(tmp_path, "oven get "))
    assert complete(tmp_path, "oven get jobs --wa") == ["--watch", "--watch-times"]
    assert complete(tmp_path, "oven completion z") == ["zsh"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_the_run_ids_of_the_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for job, run, suffix in (("db", "db-20260301-020000", ".log"),
                             ("db", "db-20260302-020000", ".live"),
                             ("web", "web-m1", ".log")):  # fmt: skip
        (state / "logs" / job).mkdir(parents=True, exist_ok=True)
        (state / "logs" / job / f"{run}{suffix}").write_text("x\n")
    line = f"oven logs --state-dir {state} db"
    assert sorted(complete(tmp_path, line)) == ["db-20260301-020000", "db-20260302-020000"]
    assert complete(tmp_path, "oven logs w", OVEN_STATE_DIR=str(state)) == ["web-m1"]
