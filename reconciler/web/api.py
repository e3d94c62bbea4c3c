"""The read-only JSON API under ``/api/v1/`` plus the probes ``/healthz`` and ``/readyz``.

Every answer comes from one snapshot taken for the request, so a response is always
internally consistent. Lists leave out run log tails (fetch one run for its log); ``offset``
pages through them. Endpoints that do real work are plain functions, which Starlette runs in
its thread pool: the event loop (and with it the reconciler's schedule) never waits on them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSON
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from reconciler.clock import iso
from reconciler.status.view import ReadyCheck, SnapshotSource
from reconciler.web import queries
from reconciler.web.fragments import JobsJson
from reconciler.web.http_errors import ApiError, take_snapshot


class JSONResponse(_StarletteJSON):
    """JSON that tolerates datetimes (or other objects) in a snapshot by writing them as text."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=_plain).encode("utf-8")


def _plain(value: Any) -> str:
    return iso(value) or "" if isinstance(value, datetime) else str(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_plain)


def _raw_json(text: str) -> Response:
    return Response(text.encode("utf-8"), media_type="application/json")


class Api:
    """Endpoint functions bound to one snapshot source."""

    def __init__(self, source: SnapshotSource, ready: ReadyCheck | None) -> None:
        self.source = source
        self.ready = ready
        self.jobs_json = JobsJson(_plain)

    def jobs(self, request: Request) -> Response:
        snapshot = take_snapshot(self.source)
        jobs = queries.sorted_jobs(snapshot)
        array = self.jobs_json.array(snapshot, jobs)
        return _raw_json(f'{{"jobs":{array},"count":{len(jobs)}}}')

    def job(self, request: Request) -> JSONResponse:
        snapshot = take_snapshot(self.source)
        job_id = request.path_params["job_id"]
        if job_id not in snapshot.jobs:
            raise ApiError(404, f"no job {job_id!r}", hint="GET /api/v1/jobs lists the job ids")
        return JSONResponse({"job_id": job_id, **snapshot.jobs[job_id]})

    def runs(self, request: Request) -> JSONResponse:
        try:
            query = queries.parse_run_query(request.query_params)
        except queries.QueryError as exc:
            raise ApiError(400, exc.message, exc.hint) from exc
        runs = queries.job_runs(take_snapshot(self.source), query)
        return JSONResponse({"runs": [queries.without_log(r) for r in runs], "count": len(runs)})

    def run(self, request: Request) -> JSONResponse:
        run_id = request.path_params["run_id"]
        run = queries.find_run(take_snapshot(self.source), run_id)
        if run is None:
            raise ApiError(404, f"no run {run_id!r}", hint="GET /api/v1/runs lists recent runs")
        return JSONResponse(run)

    def health(self, request: Request) -> JSONResponse:
        return JSONResponse(queries.health(take_snapshot(self.source)))

    def snapshot(self, request: Request) -> Response:
        """What the overview page shows: reconciler status, health counts and every job."""
        snapshot = take_snapshot(self.source)
        jobs = self.jobs_json.array(snapshot, queries.sorted_jobs(snapshot))
        return _raw_json(
            f'{{"reconciler":{_json(snapshot.reconciler)},'
            f'"health":{_json(queries.health(snapshot))},"jobs":{jobs},'
            f'"current_stages":{_json(queries.current_stages(snapshot))},'
            f'"active_started":{_json(queries.active_started(snapshot))},'
            f'"jobs_health":{_json(queries.jobs_health(snapshot))}}}'
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
