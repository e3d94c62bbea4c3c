"""``oven get jobs|runs [-o table|json|yaml] [--watch]``: lists, kubectl-shaped.

Read from the status branch of ``--repo`` or from a daemon's API (``--server``); the table is
the overview's columns, JSON and YAML are the records as the API answers them. ``--watch``
reads again every ``--interval`` seconds and prints the list again when it changed.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from reconciler.cli import options, readmodel
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option
from reconciler.status.view import Snapshot
from reconciler.web import queries

OUTPUTS = ("table", "json", "yaml")

OUTPUT = Option("--output", "table, json or yaml", default="table", metavar="FORMAT")
JOB = Option("--job", "runs: only the runs of this job", metavar="JOB")
LIMIT = Option("--limit", "runs: at most this many, newest first", default="20", type=int,
               metavar="N")  # fmt: skip
WATCH = Option("--watch", "read again every --interval seconds and print the list again when "
               "it changed, until Ctrl-C", switch=True)  # fmt: skip
INTERVAL = Option("--interval", "seconds between reads with --watch", default="2", type=float,
                  metavar="SECONDS")  # fmt: skip
WATCH_TIMES = Option("--watch-times", "with --watch: stop after this many reads (for scripts)",
                     type=int, metavar="N", shown="until Ctrl-C")  # fmt: skip


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument(
        "kind", choices=("jobs", "runs"), metavar="jobs|runs", help="what to list: jobs or runs"
    )
    parser.add_argument("-o", "--output", choices=OUTPUTS, default="table", help=OUTPUT.describe())
    readmodel.source_arguments(parser, env)
    options.add(parser, env, JOB, LIMIT, WATCH, INTERVAL, WATCH_TIMES)


def execute(args: argparse.Namespace, ctx: Context) -> int:
    shown: Any = None
    reads = 0
    while True:
        rows = _rows(args, readmodel.read_snapshot(args))
        reads += 1
        if rows != shown:
            if shown is not None and args.output == "table":
                ctx.out("")
            _print(args, ctx, rows)
            shown = rows
        if not args.watch or (args.watch_times is not None and reads >= args.watch_times):
            return 0
        time.sleep(args.interval)


def _rows(args: argparse.Namespace, snapshot: Snapshot) -> list[dict[str, Any]]:
    if args.kind == "jobs":
        return queries.sorted_jobs(snapshot)
    query = queries.RunQuery(job=args.job, limit=max(1, args.limit))
    return [queries.without_log(run) for run in queries.select_runs(snapshot, query)]


def _print(args: argparse.Namespace, ctx: Context, rows: list[dict[str, Any]]) -> None:
    if args.output == "json":
        ctx.out(json.dumps({args.kind: rows}, indent=2, sort_keys=True, default=str))
        return
    if args.output == "yaml":
        import yaml

        ctx.out(yaml.safe_dump({args.kind: json.loads(json.dumps(rows, default=str))}).rstrip())
        return
    table = jobs_table(rows) if args.kind == "jobs" else runs_table(rows)
    readmodel.show(ctx, table)


def jobs_table(jobs: list[dict[str, Any]]) -> Any:
    table = _table("JOB", "SCHEDULE", "LAST", "NEXT RUN", "FAILS", "SUCCESS", "ACTIVE")
    for job in jobs:
        last = (job.get("last_run") or {}).get("status") or "-"
        rate = job.get("success_rate")
        fails = int(job.get("consecutive_failures") or 0)
        table.add_row(
            _text(job.get("job_id")) + ("" if job.get("enabled", True) else " [dim](disabled)[/]"),
            _text(job.get("schedule")),
            readmodel.styled(str(last)),
            _text(job.get("next_run")),
            f"[red]{fails}[/]" if fails else "0",
            "-" if rate is None else f"{float(rate):.0%}",
            str(len(job.get("active_runs") or ())),
        )
    return table


def runs_table(runs: list[dict[str, Any]]) -> Any:
    table = _table("RUN", "JOB", "STATUS", "TRIGGER", "STARTED", "DURATION", "EXIT")
    for run in runs:
        table.add_row(
            _text(run.get("run_id")),
            _text(run.get("job_id")),
            readmodel.styled(str(run.get("status") or "-")),
            _text(run.get("trigger")),
            _text(run.get("started_at")),
            _duration(run.get("duration_s")),
            _text(run.get("exit_code")),
        )
    return table


def _table(*columns: str) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    for column in columns:  # only a schedule in words may wrap on a narrow terminal
        table.add_column(column, no_wrap=column != "SCHEDULE", overflow="fold")
    return table


def _text(value: Any) -> str:
    from rich.markup import escape

    return "-" if value is None or value == "" else escape(str(value))


def _duration(value: Any) -> str:
    if value is None:
        return "-"
    seconds = int(float(value))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
