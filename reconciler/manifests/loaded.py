"""A loaded tree kept for the next load: the jobs of a git tree derived from an earlier one's.

Loading a revision of a 10k-file repo from the parse cache still costs ~20 dictionary steps
per file (blob id, cache, duplicate ids, problems). A ``Loaded`` keeps what a load worked out
per file and per id, so when a source says the files are an earlier tree's plus a few changed
paths (``TreeFiles.since``), the next revision's ``DesiredState`` is the earlier one's with
those paths parsed again and the ids they claim settled again: O(change), not O(files).

A full load is the same steps from an empty ``Loaded`` with every path changed, so both ways
give the same jobs and problems (``tests/property/test_tree_diff_load.py`` checks it). Only
the order of ``jobs`` can differ (a derived load adds a new id at the end): it means nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reconciler.manifests.job import ParsedJob
from reconciler.manifests.oven import OvenSettings
from reconciler.model import DesiredState, JobSpec, Problem

# a path -> its outcome, the problem of a file not read, or None (gone, or no job file)
Parse = Callable[[str], ParsedJob | Problem | None]


@dataclass
class Loaded:
    """What one load of a tree worked out, by path and by job id."""

    settings: OvenSettings
    context: str
    parsed: dict[str, ParsedJob] = field(default_factory=dict)  # job files read
    refused: dict[str, Problem] = field(default_factory=dict)  # files not read (a link...)
    claims: dict[str, list[str]] = field(default_factory=dict)  # id -> paths, in path order
    jobs: dict[str, JobSpec] = field(default_factory=dict)
    broken: dict[str, tuple[Problem, ...]] = field(default_factory=dict)  # path -> problems
    duplicates: dict[str, tuple[Problem, ...]] = field(default_factory=dict)  # id -> problems

    def changed(self, paths: Iterable[str], parse: Parse) -> Loaded:
        """A new ``Loaded``: this one with ``paths`` parsed again (``parse``)."""
        new = Loaded(
            self.settings,
            self.context,
            dict(self.parsed),
            dict(self.refused),
            dict(self.claims),
            dict(self.jobs),
            dict(self.broken),
            dict(self.duplicates),
        )
        touched: dict[str, None] = {}  # ids to settle again, in the order first met
        for path in sorted(paths):
            new._forget(path, touched)
            outcome = parse(path)
            if isinstance(outcome, ParsedJob):
                new._add(outcome, touched)
            elif isinstance(outcome, Problem):
                new.refused[path] = outcome
        for job_id in touched:
            new._settle(job_id)
        return new

    def state(self, revision: str) -> DesiredState:
        problems = [
            *self.settings.problems,
            *self.refused.values(),
            *(p for found in self.broken.values() for p in found),
            *(p for found in self.duplicates.values() for p in found),
        ]
        problems.sort(key=lambda p: (p.path, p.line, p.field))
        return DesiredState(
            revision=revision, jobs=self.jobs, problems=tuple(problems), notify=self.settings.notify
        )

    def _forget(self, path: str, touched: dict[str, None]) -> None:
        self.refused.pop(path, None)
        self.broken.pop(path, None)
        old = self.parsed.pop(path, None)
        if old is not None and old.spec is not None:
            touched[old.spec.id] = None
            paths = [p for p in self.claims[old.spec.id] if p != path]
            if paths:
                self.claims[old.spec.id] = paths
            else:
                del self.claims[old.spec.id]

    def _add(self, job: ParsedJob, touched: dict[str, None]) -> None:
        self.parsed[job.path] = job
        if job.problems:
            self.broken[job.path] = job.problems
        if job.spec is not None:
            touched[job.spec.id] = None
            paths = list(self.claims.get(job.spec.id, ()))
            bisect.insort(paths, job.path)
            self.claims[job.spec.id] = paths

    def _settle(self, job_id: str) -> None:
        """The job of ``job_id``: its one claimant's, or none and a problem for each claimant."""
        paths = self.claims.get(job_id, [])
        self.duplicates.pop(job_id, None)
        if len(paths) == 1:
            spec = self.parsed[paths[0]].spec
            assert spec is not None
            self.jobs[job_id] = spec
            return
        self.jobs.pop(job_id, None)
        if paths:
            self.duplicates[job_id] = tuple(self._duplicate(job_id, path, paths) for path in paths)

    def _duplicate(self, job_id: str, path: str, paths: list[str]) -> Problem:
        others = ", ".join(p for p in paths if p != path)
        return Problem(
            path,
            self.parsed[path].id_line,
            "id",
            f"duplicate id {job_id!r}, also in {others}; "
            "none of these files is applied until the id is unique",
        )
