"""A pipeline run's record, step by step: live stages while it runs, the whole story at the end.

Pure. ``with_progress`` puts what the progress lines said on the run record (and keeps what
an earlier read already knew, such as a stage's start time seen before a restart);
``concluded`` merges the state file into the stages, classifies how the run ended and adds
the token totals and the pull request; ``redacted`` passes every text a pipeline wrote (stage
errors, the pull-request error) through the run's redactor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reconciler.model import ErrorInfo, RunRecord, StageRecord
from reconciler.pipelines.failures import Ending, classify
from reconciler.pipelines.progress import Progress
from reconciler.pipelines.state import PipelineState, token_totals

__all__ = ["Finish", "concluded", "merge_stages", "redacted", "with_progress"]

# a run that ended while these stages still ran: what they became
_LEFT_RUNNING = {"timed_out": "cancelled", "cancelled": "cancelled"}
# runs whose end the engine or the cycle decided (not the pipeline): keep their error
_DECIDED_ELSEWHERE = frozenset({"timed_out", "cancelled"})
_ENGINE_ERRORS = frozenset({"OutOfMemory", "NeverStarted", "ContainerVanished", "Timeout"})


@dataclass(frozen=True)
class Finish:
    """What the cycle collected once the container ended."""

    output: str  # the container's whole output (not yet redacted)
    progress: Progress  # every progress line, read from the start
    state: PipelineState | None  # the state file, if the run wrote one
    state_problem: str = ""  # why the state file could not be read, if it could not
    available: Sequence[str] = ()  # the pipelines in the checkout


def with_progress(record: RunRecord, progress: Progress, model: str | None) -> RunRecord:
    """The running record with the stages the progress lines report."""
    stages = tuple(_keep_known(record.stages, stage, model) for stage in progress.stages)
    return record if stages == record.stages else record.with_changes(stages=stages)


def concluded(record: RunRecord, finish: Finish, pipeline: str, model: str | None) -> RunRecord:
    """The final record: merged stages, its status and error, token totals, pull request."""
    live = with_progress(record, finish.progress, model).stages
    stages = merge_stages(live, finish.state.stages if finish.state else (), model)
    status, error = record.status, record.error
    if _pipeline_decides(record):
        status, error = classify(
            Ending(
                exit_code=record.exit_code,
                output=finish.output,
                pipeline=pipeline,
                stages=stages,
                state_status=finish.state.status if finish.state else None,
                outcome=finish.progress.outcome,
                available=finish.available,
            )
        )
    left = _LEFT_RUNNING.get(status, "failed" if status == "failed" else "succeeded")
    stages = tuple(s.with_changes(status=left) if s.status == "running" else s for s in stages)
    if finish.state_problem and error is None and status == "succeeded":
        error = ErrorInfo("StateFileUnreadable", finish.state_problem, "")
    return record.with_changes(
        status=status,
        error=error,
        stages=stages,
        tokens=token_totals(stages),
        pull_request=finish.state.pull_request if finish.state else None,
    )


def merge_stages(
    live: Sequence[StageRecord], final: Sequence[StageRecord], model: str | None
) -> tuple[StageRecord, ...]:
    """The state file's stages (in its order), filled in from the live ones; then live-only."""
    by_name = {stage.name: stage for stage in live}
    merged = []
    for stage in final:
        seen = by_name.pop(stage.name, None)
        merged.append(
            stage.with_changes(
                started_at=stage.started_at or (seen.started_at if seen else None),
                finished_at=stage.finished_at or (seen.finished_at if seen else None),
                duration_s=stage.duration_s if stage.duration_s is not None else _seen(seen),
                commit=stage.commit or (seen.commit if seen else None),
                error=stage.error or (seen.error if seen else None),
                model=stage.model or (seen.model if seen else None) or model,
            )
        )
    merged.extend(stage for stage in live if stage.name in by_name)
    return tuple(merged)


def redacted(record: RunRecord, redact: Callable[[str], str]) -> RunRecord:
    """Stage errors and the pull-request error with every secret value replaced."""
    stages = tuple(
        stage.with_changes(error=_redact_error(stage.error, redact)) if stage.error else stage
        for stage in record.stages
    )
    pull = record.pull_request
    if pull and pull.get("error"):
        pull = {**pull, "error": redact(str(pull["error"]))}
    if stages == record.stages and pull == record.pull_request:
        return record
    return record.with_changes(stages=stages, pull_request=pull)


def _keep_known(known: Sequence[StageRecord], stage: StageRecord, model: str | None) -> StageRecord:
    """A stage as newly parsed, keeping the start time an earlier read saw for this attempt."""
    before = next((s for s in known if s.name == stage.name), None)
    earlier = before.started_at if before and before.attempt == stage.attempt else None
    if earlier is not None and (stage.started_at is None or earlier < stage.started_at):
        stage = stage.with_changes(started_at=earlier)
    return stage if stage.model or not model else stage.with_changes(model=model)


def _pipeline_decides(record: RunRecord) -> bool:
    """The run ended on its own, so its output says how (not a timeout, a kill or OOM)."""
    if record.status in _DECIDED_ELSEWHERE:
        return False
    return record.error is None or record.error.cls not in _ENGINE_ERRORS


def _seen(stage: StageRecord | None) -> float | None:
    return stage.duration_s if stage else None


def _redact_error(error: ErrorInfo | None, redact: Callable[[str], str]) -> ErrorInfo | None:
    if error is None:
        return None
    return ErrorInfo(error.cls, redact(error.message), redact(error.hint))
