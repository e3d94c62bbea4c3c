"""Agent Pipeline's state file (``.agent-pipeline/state/runs/<runId>.json``) -> stages and totals.

Pure. The state file is written after each group of stages and at the end; it is what the
run file keeps once the run is over: each stage's times, token use, commit and error, and the
pull request (or why it could not be opened). Fields the file leaves out stay empty; a file
that is not a JSON object raises ``StateFileError``.

Token counts are renamed to one vocabulary (``TOKEN_KEYS``): ``input`` is ``actual_input``,
or ``estimated_input`` when no actual count is given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.clock import utc
from reconciler.model import ErrorInfo, StageRecord

__all__ = [
    "TOKEN_KEYS",
    "PipelineState",
    "StateFileError",
    "choose_state_file",
    "parse_state",
    "token_totals",
]

TOKEN_KEYS = ("input", "output", "cache_creation", "cache_read", "thinking")
_TOKEN_SOURCES = {  # our name -> the state file's names, first present wins
    "input": ("actual_input", "estimated_input"),
    "output": ("output",),
    "cache_creation": ("cache_creation",),
    "cache_read": ("cache_read",),
    "thinking": ("thinking_tokens",),
}
_STAGE_STATUS = {  # the state file's stage status -> ours
    "success": "succeeded",
    "completed": "succeeded",
    "failed": "failed",
    "skipped": "skipped",
    "pending": "pending",
    "running": "running",
}


class StateFileError(ValueError):
    """The state file cannot be read as Agent Pipeline's run state."""


@dataclass(frozen=True)
class PipelineState:
    """One run's state file, in the run file's vocabulary."""

    run_id: str  # Agent Pipeline's own run id (a UUID), not ours
    status: str  # running, completed, failed, partial or aborted
    stages: tuple[StageRecord, ...]
    pull_request: dict[str, Any] | None  # {url, number, branch, error}; None if none was tried
    total_duration_s: float | None = None


def parse_state(data: bytes) -> PipelineState:
    """Read a state file; StateFileError if it is not a JSON object."""
    try:
        document = json.loads(data.decode("utf-8", "replace"))
    except json.JSONDecodeError as exc:
        raise StateFileError(f"the state file is not JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(document, dict):
        raise StateFileError("the state file is not a JSON object")
    artifacts = _mapping(document.get("artifacts"))
    return PipelineState(
        run_id=str(document.get("runId") or ""),
        status=str(document.get("status") or ""),
        stages=tuple(_stage(s) for s in _list(document.get("stages")) if isinstance(s, dict)),
        pull_request=_pull_request(artifacts),
        total_duration_s=_number(artifacts.get("totalDuration")),
    )


def choose_state_file(files: Mapping[str, bytes], run_id_prefix: str | None) -> bytes | None:
    """The state file of this run among ``files`` (name -> content) of the state directory.

    The progress line ``Run ID: <8 chars>`` names it; without that line the only file is
    taken, else the one whose trigger time is newest.
    """
    candidates = {name: data for name, data in files.items() if name.endswith(".json")}
    if run_id_prefix:
        named = [data for name, data in candidates.items() if name.startswith(run_id_prefix)]
        if named:
            return named[0]
    if len(candidates) <= 1:
        return next(iter(candidates.values()), None)
    return max(candidates.values(), key=_trigger_time)


def token_totals(stages: Iterable[StageRecord]) -> dict[str, int] | None:
    """Each token count summed over the stages; None when no stage reported any."""
    totals: dict[str, int] = {}
    for stage in stages:
        for key, value in (stage.tokens or {}).items():
            totals[key] = totals.get(key, 0) + value
    return totals or None


def _stage(data: Mapping[str, Any]) -> StageRecord:
    error = _mapping(data.get("error"))
    message = str(error.get("message") or "")
    retry = data.get("retryAttempt")
    return StageRecord(
        name=str(data.get("stageName") or data.get("name") or "?"),
        status=_STAGE_STATUS.get(str(data.get("status") or ""), str(data.get("status") or "")),
        started_at=_time(data.get("startTime")),
        finished_at=_time(data.get("endTime")),
        duration_s=_number(data.get("duration")),
        tokens=_tokens(_mapping(data.get("tokenUsage"))),
        model=str(data["model"]) if data.get("model") else None,
        attempt=retry + 1 if isinstance(retry, int) and retry >= 0 else 1,
        commit=str(data["commitSha"]) if data.get("commitSha") else None,
        error=ErrorInfo("StageFailed", message, str(error.get("suggestion") or ""))
        if message
        else None,
    )


def _tokens(usage: Mapping[str, Any]) -> dict[str, int] | None:
    tokens: dict[str, int] = {}
    for key, sources in _TOKEN_SOURCES.items():
        for source in sources:
            value = usage.get(source)
            if isinstance(value, int | float) and not isinstance(value, bool):
                tokens[key] = int(value)
                break
    return tokens or None


def _pull_request(artifacts: Mapping[str, Any]) -> dict[str, Any] | None:
    request = _mapping(artifacts.get("pullRequest"))
    error = artifacts.get("prError")
    if not request and not error:
        return None
    number = request.get("number")
    return {
        "url": str(request["url"]) if request.get("url") else None,
        "number": number if isinstance(number, int) else None,
        "branch": str(request["branch"]) if request.get("branch") else None,
        "error": str(error) if error else None,
    }


def _time(value: Any) -> datetime | None:
    """An ISO time, or epoch milliseconds; None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str) and value:
        try:
            return utc(value)
        except ValueError:
            return None
    return None


def _trigger_time(data: bytes) -> str:
    try:
        document = json.loads(data)
        trigger = document.get("trigger") if isinstance(document, dict) else None
        return str(trigger.get("timestamp") or "") if isinstance(trigger, dict) else ""
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value), 3)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
