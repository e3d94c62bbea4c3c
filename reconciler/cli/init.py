"""``oven init [DIR]``: a new config repo with an example job, editor schemas and CI.

Writes ``oven.yaml``, ``jobs/hello.yaml``, the two JSON Schemas under ``schema/`` (each YAML
file names its schema in a ``# yaml-language-server: $schema=`` line, by a relative path, so
editors check it offline), and ``.github/workflows/oven.yml`` (validate, and the plan as a
pull-request comment). A DIR that has anything in it is refused unless ``--force``.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from reconciler import __version__
from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option
from reconciler.errors import UsageError

FORCE = Option("--force", "write into a DIR that is not empty, replacing these files", switch=True)
TEMPLATES = {  # file written -> template in reconciler/scaffold
    "oven.yaml": "oven.yaml",
    "jobs/hello.yaml": "hello.yaml",
    ".github/workflows/oven.yml": "github-workflow.yml",
}


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument(
        "dir", nargs="?", default=".", type=Path, metavar="DIR", help="where (default: .)"
    )
    options.add(parser, env, FORCE)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from reconciler.cli.schema import schema_text

    target: Path = args.dir
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is not a directory")
    if target.is_dir() and any(target.iterdir()) and not args.force:
        raise UsageError(
            f"{target} is not empty", hint="choose an empty or new directory, or add --force"
        )
    files = {name: scaffold(template) for name, template in TEMPLATES.items()}
    files["schema/job.schema.json"] = schema_text("job")
    files["schema/oven.schema.json"] = schema_text("oven")
    for name in sorted(files):
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[name])
        ctx.out(f"wrote {path}")
    ctx.out(
        f"next: cd {target} && oven validate . && git init -b main && git add -A && "
        "git commit -m 'Agent Oven config repo'"
    )
    return 0


def scaffold(template: str) -> str:
    text = (resources.files("reconciler") / "scaffold" / template).read_text()
    return text.replace("@OVEN_VERSION@", __version__)
