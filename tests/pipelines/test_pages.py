"""What the pages show of an agent pipeline: the current stage, tokens, the pull request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from reconciler.model import ErrorInfo, RunRecord, StageRecord
from reconciler.status.view import Snapshot
from reconciler.web import format as fmt
from reconciler.web import queries
from reconciler.web.app import create_app

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def running_run(**changes: object) -> dict[str, object]:
    record = RunRecord(
        run_id="agent-m1",
        job_id="agent",
        trigger="manual",
        status="running",
        started_at=T0,
        stages=(
            StageRecord("review", "succeeded", T0, duration_s=12.0, commit="abc1234",
                        tokens={"input": 1200, "output": 300}),
            StageRecord("fix", "running", T0, attempt=2,
                        error=None),
        ),
    )
    return {**record.to_dict(), **changes}


def snapshot(run: dict[str, object]) -> Snapshot:
    job = {"name": "Agent", "type": "agent-pipeline", "active_runs": ["agent-m1"],
           "success_rate": None, "p95_duration_s": None, "consecutive_failures": 0,
           "tokens": {"last_run": {"input": 1500, "output": 350},
                      "last_7_days": {"input": 21000, "output": 4000}, "runs_7_days": 3}}
    return Snapshot(jobs={"agent": job}, runs={"agent-m1": run})


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        ([], None),
        ([{"name": "a", "status": "succeeded"}], None),
        ([{"name": "a", "status": "running"}], "a"),
        ([{"name": "a", "status": "running", "attempt": 3}], "a (attempt 3)"),
        ([{"name": "a", "status": "running"}, {"name": "b", "status": "running"}], "b"),
    ],
    ids=["no stages", "none running", "one running", "a retry", "the last one started"],
)
def test_the_current_stage_is_the_last_running_one(
    stages: list[dict[str, object]], expected: str | None
) -> None:
    assert queries.current_stage({"stages": stages}) == expected


@pytest.mark.parametrize(
    ("tokens", "text"),
    [(None, "—"), ({}, "—"), ({"input": 1500, "output": 250}, "1.5k in · 250 out"),
     ({"input": 2_500_000}, "2.5M in"), ({"cache_read": 5}, "—")],
)
def test_tokens_in_brief(tokens: dict[str, int] | None, text: str) -> None:
    assert fmt.tokens(tokens) == text


def test_only_http_links_are_links() -> None:
    assert queries.safe_link("https://github.com/o/r/pull/1") == "https://github.com/o/r/pull/1"
    assert queries.safe_link("javascript:alert(1)") is None
    assert queries.safe_link(None) is None


def test_the_run_page_shows_the_current_stage_tokens_and_pull_request() -> None:
    run = running_run(tokens={"input": 1200, "output": 300},
                      pull_request={"url": "https://github.com/o/r/pull/7", "number": 7,
                                    "branch": "p/x", "error": None})
    with TestClient(create_app(lambda: snapshot(run))) as client:
        page = client.get("/runs/agent-m1").text
    assert "<strong>fix (attempt 2)</strong>" in page
    assert "1.2k in · 300 out" in page
    assert 'href="https://github.com/o/r/pull/7"' in page
    assert "abc1234" in page, "each stage's commit"


def test_a_pull_request_that_failed_says_why_and_a_script_url_is_no_link() -> None:
    failed = running_run(pull_request={"url": None, "number": None, "branch": None,
                                       "error": "gh: <b>not logged in</b>"})
    evil = running_run(pull_request={"url": "javascript:alert(1)", "number": 1, "branch": None,
                                     "error": None})
    with TestClient(create_app(lambda: snapshot(failed))) as client:
        page = client.get("/runs/agent-m1").text
    assert "not opened: gh: &lt;b&gt;not logged in&lt;/b&gt;" in page
    with TestClient(create_app(lambda: snapshot(evil))) as client:
        page = client.get("/runs/agent-m1").text
    assert 'href="javascript' not in page and "<code>javascript:alert(1)</code>" in page


def test_a_stage_error_is_shown_escaped_under_its_name() -> None:
    run = running_run(stages=[StageRecord(
        "fix", "failed", T0, error=ErrorInfo("StageFailed", "<i>boom</i>", "")).to_dict()])
    with TestClient(create_app(lambda: snapshot(run))) as client:
        page = client.get("/runs/agent-m1").text
    assert "&lt;i&gt;boom&lt;/i&gt;" in page and "<i>boom</i>" not in page


def test_the_overview_shows_each_active_runs_stage_and_the_tokens_of_7_days() -> None:
    with TestClient(create_app(lambda: snapshot(running_run()))) as client:
        page = client.get("/").text
        feed = client.get("/api/v1/snapshot").json()
        job = client.get("/jobs/agent").text
    assert "· fix (attempt 2)" in page and "21.0k in · 4.0k out" in page
    assert feed["current_stages"] == {"agent-m1": "fix (attempt 2)"}
    assert "1.5k in · 350 out" in job and "21.0k in · 4.0k out" in job
