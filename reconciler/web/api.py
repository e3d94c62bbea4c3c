"""The read-only JSON API under ``/api/v1/`` plus the probes ``/healthz`` and ``/readyz``.

Every answer comes from one snapshot taken for the request, so a response is always
internally consistent. Lists leave out run log tails (fetch one run for its log); ``offset``
pages through them. Endpoints that do real work are plain functions, which Starlette runs in
its thread pool: the event loop (and with it the reconciler's schedule) never waits on them.
The jobs, the overview's feed and health are made once and served as bytes with an ETag and
gzip (``web.cached``).
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
from reconciler.web import cached, queries
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


def _json_bytes(text: str) -> tuple[bytes, str]:
    return text.encode("utf-8"), "application/json"


class Api:
    """Endpoint functions bound to one snapshot source."""

    def __init__(self, source: SnapshotSource, ready: ReadyCheck | None) -> None:
        self.source = source
        self.ready = ready
        self.jobs_json = JobsJson(_plain)
        self.kept = cached.Keep()

    def _page(self, request: Request) -> queries.JobPage:
        try:
            return queries.parse_job_page(request.query_params, default=None)
        except queries.QueryError as exc:
            raise ApiError(400, exc.message, exc.hint) from exc

    def jobs(self, request: Request) -> Response:
        """Every job (``offset``/``limit`` page through them), made from the summaries alone
        and kept until one of them changes."""
        snapshot, page = take_snapshot(self.source), self._page(request)

        def make() -> cached.Body:
            every = queries.sorted_jobs(snapshot)
            jobs = page.of(every)
            array = self.jobs_json.array(snapshot, jobs)
            text = f'{{"jobs":{array},"count":{len(jobs)},"total":{len(every)}}}'
            return cached.Body(*_json_bytes(text))

        # made from the summaries alone: kept until one of them changes, across versions
        found = self.kept.get(f"jobs {page.key}", (snapshot.jobs,), make)
        return cached.answer(request, found)

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

    def health(self, request: Request) -> Response:
        snapshot = take_snapshot(self.source)
        make = lambda: _json_bytes(_json(queries.health(snapshot)))  # noqa: E731
        return cached.answer(request, cached.body(snapshot, "health", make))

    def snapshot(self, request: Request) -> Response:
        """What the overview page shows: reconciler status, health counts and the jobs (all,
        or the page ``offset``/``limit`` asks for), made once per version."""
        snapshot, page = take_snapshot(self.source), self._page(request)

        def make() -> tuple[bytes, str]:
            every = queries.sorted_jobs(snapshot)
            jobs = self.kept.get(  # the summaries' part, kept across versions
                f"array {page.key}",
                (snapshot.jobs,),
                lambda: self.jobs_json.array(snapshot, page.of(every)),
            )
            return _json_bytes(
                f'{{"reconciler":{_json(snapshot.reconciler)},'
                f'"health":{_json(queries.health(snapshot))},"jobs":{jobs},'
                f'"jobs_total":{len(every)},"offset":{page.offset},'
                f'"current_stages":{_json(queries.current_stages(snapshot))},'
                f'"active_started":{_json(queries.active_started(snapshot))},'
                f'"jobs_health":{_json(queries.jobs_health(snapshot))}}}'
            )

        return cached.answer(request, cached.body(snapshot, f"snapshot {page.key}", make))

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
