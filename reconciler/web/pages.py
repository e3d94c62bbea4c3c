"""The read-only HTML pages: overview, job detail, run detail and manifest problems.

Each page is rendered on the server from one snapshot (so it works without scripts) and
names a JSON feed in ``<body data-feed>`` that ``static/live.js`` polls to keep it current.
The endpoints are plain functions: Starlette renders them in its thread pool, off the event
loop the reconciler's schedule runs on.
"""

from __future__ import annotations

from urllib.parse import quote

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from reconciler.status.view import SnapshotSource
from reconciler.web import queries
from reconciler.web.fragments import JobRows
from reconciler.web.http_errors import ApiError, take_snapshot
from reconciler.web.render import render
from reconciler.web.timeline import stage_bars

JOB_HISTORY = 50


class Pages:
    """Page endpoints bound to one snapshot source and one template environment."""

    def __init__(self, source: SnapshotSource, env: Environment) -> None:
        self.source = source
        self.env = env
        self.job_rows = JobRows(env)

    def overview(self, request: Request) -> HTMLResponse:
        snapshot = take_snapshot(self.source)
        jobs, current = queries.sorted_jobs(snapshot), queries.current_stages(snapshot)
        base = str(request.scope.get("root_path", "")).rstrip("/")
        return render(
            self.env, request, "overview.html", page="overview", feed="/api/v1/snapshot",
            jobs=jobs, health=queries.health(snapshot),
            reconciler=snapshot.reconciler, problems=queries.problems(snapshot),
            current=current, job_rows=self.job_rows.rows(snapshot, jobs, current, base),
        )

    def job(self, request: Request) -> HTMLResponse:
        snapshot = take_snapshot(self.source)
        job_id = request.path_params["job_id"]
        if job_id not in snapshot.jobs:
            raise ApiError(404, f"No job with id “{job_id}”.", hint="It may have been removed.")
        runs = queries.job_runs(snapshot, queries.RunQuery(job=job_id, limit=JOB_HISTORY))
        return render(
            self.env, request, "job.html", page="job", feed=f"/api/v1/jobs/{quote(job_id)}",
            job={"job_id": job_id, **snapshot.jobs[job_id]}, runs=runs, history=JOB_HISTORY,
            problems=queries.problems(snapshot),
        )

    def run(self, request: Request) -> HTMLResponse:
        snapshot = take_snapshot(self.source)
        run_id = request.path_params["run_id"]
        run = queries.find_run(snapshot, run_id)
        if run is None:
            raise ApiError(404, f"No run with id “{run_id}”.", hint="Old runs are pruned.")
        return render(
            self.env, request, "run.html", page="run", feed=f"/api/v1/runs/{quote(run_id)}",
            run=run, job=snapshot.jobs.get(str(run.get("job_id"))), stages=stage_bars(run),
            problems=queries.problems(snapshot), current_stage=queries.current_stage(run),
            pr_link=queries.safe_link((run.get("pull_request") or {}).get("url")),
        )

    def problems(self, request: Request) -> HTMLResponse:
        snapshot = take_snapshot(self.source)
        return render(
            self.env, request, "problems.html", page="problems", feed="/api/v1/snapshot",
            problems=queries.problems(snapshot), reconciler=snapshot.reconciler,
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.overview, methods=["GET"]),
            Route("/jobs/{job_id}", self.job, methods=["GET"]),
            Route("/runs/{run_id}", self.run, methods=["GET"]),
            Route("/problems", self.problems, methods=["GET"]),
        ]
