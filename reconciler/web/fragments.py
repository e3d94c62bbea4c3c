"""Pieces of pages and API answers cached per job while the job's summary stays the same.

A read-model version is published every tick, but with 1k jobs only a few summaries change
between two of them: the builder hands unchanged summaries on as the same objects
(``status.view``). Rendering 1k table rows (about 0.3 ms each) or encoding 1k summaries as JSON
for every request would cost more than the 50 ms a page may take, so each job's row and JSON
are made once per summary object and reused until it changes. Safe from any thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from reconciler.status.view import Snapshot

Entry = tuple[object, Any, Any]  # (summary object, what else the piece depends on, the piece)


class JobPieces:
    """Per-job pieces (rendered rows, JSON) keyed by the summary object they were made from."""

    def __init__(self) -> None:
        self._pieces: dict[tuple[str, str], Entry] = {}

    def get(
        self, kind: str, job_id: str, summary: object, extra: Any, make: Callable[[], Any]
    ) -> Any:
        key = (kind, job_id)
        found = self._pieces.get(key)
        if found is not None and found[0] is summary and found[1] == extra:
            return found[2]
        piece = make()
        self._pieces[key] = (summary, extra, piece)
        return piece


class JobRows:
    """The overview's job rows (``_macros.job_row``), rendered once per summary and stages."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.pieces = JobPieces()
        self._macros: dict[str, Any] = {}

    def rows(
        self,
        snapshot: Snapshot,
        jobs: list[dict[str, Any]],
        current: Mapping[str, str],
        base: str,
        started: Mapping[str, str] | None = None,
        now: Any = None,
    ) -> list[Markup]:
        """One row a job; a job with a started run shows its elapsed time, so its row is
        rendered afresh (the others come from the cache)."""
        macros = self._macros.get(base)
        if macros is None:
            macros = self._macros[base] = self.env.get_template("_macros.html").make_module(
                {"base": base}
            )
        job_row = getattr(macros, "job_row")  # noqa: B009
        rows = []
        for job in jobs:
            job_id = job["job_id"]
            active = job.get("active_runs") or ()
            stages = tuple((r, current[r]) for r in active if r in current)
            running = {r: started[r] for r in active if started and r in started}
            if running:
                rows.append(Markup(job_row(job, dict(stages), running, now)))
                continue
            render = partial(job_row, job, dict(stages))
            row = self.pieces.get("row", job_id, snapshot.jobs.get(job_id), (base, stages), render)
            rows.append(Markup(row))
        return rows


class JobsJson:
    """Every job as JSON text (``[...]``), each job's part encoded once per summary."""

    def __init__(self, default: Callable[[Any], Any]) -> None:
        self.pieces = JobPieces()
        self.default = default  # for values JSON cannot hold (datetimes)

    def array(self, snapshot: Snapshot, jobs: list[dict[str, Any]]) -> str:
        parts = [
            self.pieces.get(
                "json",
                job["job_id"],
                snapshot.jobs.get(job["job_id"]),
                None,
                partial(json.dumps, job, ensure_ascii=False, default=self.default),
            )
            for job in jobs
        ]
        return "[" + ",".join(parts) + "]"
