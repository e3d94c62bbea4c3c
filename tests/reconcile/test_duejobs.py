"""The due-time heap (pure): which jobs need a decision at a given moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.duejobs import DueJobs

T0 = datetime(2026, 11, 22, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_every_job_is_due_first_then_only_at_its_wake_up_time() -> None:
    due: DueJobs[str] = DueJobs()
    jobs = {"a": "spec-a", "b": "spec-b", "c": "spec-c"}
    assert due.due(jobs, at(0), ()) == ["a", "b", "c"]
    due.decided("a", "spec-a", at(10))
    due.decided("b", "spec-b", at(5))
    due.decided("c", "spec-c", None)  # only a change brings it back
    assert due.due(jobs, at(4), ()) == []
    assert due.next_wakeup() == at(5)
    assert due.due(jobs, at(5), ()) == ["b"]
    due.decided("b", "spec-b", at(15))
    assert due.due(jobs, at(12), ()) == ["a"]
    assert due.due(jobs, at(12), ()) == []  # popped once; waits for its next decision


def test_touched_changed_and_undecided_jobs_are_due_at_once() -> None:
    due: DueJobs[str] = DueJobs()
    jobs = {"a": "spec-a", "b": "spec-b"}
    due.due(jobs, at(0), ())
    due.decided("a", "spec-a", at(60))
    due.decided("b", "spec-b", at(60))
    assert due.due(jobs, at(1), {"b", "gone"}) == ["b"]  # a run of b changed
    due.decided("b", "spec-b", at(60))
    changed = {"a": "spec-a2", "b": "spec-b"}  # a new revision changed a only
    assert due.due(changed, at(2), ()) == ["a"]
    due.undecided("a")  # its decision raised
    assert due.due(changed, at(3), ()) == ["a"]
    assert due.due({"b": "spec-b"}, at(4), ()) == []  # a left the config
    due.reset()
    assert due.due({"b": "spec-b"}, at(5), ()) == ["b"]
