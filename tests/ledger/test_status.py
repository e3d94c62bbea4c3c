"""Unit tests of the pure status-file rendering and summaries (reconciler.status)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.errors import LedgerError, SourceError
from reconciler.model import ErrorInfo, JobSpec, Problem, RunRecord, Schedule, StageRecord
from reconciler.status import (
    RECONCILER_PATH,
    commit_message,
    consecutive_failures,
    dump_yaml,
    job_path,
    job_summary,
    load_yaml,
    p95_duration,
    parse_status_tree,
    prune_runs,
    reconciler_status,
    render_run,
    run_path,
    success_rate,
)

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def run(n: int, status: str = "succeeded", duration: float | None = 10.0, job: str = "a"):
    """The n-th run of a job (higher n = newer), lasting ``duration`` seconds."""
    start = T0 + timedelta(hours=n)
    finished = None if duration is None else start + timedelta(seconds=duration)
    started = None if status in ("missed", "skipped") else start
    return RunRecord(
        run_id=f"{job}-{n:03d}", job_id=job, trigger="schedule", status=status,  # type: ignore[arg-type]
        scheduled_for=start, started_at=started,
        finished_at=finished if started and status not in ("running", "queued") else None,
    )


def test_paths() -> None:
    assert run_path("nightly", "nightly-20260301-020000") == (
        "status/runs/nightly/nightly-20260301-020000.yaml"
    )
    assert job_path("nightly") == "status/jobs/nightly.yaml"
    assert RECONCILER_PATH == "status/reconciler.yaml"


def test_commit_message_is_deterministic() -> None:
    assert commit_message(3, 2, "0123456789abcdef") == "oven: status 3 runs, 2 jobs @ 0123456"
    assert commit_message(0, 1, "worktree:fedcba9876") == "oven: status 0 runs, 1 jobs @ fedcba9"
    assert commit_message(0, 0, None) == "oven: status 0 runs, 0 jobs @ none"


class TestP95:
    def test_nearest_rank_of_twenty(self) -> None:
        runs = [run(i, duration=float(i)) for i in range(1, 21)]
        assert p95_duration(runs) == 19.0  # rank ceil(0.95 * 20) = 19

    def test_nearest_rank_of_ten_is_the_maximum(self) -> None:
        assert p95_duration([run(i, duration=float(i)) for i in range(1, 11)]) == 10.0

    def test_only_the_newest_twenty_finished_runs_count(self) -> None:
        old = [run(i, duration=1000.0) for i in range(5)]
        new = [run(i, duration=float(i)) for i in range(5, 25)]
        running = [run(30, status="running", duration=None)]
        assert p95_duration(old + new + running) == 23.0

    def test_no_finished_run_means_none(self) -> None:
        assert p95_duration([run(1, status="missed", duration=None)]) is None
        assert p95_duration([]) is None


class TestSuccessRate:
    def test_counts_only_outcomes(self) -> None:
        statuses = ["succeeded"] * 3 + ["failed", "timed_out", "missed", "skipped", "cancelled"]
        runs = [run(i, status=s) for i, s in enumerate(statuses)]
        assert success_rate(runs) == 0.6

    def test_window_is_the_newest_twenty_outcomes(self) -> None:
        runs = [run(i, status="failed") for i in range(10)]
        runs += [run(i, status="succeeded") for i in range(10, 30)]
        assert success_rate(runs) == 1.0

    def test_none_without_outcomes(self) -> None:
        assert success_rate([run(1, status="missed", duration=None)]) is None


class TestConsecutiveFailures:
    def test_counts_failures_since_the_newest_success(self) -> None:
        statuses = ["failed", "succeeded", "timed_out", "skipped", "missed", "failed", "running"]
        runs = [run(i, status=s) for i, s in enumerate(statuses)]
        assert consecutive_failures(runs) == 2

    def test_all_failures_without_any_success(self) -> None:
        assert consecutive_failures([run(i, status="failed") for i in range(4)]) == 4

    def test_zero_after_a_success(self) -> None:
        assert consecutive_failures([run(1, "failed"), run(2, "succeeded")]) == 0


class TestPrune:
    def test_keeps_the_newest_n_and_every_active_run(self) -> None:
        stuck = run(0, status="running", duration=None)
        finals = [run(i) for i in range(1, 56)]
        kept, dropped = prune_runs([*finals, stuck], keep=50)

        assert [r.run_id for r in kept[:50]] == [f"a-{i:03d}" for i in range(55, 5, -1)]
        assert kept[50] == stuck
        assert [r.run_id for r in dropped] == [f"a-{i:03d}" for i in range(5, 0, -1)]

    def test_nothing_dropped_below_the_limit(self) -> None:
        runs = [run(i) for i in range(3)]
        assert prune_runs(runs, keep=50) == (list(reversed(runs)), [])


class TestYaml:
    def test_keys_are_sorted_at_every_level_in_block_style(self) -> None:
        text = dump_yaml({"b": 1, "a": {"d": [1, 2], "c": "x"}}).decode()
        assert text == "a:\n  c: x\n  d:\n  - 1\n  - 2\nb: 1\n"

    def test_times_stay_text_and_multiline_text_is_a_literal_block(self) -> None:
        data = {"at": "2026-03-01T02:00:00Z", "log": "line one\nline two\n", "when": T0}
        text = dump_yaml(data)
        assert b"log: |\n  line one\n  line two\n" in text
        assert load_yaml(text) == {**data, "when": "2026-03-01T02:00:00Z"}

    def test_unicode_is_kept_and_bad_surrogates_do_not_crash(self) -> None:
        text = dump_yaml({"msg": "café ✓ 日本", "raw": "bad \udcff byte"})
        assert "café ✓ 日本".encode() in text
        assert load_yaml(text)["raw"] == "bad ? byte"

    def test_unsafe_or_broken_yaml_is_a_ledger_error(self) -> None:
        with pytest.raises(LedgerError):
            load_yaml(b"!!python/object/apply:os.system ['true']")
        with pytest.raises(LedgerError):
            load_yaml(b"a: [1, 2")
        with pytest.raises(LedgerError, match="not a mapping"):
            load_yaml(b"- 1\n")
        assert load_yaml(b"") == {}

    def test_run_record_round_trips(self) -> None:
        record = RunRecord(
            run_id="a-20260301-020000", job_id="a", trigger="retry", status="failed",
            scheduled_for=T0, started_at=T0 + timedelta(seconds=1.5),
            finished_at=T0 + timedelta(seconds=61.25), exit_code=3,
            error=ErrorInfo("AuthError", "Claude login expired", "run `claude login`"),
            config_revision="abc123", image="agent-oven/base-tasks", attempt=2,
            retry_of="a-20260301-020000", next_retry_at=T0 + timedelta(minutes=5),
            idempotency_key="k-1",
            stages=(StageRecord("review", "failed", T0, T0 + timedelta(seconds=30), 30.0,
                                "sonnet", {"input": 10, "output": 5}),),
            log_tail="first\nsecond: ünïcode\n  indented\n",
        )
        text = render_run(record)
        assert RunRecord.from_dict(load_yaml(text)) == record
        assert load_yaml(text)["duration_s"] == 59.75


def job() -> JobSpec:
    return JobSpec(id="a", name="Job A", type="docker",
                   schedule=Schedule(type="cron", cron="0 2 * * *", timezone="Europe/Paris"),
                   path="jobs/a.yaml", manifest="id: a\n")


class TestJobSummary:
    def test_summary_of_a_live_job(self) -> None:
        runs = [run(1, "succeeded", 10), run(2, "failed", 20), run(3, "missed", None),
                run(4, "timed_out", 30), run(5, "running", None)]
        summary = job_summary(job(), "a", runs, next_run=T0 + timedelta(days=1),
                              last_scheduled=T0 + timedelta(hours=5), created_at=T0,
                              missed_total=7)

        assert summary == {
            "schema_version": 1, "job_id": "a", "name": "Job A", "type": "docker",
            "schedule": "every day at 02:00 (Europe/Paris)", "enabled": True,
            "config_path": "jobs/a.yaml", "fingerprint": job().fingerprint,
            "next_run": "2026-03-02T02:00:00Z", "last_scheduled": "2026-03-01T07:00:00Z",
            "created_at": "2026-03-01T02:00:00Z",
            "last_run": {"run_id": "a-004", "status": "timed_out",
                         "finished_at": "2026-03-01T06:00:30Z", "duration_s": 30.0,
                         "exit_code": None, "next_retry_at": None},
            "last_success": "2026-03-01T03:00:10Z",
            "consecutive_failures": 2, "success_rate": 0.3333, "p95_duration_s": 30.0,
            "runs_counted": 3, "missed_total": 7, "active_runs": ["a-005"], "tokens": None,
            "retired": False,
        }
        assert list(load_yaml(dump_yaml(summary))) == sorted(summary)

    def test_defaults_count_from_the_runs(self) -> None:
        summary = job_summary(job(), "a", [run(1, "missed", None), run(2, "queued", None)])
        assert summary["missed_total"] == 1
        assert summary["active_runs"] == ["a-002"]
        assert summary["success_rate"] is None
        assert summary["last_run"]["status"] == "missed"

    def test_retired_job_keeps_identity_and_history_from_the_previous_summary(self) -> None:
        previous = job_summary(job(), "a", [run(1)], created_at=T0)
        later = T0 + timedelta(days=3)
        summary = job_summary(None, "a", [run(2, "failed")], created_at=later, previous=previous)

        assert summary["retired"] is True
        assert summary["enabled"] is False
        assert summary["next_run"] is None
        assert summary["name"] == "Job A"
        assert summary["created_at"] == "2026-03-01T02:00:00Z"
        assert summary["last_success"] == previous["last_success"]


class TestReconcilerStatus:
    def test_ready_after_a_clean_apply(self) -> None:
        status = reconciler_status(
            now=T0, applied_revision="abcdef123456", attempted_revision="abcdef123456",
            started_at=T0 - timedelta(hours=1), version="0.1.0", jobs=4,
            next_wakeup=T0 + timedelta(minutes=1), extra={"instance": "lab", "jobs": -1},
        )
        assert status["conditions"][0] == {
            "type": "Ready", "status": "True", "reason": "Succeeded",
            "message": "applied revision abcdef1", "last_transition": "2026-03-01T02:00:00Z",
        }
        assert [c["status"] for c in status["conditions"]] == ["True", "False", "False"]
        assert status["heartbeat"] == "2026-03-01T02:00:00Z"
        assert status["next_wakeup"] == "2026-03-01T02:01:00Z"
        assert (status["jobs"], status["version"], status["instance"]) == (4, "0.1.0", "lab")

    def test_manifest_problems_are_listed_and_make_ready_false(self) -> None:
        problems = [Problem("jobs/z.yaml", 3, "schedule.cron", "bad"),
                    Problem("jobs/b.yaml", 1, "id", "duplicate")]
        status = reconciler_status(now=T0, applied_revision="abcdef123456",
                                   attempted_revision="abcdef123456", problems=problems)
        ready = status["conditions"][0]
        assert (ready["status"], ready["reason"]) == ("False", "ManifestProblems")
        assert ready["message"] == (
            "2 problem(s) in jobs/b.yaml, jobs/z.yaml; those jobs keep their last good "
            "definition, the others are applied from abcdef1")
        assert [p["path"] for p in status["problems"]] == ["jobs/b.yaml", "jobs/z.yaml"]
        assert status["conditions"][2]["status"] == "False"  # not stalled: the rest runs

    def test_stalled_error_and_transition_times(self) -> None:
        ok = reconciler_status(now=T0, applied_revision="aaa", attempted_revision="aaa")
        later = T0 + timedelta(minutes=10)
        failing = reconciler_status(
            now=later, applied_revision="aaa", attempted_revision="bbb",
            error=SourceError("cannot reach git remote x", hint="is the server up?"),
            stalled=True, previous=ok,
        )
        ready, reconciling, stalled = failing["conditions"]
        assert ready["status"] == "False"
        assert ready["reason"] == "SourceError"
        assert ready["message"] == "cannot reach git remote x (hint: is the server up?)"
        assert ready["last_transition"] == "2026-03-01T02:10:00Z"
        assert reconciling["last_transition"] == "2026-03-01T02:00:00Z"  # unchanged: kept
        assert (stalled["status"], stalled["reason"]) == ("True", "SourceError")
        assert failing["applied_revision"] != failing["attempted_revision"]

    def test_transient_error_says_it_will_retry(self) -> None:
        status = reconciler_status(now=T0, applied_revision=None, attempted_revision="b",
                                   error=SourceError("timeout"), reconciling=True)
        reasons = [(c["type"], c["status"], c["reason"]) for c in status["conditions"]]
        assert reasons == [("Ready", "False", "SourceError"),
                           ("Reconciling", "True", "Progressing"),
                           ("Stalled", "False", "Retrying")]


def test_parse_status_tree_rebuilds_state_and_lists_bad_files() -> None:
    runs = [run(1), run(2, "running", None), run(1, job="b")]
    files = {run_path(r.job_id, r.run_id): render_run(r) for r in runs}
    files[job_path("a")] = dump_yaml(job_summary(job(), "a", runs[:2]))
    files[RECONCILER_PATH] = dump_yaml(
        reconciler_status(now=T0, applied_revision="x", attempted_revision="x"))
    files["status/runs/a/broken.yaml"] = b"run_id: [unclosed"
    files["status/runs/a/incomplete.yaml"] = b"run_id: only-this\n"
    files["status/README.md"] = b"ignored"

    tree = parse_status_tree(files)

    assert tree.reconciler["applied_revision"] == "x"
    assert set(tree.jobs) == {"a"}
    assert tree.jobs["a"]["active_runs"] == ["a-002"]
    assert set(tree.runs) == {"a-001", "a-002", "b-001"}
    assert tree.runs_for("a") == [runs[1], runs[0]]
    assert [entry.split(":")[0] for entry in tree.unreadable] == [
        "status/runs/a/broken.yaml", "status/runs/a/incomplete.yaml"]
