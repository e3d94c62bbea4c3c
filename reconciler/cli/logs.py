"""``oven logs RUN [-f]``: a run's redacted output, from the daemon's state dir or its API.

Locally the log is ``<state>/logs/<job>/<run>.log`` once the run ended, and ``<run>.live``
while it runs (``executors.logfiles.read_log``). A run id starts with its job id, and job ids
may hold hyphens, so the job is the longest prefix of the run id (cut at a hyphen) that has a
log directory. ``--server`` asks ``GET /api/v1/runs/{id}/log?offset=N`` instead, which answers
the bytes from ``offset`` with ``X-Oven-Log-Offset`` (the next offset) and ``X-Oven-Log-Final``.
``-f`` keeps reading until the log is final.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from reconciler.cli import options
from reconciler.cli.context import Context
from reconciler.cli.options import Env, Option
from reconciler.errors import UsageError

POLL_SECONDS = 0.5  # between reads while a followed log has nothing new

POLL = Option(
    "--poll",
    "seconds between reads of a followed log that has nothing new",
    default=str(POLL_SECONDS),
    type=float,
    metavar="SECONDS",
)


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    run = parser.add_argument("run", metavar="RUN", help="the run id (`oven get runs` lists them)")
    run.completer = complete_run  # type: ignore[attr-defined]  # argcomplete: runs with a log
    parser.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing the log as the run writes it, until the run ends (default: off)",
    )
    options.add(parser, env, options.STATE_DIR, options.SERVER, POLL)


Reader = Callable[[int], "tuple[bytes, int, bool]"]


def execute(args: argparse.Namespace, ctx: Context) -> int:
    read = _server_reader(args.server, args.run) if args.server else _local_reader(args)
    out = _binary(ctx.stdout)
    offset = 0
    while True:
        data, offset, final = read(offset)
        if data:
            out(data)
        if final or not args.follow:
            return 0
        if not data:
            time.sleep(args.poll)


def complete_run(prefix: str, parsed_args: argparse.Namespace, **_: object) -> list[str]:
    """Run ids with a log (finished or live) under the state dir, newest first."""
    logs = Path(getattr(parsed_args, "state_dir", None) or ".oven-state") / "logs"
    try:
        found = [p for p in logs.glob(f"*/{prefix}*") if p.suffix in (".log", ".live")]
    except OSError:
        return []
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return list(dict.fromkeys(p.stem for p in found))


def _binary(stream: TextIO) -> Callable[[bytes], None]:
    """Write bytes as they are to a real stdout, decoded to a text stream (tests)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and stream is sys.stdout:

        def write(data: bytes) -> None:
            buffer.write(data)
            buffer.flush()

        return write

    def write_text(data: bytes) -> None:
        stream.write(data.decode("utf-8", errors="replace"))
        stream.flush()

    return write_text


def _local_reader(args: argparse.Namespace) -> Reader:
    from reconciler.executors.logfiles import read_log

    state_dir: Path = args.state_dir
    if not (state_dir / "logs").is_dir():
        raise UsageError(
            f"no run logs in {state_dir}",
            hint="give the daemon's --state-dir (or OVEN_STATE_DIR), or --server URL",
        )
    job_id = _job_of(state_dir, args.run)

    def read(offset: int) -> tuple[bytes, int, bool]:
        chunk = read_log(state_dir, job_id, args.run, offset)
        return chunk.data, chunk.offset, chunk.final

    return read


def _job_of(state_dir: Path, run_id: str) -> str:
    """The job whose log directory holds ``run_id`` (a .log or a .live file)."""
    cuts = [i for i, char in enumerate(run_id) if char == "-"]
    for cut in reversed(cuts):
        job_dir = state_dir / "logs" / run_id[:cut]
        if job_dir.is_dir() and any(
            (job_dir / f"{run_id}{suffix}").is_file() for suffix in (".log", ".live")
        ):
            return run_id[:cut]
    raise UsageError(
        f"no log of run {run_id!r} in {state_dir / 'logs'}",
        hint="`oven get runs` lists the run ids; a run that has not started has no log yet",
    )


def _server_reader(server: str, run_id: str) -> Reader:
    from reconciler.cli.readmodel import quoted, server_get

    def read(offset: int) -> tuple[bytes, int, bool]:
        path = f"/api/v1/runs/{quoted(run_id)}/log?offset={offset}"
        response = server_get(server, path)
        if response.status_code == 404:
            raise UsageError(
                f"{server} has no log of run {run_id!r}",
                hint="`oven get runs --server URL` lists the run ids",
            )
        if response.status_code != 200:
            raise UsageError(f"{server}{path} answered {response.status_code}")
        try:
            next_offset = int(response.headers.get("X-Oven-Log-Offset", ""))
        except ValueError:
            next_offset = offset + len(response.content)
        final = response.headers.get("X-Oven-Log-Final", "1") == "1"
        return response.content, next_offset, final

    return read
