"""The job page's history plot: duration and outcome of the kept runs, drawn on the server.

Pure geometry: runs in, numbers for an inline SVG out (``job.html`` draws them), so the plot
needs no script and no library and passes the strict CSP. One bar per run, oldest on the left,
its height the run's duration on a scale from 0 to the longest; its colour the outcome.
Below it a strip of one cell per finished run (the success-rate strip). A run still going is
drawn as a short striped bar, a run that never ran (missed, skipped) as a thin tick.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import FINAL_STATUSES

WIDTH = 800  # viewBox units; the SVG scales to the page's width
HEIGHT = 160  # of the bar area
GAP = 0.2  # of a slot, left empty between bars
MIN_BAR = 2.0  # a run of (almost) no duration stays visible
NO_RUN = frozenset({"missed", "skipped"})


@dataclass(frozen=True)
class Bar:
    run_id: str
    status: str
    x: float  # left edge, viewBox units
    width: float
    y: float  # top edge
    height: float
    label: str  # tooltip: "run-id · succeeded · 12s"


@dataclass(frozen=True)
class HistoryPlot:
    bars: tuple[Bar, ...]
    longest_s: float  # the scale's top, seconds
    succeeded: int  # finished runs that succeeded
    finished: int  # runs with a final outcome (missed and skipped not counted)
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.finished if self.finished else None


def history_plot(runs: Iterable[Mapping[str, Any]]) -> HistoryPlot:
    """The plot of ``runs`` (given newest first, as the page lists them)."""
    ordered = list(runs)[::-1]
    longest = max((_duration(run) for run in ordered), default=0.0) or 1.0
    slot = WIDTH / max(len(ordered), 1)
    bars = tuple(_bar(run, i, slot, longest) for i, run in enumerate(ordered))
    outcomes = [str(run.get("status")) for run in ordered]
    finished = [s for s in outcomes if s in FINAL_STATUSES and s not in NO_RUN]
    return HistoryPlot(bars, longest, finished.count("succeeded"), len(finished))


def _bar(run: Mapping[str, Any], index: int, slot: float, longest: float) -> Bar:
    status = str(run.get("status") or "unknown")
    seconds = _duration(run)
    if status in NO_RUN:
        height = MIN_BAR
    elif status not in FINAL_STATUSES:  # still going: its length is not known yet
        height = HEIGHT * 0.15
    else:
        height = max(MIN_BAR, HEIGHT * seconds / longest)
    width = slot * (1 - GAP)
    label = f"{run.get('run_id')} · {status.replace('_', ' ')}"
    if status in FINAL_STATUSES and status not in NO_RUN:
        label += f" · {_short(seconds)}"
    return Bar(
        run_id=str(run.get("run_id")),
        status=status,
        x=round(index * slot + slot * GAP / 2, 2),
        width=round(width, 2),
        y=round(HEIGHT - height, 2),
        height=round(height, 2),
        label=label,
    )


def _duration(run: Mapping[str, Any]) -> float:
    try:
        return max(0.0, float(run.get("duration_s") or 0.0))
    except (TypeError, ValueError):
        return 0.0


def _short(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"
