"""The read-only HTML pages: overview, job detail, run detail and manifest problems.

Each page is rendered on the server from one snapshot (so it works without scripts) and
names a JSON feed in ``<body data-feed>`` that ``static/live.js`` polls to keep it current;
the run page follows its run through server-sent events instead (``live``). The endpoints are
plain functions: Starlette renders them in its thread pool, off the event loop the
reconciler's schedule runs on.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from reconciler.status.view import Snapshot, SnapshotSource
from reconciler.web import cached, queries
from reconciler.web.fragments import JobRows
from reconciler.web.http_errors import ApiError, take_snapshot
from reconciler.web.live import LiveRuns
from reconciler.web.plot import history_plot
from reconciler.web.render import mount_base, page_body, render
from reconciler.web.timeline import stage_bars

JOB_HISTORY = 50


def pager(page: queries.JobPage, total: int) -> dict[str, Any]:
    """The overview's links to the previous and next page of jobs (query strings), and which
    jobs this page shows (1-based, inclusive)."""
    limit = page.limit or max(total, 1)
    first, last = page.offset + 1, min(total, page.offset + limit)

    def link(offset: int) -> str:
        return "?" + urlencode({"offset": offset, "limit": limit})

    shows = f"Jobs {first}–{last} of {total}" if first <= last else f"{total} jobs in all"
    return {
        "shows": shows,
        "previous": link(max(0, page.offset - limit)) if page.offset > 0 else None,
        "next": link(page.offset + limit) if page.offset + limit < total else None,
        "shown": page.offset > 0 or last < total,  # more than one page
    }


class Pages:
    """Page endpoints bound to one snapshot source and one template environment."""

    def __init__(
        self, source: SnapshotSource, env: Environment, live: LiveRuns, write_api: bool = False
    ) -> None:
        self.source = source
        self.env = env
        self.job_rows = JobRows(env)
        self.live = live  # the run's log so far, elapsed times
        self.write_api = write_api  # offer cancel and retry (the write API serves them)

    def _common(self, snapshot: Snapshot) -> dict[str, Any]:
        """What the header of every page shows: the reconciler's and the jobs' health."""
        return {
            "top": queries.reconciler_state(snapshot),
            "jobs_health": queries.jobs_health(snapshot),
            "problems": queries.problems(snapshot),
        }

    def overview(self, request: Request) -> Response:
        """The reconciler's condition and one page of jobs (``offset``, ``limit``; default
        ``queries.JOBS_PAGE``), made once per version (and per second while a run shows its
        elapsed time)."""
        snapshot = take_snapshot(self.source)
        try:
            page = queries.parse_job_page(request.query_params, default=queries.JOBS_PAGE)
        except queries.QueryError as exc:
            raise ApiError(400, exc.message, hint=exc.hint or "for example /?offset=100") from exc
        started, now = queries.active_started(snapshot), self.live.clock.now()
        base = mount_base(request)
        second = int(now.timestamp()) if started else None  # elapsed times are in the page
        key = f"overview {base} {page.key} {second}"

        def make() -> tuple[bytes, str]:
            every, current = queries.sorted_jobs(snapshot), queries.current_stages(snapshot)
            jobs = page.of(every)
            feed = "/api/v1/snapshot?" + urlencode({"offset": page.offset, "limit": page.limit})
            return page_body(
                self.env, base, "overview.html", page="overview", feed=feed,
                jobs=jobs, jobs_total=len(every), pager=pager(page, len(every)),
                health=queries.health(snapshot), reconciler=snapshot.reconciler,
                current=current, started=started, now=now,
                job_rows=self.job_rows.rows(snapshot, jobs, current, base, started, now),
                **self._common(snapshot),
            )

        return cached.answer(request, cached.body(snapshot, key, make))

    def job(self, request: Request) -> Response:
        """One job and its newest runs, made once per version and job."""
        snapshot = take_snapshot(self.source)
        job_id = request.path_params["job_id"]
        if job_id not in snapshot.jobs:
            raise ApiError(404, f"No job with id “{job_id}”.", hint="It may have been removed.")
        base = mount_base(request)

        def make() -> tuple[bytes, str]:
            query = queries.RunQuery(job=job_id, limit=JOB_HISTORY)
            runs = queries.job_runs(snapshot, query)
            return page_body(
                self.env, base, "job.html", page="job", feed=f"/api/v1/jobs/{quote(job_id)}",
                job={"job_id": job_id, **snapshot.jobs[job_id]}, runs=runs,
                history=JOB_HISTORY, plot=history_plot(runs), **self._common(snapshot),
            )

        return cached.answer(request, cached.body(snapshot, f"job {base} {job_id}", make))

    def run(self, request: Request) -> HTMLResponse:
        snapshot = take_snapshot(self.source)
        run_id = request.path_params["run_id"]
        run = queries.find_run(snapshot, run_id)
        if run is None:
            raise ApiError(404, f"No run with id “{run_id}”.", hint="Old runs are pruned.")
        log_text, log_offset, log_file = self.live.page_log(run)
        return render(
            self.env, request, "run.html", page="run", feed=f"/api/v1/runs/{quote(run_id)}",
            run=run, job=snapshot.jobs.get(str(run.get("job_id"))), stages=stage_bars(run),
            current_stage=queries.current_stage(run),
            pr_link=queries.safe_link((run.get("pull_request") or {}).get("url")),
            log_text=log_text, log_offset=log_offset, log_file=log_file,
            events=f"/runs/{quote(run_id)}/events", elapsed=self.live.elapsed(run),
            write_api=self.write_api, **self._common(snapshot),
        )

    def problems(self, request: Request) -> Response:
        snapshot = take_snapshot(self.source)
        base = mount_base(request)

        def make() -> tuple[bytes, str]:
            return page_body(
                self.env, base, "problems.html", page="problems", feed="/api/v1/snapshot?limit=1",
                reconciler=snapshot.reconciler, **self._common(snapshot),
            )

        return cached.answer(request, cached.body(snapshot, f"problems {base}", make))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.overview, methods=["GET"]),
            Route("/jobs/{job_id}", self.job, methods=["GET"]),
            Route("/runs/{run_id}", self.run, methods=["GET"]),
            Route("/problems", self.problems, methods=["GET"]),
        ]
