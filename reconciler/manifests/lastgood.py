"""The last-good rule: a file that breaks keeps running the job it defined before.

A job whose file fails to load keeps its previous ``JobSpec`` until the file is fixed
(then the new definition applies) or deleted (then the job is dropped). "Its file" means the
same path: the previous spec is kept only if it was loaded from a path that has problems now.
This covers a file that claims an id another file already uses: the claimant that had the job
before keeps it, the newcomer is not applied. A previous spec is never kept over a job that
loaded cleanly under the same id in the new state.
"""

from __future__ import annotations

from reconciler.model import DesiredState, JobSpec


def keep_last_good(new: DesiredState, previous: DesiredState | None) -> DesiredState:
    """``new`` plus, for each broken file, the job it defined in ``previous``."""
    if previous is None:
        return new
    broken = {problem.path for problem in new.problems}
    if not broken:
        return new
    kept: dict[str, JobSpec] = {
        job_id: spec
        for job_id, spec in previous.jobs.items()
        if spec.path in broken and job_id not in new.jobs
    }
    if not kept:
        return new
    jobs = {**new.jobs, **kept}
    return DesiredState(
        revision=new.revision,
        jobs=dict(sorted(jobs.items())),
        problems=new.problems,
        notify=new.notify,
    )
