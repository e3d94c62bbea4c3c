"""``oven schema [job|oven]``: the JSON Schema of a job manifest or of oven.yaml, self-contained.

The schemas in ``schema/`` are the validator's own. ``oven.schema.json`` refers to the job
schema's ``$defs`` by its ``$id``, which editors cannot resolve offline; the printed form copies
those definitions in, so each file stands alone (``oven init`` writes these forms).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option

KINDS = ("job", "oven")
OUTPUT = Option("--output", "write the schema to FILE instead of stdout", type=Path, metavar="FILE")
JOB_ID = "urn:agent-oven:schema:job"


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument(
        "kind",
        nargs="?",
        choices=KINDS,
        default="job",
        help="job: a manifest under jobs/; oven: the repo's oven.yaml (default: job)",
    )
    options.add(parser, env, OUTPUT)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    if args.output is None:
        ctx.stdout.write(schema_text(args.kind))
        return 0
    args.output.write_text(schema_text(args.kind))
    ctx.out(f"wrote {args.output}")
    return 0


def schema_text(kind: str) -> str:
    """The schema ``kind`` (job or oven) as JSON text that refers to nothing outside itself."""
    return json.dumps(standalone(kind), indent=2, ensure_ascii=False) + "\n"


def standalone(kind: str) -> dict[str, Any]:
    from reconciler.manifests.schemas import JOB_SCHEMA, OVEN_SCHEMA, SCHEMA_DIR

    job = json.loads((SCHEMA_DIR / JOB_SCHEMA).read_text())
    if kind == "job":
        return dict(job)
    oven: dict[str, Any] = json.loads((SCHEMA_DIR / OVEN_SCHEMA).read_text())
    text = json.dumps(oven).replace(f'"{JOB_ID}#/$defs/', '"#/$defs/')
    linked: dict[str, Any] = json.loads(text)
    linked["$defs"] = {**job.get("$defs", {}), **linked.get("$defs", {})}
    return linked
