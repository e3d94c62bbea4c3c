"""Run history read from the status branch only when it is needed: a fast start at any size.

Reading and parsing every run file at start costs about a millisecond a file (47 s for 100k),
so a restart reads only what scheduling needs to be ready: ``status/reconciler.yaml``, every job
summary, the runs the summaries name as active, and each job's last run when it failed and its
summary says a retry is planned (``last_run.next_retry_at``). A job's history (its newest
``keep_runs`` files) is loaded into the book the first time it is needed: before its runs
change (its summary and the pruning need it; a bounded time per tick, the rest on the next
ticks) and before a manual or backfill request for it is served (run ids make those
idempotent only if the book knows the runs). Files of a job beyond
what the book holds are remembered by name and pruned with the job's next change.

Older runs are read on demand for the pages and API (``find``, ``for_job``), from any thread,
at the tip the ledger last read or wrote; nothing here asks the remote.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.book import RunBook
from reconciler.interfaces import Ledger
from reconciler.lease import LEASE_PATH
from reconciler.runids import RETRYABLE
from reconciler.status import StatusTree, parse_status_tree
from reconciler.status.files import JOBS_DIR, RECONCILER_PATH, RUNS_DIR, job_runs_dir, run_path
from reconciler.status.summary import newest_first

log = logging.getLogger("oven")

HYDRATE_BUDGET = 0.2  # seconds per tick spent loading job histories; the rest waits a tick
CACHED_JOBS = 64  # job histories kept for the pages (each up to the branch's files of a job)
CACHED_RUNS = 256  # runs read by id for the pages and API, kept


class RunHistory:
    """What of each job's run history the book holds, and the rest on demand."""

    def __init__(self, ledger: Ledger, keep_runs: int) -> None:
        self.ledger = ledger
        self.keep_runs = keep_runs
        self.loaded: set[str] = set()  # jobs whose newest keep_runs files are in the book
        self.stale: dict[str, tuple[str, ...]] = {}  # job -> older run ids on the branch
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._found: OrderedDict[str, dict[str, Any]] = OrderedDict()  # run id -> run

    # -- start ------------------------------------------------------------------------------
    def start(self) -> tuple[StatusTree, dict[str, bytes]]:
        """Fetch and read what a restart needs: summaries, reconciler.yaml, needed runs."""
        self.loaded.clear()
        self.stale.clear()
        self.forget_pages()
        files = self.ledger.read([RECONCILER_PATH, JOBS_DIR, LEASE_PATH])
        summaries = parse_status_tree(files)
        runs = self.ledger.read_known(sorted(_needed_runs(summaries.jobs))) if files else {}
        tree = parse_status_tree(runs)
        merged = StatusTree(
            summaries.reconciler,
            summaries.jobs,
            tree.runs,
            summaries.unreadable + tree.unreadable,
        )
        return merged, {**files, **runs}

    # -- loading a job's history into the book --------------------------------------------
    def hydrate(self, book: RunBook, job_ids: Iterable[str], budget: float | None) -> int:
        """Load the history of each job not loaded yet, within ``budget`` seconds (None: all);
        answer how many jobs are still waiting."""
        waiting = [job for job in dict.fromkeys(job_ids) if job not in self.loaded]
        started = time.perf_counter()
        for done, job_id in enumerate(waiting):
            if budget is not None and done and time.perf_counter() - started > budget:
                return len(waiting) - done
            self._hydrate(book, job_id)
        return 0

    def _hydrate(self, book: RunBook, job_id: str) -> None:
        files = self.ledger.read_known([job_runs_dir(job_id)])
        ids = sorted(_run_id(path) for path in files)
        newest = set(ids[-self.keep_runs :]) if self.keep_runs > 0 else set()
        chosen = {p: data for p, data in files.items() if _run_id(p) in newest}
        tree = parse_status_tree(chosen)
        for skipped in tree.unreadable:
            log.warning("status branch: skipped %s", skipped)
        book.load(r for r in tree.runs.values() if r.run_id not in book.runs)
        self.stale[job_id] = tuple(i for i in ids if i not in newest and i not in book.runs)
        self.loaded.add(job_id)
        with self._lock:
            self._pages.pop(job_id, None)  # the book shows this job's runs from now on

    def pruned(self, run_ids: Iterable[str]) -> None:
        """These run files are gone from the branch (a committed prune)."""
        gone = set(run_ids)
        with self._lock:
            for run_id in gone:
                self._found.pop(run_id, None)
        for job_id, stale in list(self.stale.items()):
            if gone.intersection(stale):
                self.stale[job_id] = tuple(i for i in stale if i not in gone)

    # -- on demand, for the pages and the API (any thread) --------------------------------
    def find(self, run_id: str) -> dict[str, Any] | None:
        """A run by id from the status branch; the job id is a prefix of the run id. The
        last ``CACHED_RUNS`` found are kept (a run the book does not hold has ended and does
        not change; a pruned one is forgotten, see ``pruned``)."""
        with self._lock:
            if run_id in self._found:
                self._found.move_to_end(run_id)
                return self._found[run_id]
        parts = run_id.split("-")
        paths = [run_path("-".join(parts[:n]), run_id) for n in range(1, len(parts))]
        files = self.ledger.read_known(paths)
        for path in paths:
            if path in files:
                tree = parse_status_tree({path: files[path]})
                record = tree.runs.get(run_id)
                found = record.to_dict() if record else None
                if found is not None:
                    with self._lock:
                        self._found[run_id] = found
                        while len(self._found) > CACHED_RUNS:
                            self._found.popitem(last=False)
                return found
        return None

    def for_job(self, job_id: str) -> list[dict[str, Any]]:
        """A job's runs the book does not hold, newest first: every run file of the job
        while its history is not loaded (kept for a few jobs), else none."""
        if job_id in self.loaded:
            return []
        with self._lock:
            if job_id in self._pages:
                self._pages.move_to_end(job_id)
                return self._pages[job_id]
        files = self.ledger.read_known([job_runs_dir(job_id)])
        runs = [r.to_dict() for r in newest_first(parse_status_tree(files).runs.values())]
        with self._lock:
            self._pages[job_id] = runs
            while len(self._pages) > CACHED_JOBS:
                self._pages.popitem(last=False)
        return runs

    def forget_pages(self) -> None:
        with self._lock:
            self._pages.clear()
            self._found.clear()


def _needed_runs(summaries: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Runs scheduling needs at once: active ones, and a failed last run with a retry planned."""
    paths = set()
    for job_id, summary in summaries.items():
        for run_id in summary.get("active_runs") or ():
            paths.add(run_path(job_id, str(run_id)))
        last = summary.get("last_run")
        if isinstance(last, Mapping) and _retry_planned(last):
            paths.add(run_path(job_id, str(last["run_id"])))
    return paths


def _retry_planned(last: Mapping[str, Any]) -> bool:
    """A failed last run whose summary plans a retry (or predates saying so)."""
    return (
        last.get("status") in RETRYABLE
        and bool(last.get("run_id"))
        and bool(last.get("next_retry_at", "written before the field: read it"))
    )


def _run_id(path: str) -> str:
    return path[len(RUNS_DIR) :].split("/", 1)[-1].removesuffix(".yaml")
