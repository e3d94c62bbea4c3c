"""``oven describe job ID``: one job's summary, its recent runs and its manifest problems.

Read from the status branch of ``--repo`` or a daemon's API (``--server``), like ``oven get``.
An unknown job is refused (exit 1) with the closest known id as a hint.
"""

from __future__ import annotations

import argparse
import difflib
import json
from typing import Any

from reconciler.cli import options, readmodel
from reconciler.cli.context import Context
from reconciler.cli.get import runs_table
from reconciler.cli.options import Env, Option
from reconciler.web import queries

RUNS = Option("--runs", "how many recent runs to list", default="10", type=int, metavar="N")

FIELDS = (  # (label, summary key) in the order shown
    ("Name", "name"),
    ("Type", "type"),
    ("Schedule", "schedule"),
    ("Enabled", "enabled"),
    ("Owner", "owner"),
    ("Description", "description"),
    ("Manifest", "config_path"),
    ("Next run", "next_run"),
    ("Last scheduled", "last_scheduled"),
    ("Last success", "last_success"),
    ("Consecutive failures", "consecutive_failures"),
    ("Success rate", "success_rate"),
    ("p95 duration", "p95_duration_s"),
)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument("kind", choices=("job",), metavar="job", help="what to describe: job")
    parser.add_argument("job_id", metavar="ID", help="the job id (`oven get jobs` lists them)")
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json", "yaml"),
        default="text",
        help="text, json or yaml (default: text)",
    )
    readmodel.source_arguments(parser, env)
    options.add(parser, env, RUNS)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    manifest = None
    if args.server or not args.repo:
        snapshot = readmodel.read_snapshot(args)  # the API has no manifests (yet)
    else:
        snapshot, manifest = readmodel.read_branch(args.repo, args.status_branch, args.job_id)
    job = snapshot.jobs.get(args.job_id)
    if job is None:
        ctx.err(f"error: no job {args.job_id!r}")
        close = difflib.get_close_matches(args.job_id, list(snapshot.jobs), n=1)
        ctx.err(f"hint: did you mean {close[0]}?" if close else "hint: `oven get jobs` lists them")
        return 1
    runs = queries.select_runs(snapshot, queries.RunQuery(job=args.job_id, limit=max(1, args.runs)))
    runs = [queries.without_log(run) for run in runs]
    path = job.get("config_path")
    problems = [
        p for p in snapshot.reconciler.get("problems") or [] if path and p.get("path") == path
    ]
    document = {"job": {"job_id": args.job_id, **job}, "runs": runs, "problems": problems}
    if manifest is not None:
        document["manifest"] = {"path": manifest.path, "revision": manifest.revision,
                                "text": manifest.text}  # fmt: skip
    if args.output == "json":
        ctx.json(json.loads(json.dumps(document, default=str)))
        return 0
    if args.output == "yaml":
        import yaml

        ctx.out(yaml.safe_dump(json.loads(json.dumps(document, default=str))).rstrip())
        return 0
    _print_text(ctx, args.job_id, job, runs, problems, manifest)
    return 0


def _print_text(
    ctx: Context,
    job_id: str,
    job: dict[str, Any],
    runs: list[dict[str, Any]],
    problems: list[dict[str, Any]],
    manifest: readmodel.Manifest | None,
) -> None:
    from rich.markup import escape

    lines: list[Any] = []
    lines.append(f"[bold]Job:[/] {escape(job_id)}")
    width = max(len(label) for label, _ in FIELDS) + 1
    for label, key in FIELDS:
        lines.append(f"{label + ':':<{width}} {escape(_value(key, job.get(key)))}")
    last = job.get("last_run") or {}
    status = readmodel.styled(str(last.get("status"))) if last else "-"
    lines.append(f"{'Last run:':<{width}} {escape(str(last.get('run_id', '-')))} {status}")
    active = ", ".join(job.get("active_runs") or ()) or "-"
    lines.append(f"{'Active runs:':<{width}} {escape(active)}")
    lines.append("[bold]Problems:[/]" + ("" if problems else " none"))
    for p in problems:
        lines.append(escape(f"  {p['path']}:{p['line']}: {p['field']}: {p['message']}"))
    lines.append(f"[bold]Recent runs:[/]{'' if runs else ' none'}")
    if runs:
        lines.append(runs_table(runs))
    if manifest is not None:
        lines.append(f"[bold]Manifest[/] {escape(manifest.path)} at {manifest.revision[:12]}:")
        lines += [escape(f"  {line}") for line in manifest.text.rstrip("\n").splitlines()]
    readmodel.show(ctx, *lines)


def _value(key: str, value: Any) -> str:
    if value is None or value == "":
        return "-"
    if key == "success_rate":
        return f"{float(value):.0%}"
    if key == "p95_duration_s":
        return f"{float(value):.1f}s"
    if key == "enabled":
        return "yes" if value else "no"
    return str(value)
