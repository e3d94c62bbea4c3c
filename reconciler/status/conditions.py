"""What ``status/reconciler.yaml`` says: revisions, Flux-style conditions and problems.

Readers (people, ``oven status``, the web pages' health view) look at three conditions with a
small fixed vocabulary: ``Ready`` (is the attempted revision applied?), ``Reconciling`` (is a
cycle running?) and ``Stalled`` (does it need a person rather than a retry?). A condition keeps
its ``last_transition`` while its status stays the same. Kept apart from the job summaries
because it describes the reconciler, not any job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.clock import iso
from reconciler.errors import OvenError
from reconciler.model import Problem
from reconciler.status.files import STATUS_SCHEMA_VERSION, short_revision

__all__ = ["reconciler_status"]


def reconciler_status(
    *,
    now: datetime,
    applied_revision: str | None,
    attempted_revision: str | None,
    problems: Sequence[Problem] = (),
    error: OvenError | None = None,
    stalled: bool = False,
    reconciling: bool = False,
    started_at: datetime | None = None,
    version: str = "",
    jobs: int = 0,
    next_wakeup: datetime | None = None,
    previous: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``status/reconciler.yaml`` after (or during) one reconcile cycle.

    ``error`` is what stopped the cycle, if anything; ``stalled`` says it needs a person
    (bad config, expired credentials) rather than a retry. A condition keeps its
    ``last_transition`` from ``previous`` while its status does not change. ``extra`` adds
    deployment fields (instance name, warnings) without overriding the ones above.
    """
    conditions = [
        _ready(applied_revision, attempted_revision, problems, error),
        _reconciling(reconciling, attempted_revision),
        _stalled(stalled, error),
    ]
    before = {c.get("type"): c for c in (previous or {}).get("conditions", ())}
    return {
        **(extra or {}),
        "schema_version": STATUS_SCHEMA_VERSION,
        "applied_revision": applied_revision,
        "attempted_revision": attempted_revision,
        "conditions": [_with_transition(c, before.get(c["type"]), now) for c in conditions],
        "problems": [p.to_dict() for p in sorted(problems, key=_problem_order)],
        "heartbeat": iso(now),
        "started_at": iso(started_at),
        "version": version,
        "jobs": jobs,
        "next_wakeup": iso(next_wakeup),
    }


def _problem_order(problem: Problem) -> tuple[str, int, str]:
    return (problem.path, problem.line, problem.field)


def _condition(kind: str, status: bool, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
    }


def _error_text(error: OvenError) -> str:
    return f"{error.message} (hint: {error.hint})" if error.hint else error.message


def _ready(
    applied: str | None, attempted: str | None, problems: Sequence[Problem], error: OvenError | None
) -> dict[str, Any]:
    if error is not None:
        return _condition("Ready", False, error.reason, _error_text(error))
    if problems:
        files = ", ".join(sorted({problem.path for problem in problems}))
        return _condition(
            "Ready",
            False,
            "ManifestProblems",
            f"{len(problems)} problem(s) in {files}; those jobs keep their last "
            f"good definition, the others are applied from "
            f"{short_revision(attempted)}",
        )
    if applied is None:
        return _condition("Ready", False, "NotApplied", "no revision applied yet")
    message = f"applied revision {short_revision(applied)}"
    if applied != attempted:
        return _condition(
            "Ready",
            False,
            "Progressing",
            f"{message}, revision {short_revision(attempted)} not yet applied",
        )
    return _condition("Ready", True, "Succeeded", message)


def _reconciling(active: bool, attempted: str | None) -> dict[str, Any]:
    if active:
        return _condition(
            "Reconciling", True, "Progressing", f"reconciling revision {short_revision(attempted)}"
        )
    return _condition("Reconciling", False, "Idle", "waiting for the next change or due run")


def _stalled(stalled: bool, error: OvenError | None) -> dict[str, Any]:
    if error is not None and stalled:
        return _condition("Stalled", True, error.reason, _error_text(error))
    if error is not None:
        return _condition("Stalled", False, "Retrying", f"will retry: {error.message}")
    return _condition("Stalled", False, "Healthy", "nothing needs attention")


def _with_transition(
    condition: dict[str, Any], before: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    unchanged = before is not None and before.get("status") == condition["status"]
    since = before.get("last_transition") if unchanged and before else None
    return {**condition, "last_transition": since or iso(now)}
