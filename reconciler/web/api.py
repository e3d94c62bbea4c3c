"""The read-only JSON API under ``/api/v1/`` plus the probes ``/healthz`` and ``/readyz``.

Every answer comes from one snapshot taken for the request, so a response is always
internally consistent. Lists leave out run log tails (fetch one run for its log).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSON
from starlette.routing import BaseRoute, Route

from reconciler.clock import iso
from reconciler.status.view import ReadyCheck, SnapshotSource
from reconciler.web import queries
from reconciler.web.http_errors import ApiError, take_snapshot


class JSONResponse(_StarletteJSON):
    """JSON that tolerates datetimes (or other objects) in a snapshot by writing them as text."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=_plain).encode("utf-8")


def _plain(value: Any) -> str:
    return iso(value) or "" if isinstance(value, datetime) else str(value)


class Api:
    """Endpoint functions bound to one snapshot source."""

    def __init__(self, source: SnapshotSource, ready: ReadyCheck | None) -> None:
        self.source = source
        self.ready = ready

    async def jobs(self, request: Request) -> JSONResponse:
        jobs = queries.sorted_jobs(take_snapshot(self.source))
        return JSONResponse({"jobs": jobs, "count": len(jobs)})

    async def job(self, request: Request) -> JSONResponse:
        snapshot = take_snapshot(self.source)
        job_id = request.path_params["job_id"]
        if job_id not in snapshot.jobs:
            raise ApiError(404, f"no job {job_id!r}", hint="GET /api/v1/jobs lists the job ids")
        return JSONResponse({"job_id": job_id, **snapshot.jobs[job_id]})

    async def runs(self, request: Request) -> JSONResponse:
        try:
            query = queries.parse_run_query(request.query_params)
        except queries.QueryError as exc:
            raise ApiError(400, exc.message, exc.hint) from exc
        runs = queries.select_runs(take_snapshot(self.source), query)
        return JSONResponse({"runs": [queries.without_log(r) for r in runs], "count": len(runs)})

    async def run(self, request: Request) -> JSONResponse:
        snapshot = take_snapshot(self.source)
        run_id = request.path_params["run_id"]
        if run_id not in snapshot.runs:
            raise ApiError(404, f"no run {run_id!r}", hint="GET /api/v1/runs lists recent runs")
        return JSONResponse(snapshot.runs[run_id])

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse(queries.health(take_snapshot(self.source)))

    async def snapshot(self, request: Request) -> JSONResponse:
        """What the overview page shows: reconciler status, health counts and every job."""
        snapshot = take_snapshot(self.source)
        return JSONResponse(
            {
                "reconciler": snapshot.reconciler,
                "health": queries.health(snapshot),
                "jobs": queries.sorted_jobs(snapshot),
                "current_stages": queries.current_stages(snapshot),
                "active_started": queries.active_started(snapshot),
                "jobs_health": queries.jobs_health(snapshot),
            }
        )

    async def healthz(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> JSONResponse:
        """503 on a standby, while the ``ready`` check says no, and whenever Ready is False."""
        standby = queries.standby_info(take_snapshot(self.source))
        if standby is not None:  # a load balancer sends traffic to the leader only
            return JSONResponse({"status": "standby", **standby}, status_code=503)
        try:
            ready = self.ready is None or bool(self.ready())
            why = queries.not_ready(self.source())
        except Exception as exc:  # a failing check means "not ready", never a crash
            return JSONResponse({"status": "not ready", "error": str(exc)}, status_code=503)
        if ready and why is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready", **(why or {})}, status_code=503)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v1/jobs", self.jobs, methods=["GET"]),
            Route("/api/v1/jobs/{job_id}", self.job, methods=["GET"]),
            Route("/api/v1/runs", self.runs, methods=["GET"]),
            Route("/api/v1/runs/{run_id}", self.run, methods=["GET"]),
            Route("/api/v1/health", self.health, methods=["GET"]),
            Route("/api/v1/snapshot", self.snapshot, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
        ]
