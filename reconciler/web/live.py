"""A run's log as it is written, and the run page's event stream.

``GET /api/v1/runs/{id}/log?offset=N`` answers the log's bytes from ``offset`` as text/plain
(at most ``logfiles.READ_CHUNK``) with ``X-Oven-Log-Offset`` (where the next read starts) and
``X-Oven-Log-Final`` (``1`` once nothing will be added: the saved log is read to its end, or
the run is over and has no log). ``oven logs -f`` and the run page read the same files
through ``logfiles.read_log``: the live ``<run>.live`` while the run runs, then ``<run>.log``.

``GET /runs/{id}/events?offset=N`` is a stream of server-sent events for the run page:
``log`` (``{"text", "offset"}``, new log text; its ``id`` is the byte offset, so a reconnecting
``EventSource`` resumes with ``Last-Event-ID``), ``run`` (the run record without its log tail,
with ``elapsed_s`` and ``current_stage``, sent when it changes), ``gone`` when the run left the
read model (the stream goes on and sends ``run`` if it comes back) and ``end`` once the run is
over and its log final. A stream ends after ``STREAM_SECONDS`` and the browser reconnects, so
a stream never outlives a server's shutdown by long.

Without a state dir (tests, embedding) the log is the run record's ``log_tail``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from reconciler.clock import Clock
from reconciler.executors.logfiles import LogChunk, read_log
from reconciler.model import FINAL_STATUSES
from reconciler.status.view import SnapshotSource
from reconciler.web import queries
from reconciler.web.http_errors import ApiError, take_snapshot

POLL_SECONDS = 0.5  # how often a stream looks for new log text and a changed run
STREAM_SECONDS = 300.0  # a stream ends after this; EventSource reconnects where it left off
PAGE_LOG_BYTES = 1024 * 1024  # the run page shows at most this much of a log without script

Reader = Callable[[str, str, int], LogChunk]
GONE: dict[str, Any] = {"gone": True}  # the last view sent was the "gone" event


class LiveRuns:
    """The log endpoint and the event stream over one snapshot source and state dir."""

    def __init__(self, source: SnapshotSource, state_dir: Path | None, clock: Clock) -> None:
        self.source, self.state_dir, self.clock = source, state_dir, clock

    def read(self, run: dict[str, Any], offset: int) -> LogChunk:
        """The run's log from ``offset``; final also when the run is over and has no log."""
        over = run.get("status") in FINAL_STATUSES
        if self.state_dir is None:
            data = str(run.get("log_tail") or "").encode()
            start = min(max(0, offset), len(data))
            return LogChunk(data[start:], len(data), over)
        chunk = read_log(self.state_dir, str(run["job_id"]), str(run["run_id"]), offset)
        if not chunk.final and over and not chunk.data and not self._has_log(run):
            return LogChunk(b"", chunk.offset, True)  # it never ran, or its log is gone
        return chunk

    def page_log(self, run: dict[str, Any]) -> tuple[str, int, bool]:
        """For the page without script: the log so far (its last ``PAGE_LOG_BYTES``), the
        offset after it, and whether the log came from the state dir (else the tail)."""
        if self.state_dir is None:
            tail = str(run.get("log_tail") or "")
            return tail, len(tail.encode()), False
        data, offset = b"", 0
        while True:
            chunk = self.read(run, offset)
            data, offset = (data + chunk.data)[-PAGE_LOG_BYTES:], chunk.offset
            if chunk.final or not chunk.data:
                break
        text = data.decode("utf-8", "replace")
        if offset > len(data):
            text = f"[… the first {offset - len(data)} bytes are not shown here]\n" + text
        return text, offset, True

    def run_view(self, run: dict[str, Any]) -> dict[str, Any]:
        """The run for the page's stream, with elapsed time and current stage; without its log
        tail when the log comes as ``log`` events."""
        view = queries.without_log(run) if self.state_dir is not None else dict(run)
        view["current_stage"] = queries.current_stage(run)
        view["elapsed_s"] = self.elapsed(run)
        return view

    def elapsed(self, run: dict[str, Any]) -> float | None:
        started = queries.parse_time(run.get("started_at"))
        if started is None:
            return None
        ended = queries.parse_time(run.get("finished_at")) or self.clock.now()
        return round(max(0.0, (ended - started).total_seconds()), 1)

    # -- endpoints -------------------------------------------------------------------------

    async def log(self, request: Request) -> Response:
        run = self._run(request)
        offset = _offset(request.query_params.get("offset", "0"), "offset")
        chunk = await asyncio.to_thread(self.read, run, offset)
        headers = {
            "X-Oven-Log-Offset": str(chunk.offset),
            "X-Oven-Log-Final": str(int(chunk.final)),
        }
        return Response(chunk.data, media_type="text/plain; charset=utf-8", headers=headers)

    async def events(self, request: Request) -> Response:
        run = self._run(request)
        if request.method == "HEAD":  # headers only: never hold a HEAD open for minutes
            return Response(media_type="text/event-stream")
        resume = request.headers.get("last-event-id") or request.query_params.get("offset", "0")
        offset = _offset(resume, "offset")
        stream = self._stream(str(run["run_id"]), offset, request)
        headers = {"X-Accel-Buffering": "no"}  # a proxy in front must not hold events back
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v1/runs/{run_id}/log", self.log, methods=["GET"]),
            Route("/runs/{run_id}/events", self.events, methods=["GET"]),
        ]

    # -- helpers ---------------------------------------------------------------------------

    def _run(self, request: Request) -> dict[str, Any]:
        run_id = request.path_params["run_id"]
        run = take_snapshot(self.source).runs.get(run_id)
        if run is None:
            raise ApiError(404, f"no run {run_id!r}", hint="GET /api/v1/runs lists recent runs")
        return run

    async def _stream(self, run_id: str, offset: int, request: Request) -> AsyncIterator[str]:
        yield f"retry: {int(POLL_SECONDS * 2000)}\n\n"
        last_view: dict[str, Any] | None = None
        ends = asyncio.get_running_loop().time() + STREAM_SECONDS
        while asyncio.get_running_loop().time() < ends and not await request.is_disconnected():
            run = take_snapshot(self.source).runs.get(run_id)
            if run is None:  # pruned, or a read model being rebuilt: say so, and look again
                if last_view is not GONE:
                    yield _event("gone", {"run_id": run_id})
                    last_view = GONE
                await asyncio.sleep(POLL_SECONDS)
                continue
            chunk = await asyncio.to_thread(self.read, run, offset)
            text, used = _decodable(chunk.data, chunk.final) if self.state_dir else ("", 0)
            if text:
                offset += used
                yield _event("log", {"text": text, "offset": offset}, event_id=offset)
            view = self.run_view(run)
            if _changed(last_view, view):
                yield _event("run", view)
                last_view = view
            log_done = self.state_dir is None or (chunk.final and offset >= chunk.offset)
            if log_done and run.get("status") in FINAL_STATUSES:
                yield _event("end", {"status": run.get("status")})
                return
            await asyncio.sleep(0 if used < len(chunk.data) else POLL_SECONDS)

    def _has_log(self, run: dict[str, Any]) -> bool:
        assert self.state_dir is not None
        folder = self.state_dir / "logs" / str(run["job_id"])
        name = str(run["run_id"])
        return (folder / f"{name}.log").exists() or (folder / f"{name}.live").exists()


def _changed(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """The run changed in more than its elapsed time (sent once per change, not per poll)."""
    if before is None:
        return True
    return {k: v for k, v in before.items() if k != "elapsed_s"} != {
        k: v for k, v in after.items() if k != "elapsed_s"
    }


def _decodable(data: bytes, final: bool) -> tuple[str, int]:
    """The text of ``data`` up to its last whole UTF-8 character, and how many bytes that is."""
    for cut in range(0, 4 if not final else 1):
        try:
            return data[: len(data) - cut].decode("utf-8"), len(data) - cut
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace"), len(data)


def _event(kind: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _offset(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name}={text!r} is not a whole number", "for example 0") from None
    if value < 0:
        raise ApiError(400, f"{name} must be 0 or more, got {value}", "for example 0")
    return value


__all__ = ["LiveRuns"]
