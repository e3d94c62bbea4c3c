"""Agent Pipeline's progress lines -> the run's stages, read incrementally from a growing log.

Pure: ``advance(progress, new_output, now)`` consumes the complete lines of ``new_output``
(the container's output after ``progress.offset``) and returns the new ``Progress``; a partial
last line waits for the next call. The lines (docs: reference of ``agent-pipeline run --quiet``)::

    Pipeline: <name>                       Run ID: <first 8 chars of the run id>
    Stage: <stage> - STARTED               Stage: <stage> (attempt N) - STARTED
    Stage: <stage> - COMPLETED (12.3s) [abc1234]
    Stage: <stage> - FAILED: <message>
    ▶ <stage>...     ✅ <stage> (12s)     ❌ <stage> (12s)
    Pipeline COMPLETED | FAILED | PARTIAL | ABORTED

A line may carry the log file's ``[<ISO time>] `` prefix; its time is then used, else ``now``
(the tick that saw the line). One stage entry per stage name holds its latest attempt.
Anything else is passed over, so agent chatter between the lines does no harm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.clock import utc
from reconciler.model import ErrorInfo, StageRecord

__all__ = ["OUTCOMES", "Progress", "advance"]

OUTCOMES = ("COMPLETED", "FAILED", "PARTIAL", "ABORTED")

_STAMP = re.compile(r"^\[(?P<time>[^\]]+)\]\s+(?P<rest>.*)$")
_PIPELINE = re.compile(r"^Pipeline: (?P<name>\S.*)$")
_RUN_ID = re.compile(r"^Run ID: (?P<id>[0-9A-Za-z-]+)$")
_STARTED = re.compile(r"^Stage: (?P<stage>.+?)(?: \(attempt (?P<attempt>\d+)\))? - STARTED$")
_COMPLETED = re.compile(
    r"^Stage: (?P<stage>.+?) - COMPLETED \((?P<secs>[0-9.]+)s\)(?: \[(?P<sha>[0-9a-fA-F]+)\])?$"
)
_FAILED = re.compile(r"^Stage: (?P<stage>.+?) - FAILED: ?(?P<message>.*)$")
_ICON_STARTED = re.compile(r"^▶\s*(?P<stage>.+?)\.\.\.$")
_ICON_ENDED = re.compile(r"^(?P<icon>[✅❌])\s*(?P<stage>.+?) \((?P<secs>[0-9.]+)s\)$")
_OUTCOME = re.compile(r"^Pipeline (?P<outcome>COMPLETED|FAILED|PARTIAL|ABORTED)$")


@dataclass(frozen=True)
class Progress:
    """What the progress lines said so far."""

    stages: tuple[StageRecord, ...] = ()  # in the order they started
    pipeline: str | None = None  # the "Pipeline: <name>" line
    run_id: str | None = None  # the "Run ID:" line: the first 8 characters of the UUID
    outcome: str | None = None  # COMPLETED, FAILED, PARTIAL or ABORTED once the pipeline ended
    offset: int = 0  # bytes of the output consumed (complete lines only)

    @property
    def current(self) -> StageRecord | None:
        """The stage running now (the last one started), if any."""
        running = [stage for stage in self.stages if stage.status == "running"]
        return running[-1] if running else None


def advance(progress: Progress, output: bytes, now: datetime) -> Progress:
    """``progress`` after the complete lines of ``output`` (the output after its offset)."""
    end = output.rfind(b"\n") + 1
    if end == 0:
        return progress
    state = _State(progress)
    for raw in output[:end].decode("utf-8", "replace").splitlines():
        state.line(raw.rstrip("\r"), now)
    return Progress(
        stages=tuple(state.stages),
        pipeline=state.pipeline,
        run_id=state.run_id,
        outcome=state.outcome,
        offset=progress.offset + end,
    )


class _State:
    """The mutable working copy ``advance`` fills line by line."""

    def __init__(self, progress: Progress) -> None:
        self.stages = list(progress.stages)
        self.pipeline, self.run_id, self.outcome = (
            progress.pipeline,
            progress.run_id,
            progress.outcome,
        )

    def line(self, text: str, now: datetime) -> None:
        text, when = _unstamped(text.strip(), now)
        if match := _PIPELINE.match(text):
            self.pipeline = match["name"].strip()
        elif match := _RUN_ID.match(text):
            self.run_id = match["id"]
        elif match := _STARTED.match(text) or _ICON_STARTED.match(text):
            attempt = match.groupdict().get("attempt")
            self.started(match["stage"], int(attempt) if attempt else None, when)
        elif match := _COMPLETED.match(text):
            self.ended(match["stage"], "succeeded", float(match["secs"]), when, match["sha"])
        elif match := _FAILED.match(text):
            error = ErrorInfo("StageFailed", match["message"].strip() or "the stage failed")
            self.ended(match["stage"], "failed", None, when, None, error)
        elif match := _ICON_ENDED.match(text):
            status = "succeeded" if match["icon"] == "✅" else "failed"
            self.ended(match["stage"], status, float(match["secs"]), when, None, only_once=True)
        elif match := _OUTCOME.match(text):
            self.outcome = match["outcome"]

    def started(self, name: str, attempt: int | None, when: datetime) -> None:
        index = self._find(name)
        if index is None:
            self.stages.append(StageRecord(name, "running", started_at=when, attempt=attempt or 1))
            return
        stage = self.stages[index]
        if stage.status == "running" and (attempt is None or attempt == stage.attempt):
            return  # the same start said twice (the icon line after the text line)
        self.stages[index] = StageRecord(
            name,
            "running",
            started_at=when,
            attempt=attempt or stage.attempt + 1,
            model=stage.model,
        )

    def ended(
        self,
        name: str,
        status: str,
        seconds: float | None,
        when: datetime,
        commit: str | None,
        error: ErrorInfo | None = None,
        only_once: bool = False,
    ) -> None:
        index = self._find(name)
        if index is None:
            start = when - timedelta(seconds=seconds) if seconds is not None else None
            self.stages.append(StageRecord(name, "running", started_at=start))
            index = len(self.stages) - 1
        stage = self.stages[index]
        if only_once and stage.status != "running":
            return  # the icon summary of an end the text line already reported
        if seconds is None and stage.started_at is not None:
            seconds = round(max(0.0, (when - stage.started_at).total_seconds()), 3)
        self.stages[index] = stage.with_changes(
            status=status,
            finished_at=when,
            duration_s=seconds,
            commit=commit or stage.commit,
            error=error,
        )

    def _find(self, name: str) -> int | None:
        for index, stage in enumerate(self.stages):
            if stage.name == name:
                return index
        return None


def _unstamped(text: str, now: datetime) -> tuple[str, datetime]:
    """The line without a ``[<ISO time>] `` prefix, and that time (else ``now``)."""
    match = _STAMP.match(text)
    if not match:
        return text, now
    try:
        return match["rest"], utc(match["time"])
    except ValueError:
        return text, now
