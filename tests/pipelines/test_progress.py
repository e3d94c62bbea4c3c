"""Progress lines -> live stages, as a table; and the same log read in any chunking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from reconciler.clock import utc
from reconciler.pipelines import Progress, advance

NOW = utc("2026-03-02T02:00:00Z")


@dataclass(frozen=True)
class Case:
    name: str
    lines: tuple[str, ...]
    stages: tuple[tuple[str, str], ...]  # (name, status) in order
    current: str | None = None
    outcome: str | None = None
    check: tuple[tuple[str, str, object], ...] = ()  # (stage, field, value)


CASES = [
    Case("nothing printed yet: no stages", (), ()),
    Case("a started stage is running and is the current stage",
         ("Pipeline: nightly", "Run ID: 1a2b3c4d", "Stage: review - STARTED"),
         (("review", "running"),), current="review"),
    Case("a completed stage has its printed duration and short commit",
         ("Stage: review - STARTED", "Stage: review - COMPLETED (12.3s) [abc1234]"),
         (("review", "succeeded"),),
         check=(("review", "duration_s", 12.3), ("review", "commit", "abc1234"))),
    Case("a completed stage without a commit has none",
         ("Stage: review - STARTED", "Stage: review - COMPLETED (4.0s)"),
         (("review", "succeeded"),), check=(("review", "commit", None),)),
    Case("a failed stage keeps its message as the stage error",
         ("Stage: build - STARTED", "Stage: build - FAILED: tests did not pass"),
         (("build", "failed"),), check=(("build", "error.message", "tests did not pass"),)),
    Case("a retry is the same stage with the next attempt, running again",
         ("Stage: build - STARTED", "Stage: build - FAILED: flaky",
          "Stage: build (attempt 2) - STARTED"),
         (("build", "running"),), current="build",
         check=(("build", "attempt", 2), ("build", "error", None))),
    Case("stages keep the order they started in; the last running one is current",
         ("Stage: a - STARTED", "Stage: a - COMPLETED (1.0s)", "Stage: b - STARTED",
          "Stage: c - STARTED"),
         (("a", "succeeded"), ("b", "running"), ("c", "running")), current="c"),
    Case("icon lines alone give the same stages",
         ("▶ review...", "✅ review (12s)", "▶ fix...", "❌ fix (3s)"),
         (("review", "succeeded"), ("fix", "failed")), check=(("review", "duration_s", 12.0),)),
    Case("an icon line after the text line does not start or end the stage twice",
         ("Stage: review - STARTED", "▶ review...", "Stage: review - COMPLETED (2.5s) [abc1234]",
          "✅ review (3s)"),
         (("review", "succeeded"),), check=(("review", "duration_s", 2.5),)),
    Case("the pipeline's end line is its outcome",
         ("Stage: a - STARTED", "Stage: a - COMPLETED (1.0s)", "Pipeline COMPLETED",
          "Total duration: 1.2s", "Stages executed: 1"),
         (("a", "succeeded"),), outcome="COMPLETED"),
    Case("a partial pipeline says so", ("Pipeline PARTIAL",), (), outcome="PARTIAL"),
    Case("agent chatter between the lines is passed over",
         ("Analyzing src/auth...", "Stage: review - STARTED", "Stage: nonsense", "{\"type\":1}"),
         (("review", "running"),), current="review"),
    Case("log-file lines with an ISO prefix take their time from it",
         ("[2026-03-02T01:59:00.000Z] Stage: review - STARTED",),
         (("review", "running"),), current="review",
         check=(("review", "started_at", utc("2026-03-02T01:59:00Z")),)),
    Case("a stage named with dashes and spaces is read whole",
         ("Stage: code-review - part 2 - STARTED",), (("code-review - part 2", "running"),),
         current="code-review - part 2"),
]


def _field(stage: object, path: str) -> object:
    for part in path.split("."):
        stage = getattr(stage, part)
    return stage


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_progress_lines(case: Case) -> None:
    text = "".join(line + "\n" for line in case.lines).encode()
    progress = advance(Progress(), text, NOW)
    assert [(s.name, s.status) for s in progress.stages] == list(case.stages)
    assert (progress.current.name if progress.current else None) == case.current
    assert progress.outcome == case.outcome
    by_name = {s.name: s for s in progress.stages}
    for name, path, value in case.check:
        assert _field(by_name[name], path) == value, (name, path)
    assert progress.offset == len(text)


def test_a_partial_last_line_waits_for_the_rest() -> None:
    first = advance(Progress(), b"Stage: review - STARTED\nStage: review - COMP", NOW)
    assert first.offset == len(b"Stage: review - STARTED\n")
    assert [s.status for s in first.stages] == ["running"]
    second = advance(first, b"Stage: review - COMPLETED (1.5s)\n", NOW)
    assert [s.status for s in second.stages] == ["succeeded"]


def test_any_chunking_of_a_log_gives_the_same_stages() -> None:
    log = (
        b"Pipeline: nightly\nRun ID: 1a2b3c4d\nStage: a - STARTED\nStage: a - COMPLETED (1.0s)"
        b" [aaaaaaa]\nStage: b - STARTED\nStage: b - FAILED: boom\nPipeline FAILED\n"
    )
    whole = advance(Progress(), log, NOW)
    for size in (1, 3, 7, 64):
        progress, consumed = Progress(), 0
        for start in range(0, len(log), size):
            seen = log[: start + size]
            progress = advance(progress, seen[progress.offset :], NOW)
            consumed = progress.offset
        assert consumed == len(log)
        assert progress == whole, size


def test_started_and_ended_times_come_from_the_ticks_that_saw_the_lines() -> None:
    later = NOW + timedelta(seconds=30)
    started = advance(Progress(), b"Stage: fix - STARTED\n", NOW)
    failed = advance(started, b"Stage: fix - FAILED: no\n", later)
    (stage,) = failed.stages
    assert (stage.started_at, stage.finished_at, stage.duration_s) == (NOW, later, 30.0)


def test_a_completed_line_for_an_unseen_stage_dates_its_start_back() -> None:
    (stage,) = advance(Progress(), b"Stage: x - COMPLETED (10.0s)\n", NOW).stages
    assert stage.started_at == NOW - timedelta(seconds=10)
    assert isinstance(stage.finished_at, datetime)
