"""Where each stage of a run sits on the run's timeline, as percentages of its length.

Stages with start times are placed at them; stages without are laid end to end. The
browser script does the same sum when it re-renders a running run (``static/live.js``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reconciler.web.queries import parse_time

MIN_WIDTH = 0.5  # percent, so a very short stage stays visible


def stage_bars(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dict per stage: the stage's own fields plus ``offset`` and ``width`` in percent."""
    stages = [dict(stage) for stage in run.get("stages") or []]
    origin = parse_time(run.get("started_at"))
    spans = _spans(stages, origin)
    total = max([end for _, end in spans] + [float(run.get("duration_s") or 0.0)] + [0.0])
    total = total or 1.0
    bars = []
    for stage, (start, end) in zip(stages, spans, strict=True):
        offset = min(100.0, 100.0 * start / total)
        width = max(MIN_WIDTH, min(100.0 - offset, 100.0 * (end - start) / total))
        bars.append({**stage, "offset": round(offset, 2), "width": round(width, 2)})
    return bars


def _spans(stages: list[dict[str, Any]], origin: datetime | None) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    cursor = 0.0
    for stage in stages:
        began = parse_time(stage.get("started_at"))
        start = (began - origin).total_seconds() if began and origin else cursor
        start = max(0.0, start)
        end = start + _length(stage, began)
        spans.append((start, end))
        cursor = end
    return spans


def _length(stage: Mapping[str, Any], began: datetime | None) -> float:
    if stage.get("duration_s") is not None:
        return max(0.0, float(stage["duration_s"]))
    ended = parse_time(stage.get("finished_at"))
    if began and ended:
        return max(0.0, (ended - began).total_seconds())
    return 0.0
