"""The state file -> stages with tokens, commits, errors; the pull request; which file is ours."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.clock import utc
from reconciler.pipelines import StateFileError, choose_state_file, parse_state, token_totals

STATE: dict[str, Any] = {
    "runId": "1a2b3c4d-0000-4000-8000-000000000001",
    "status": "completed",
    "trigger": {"type": "manual", "commitSha": "f" * 40, "timestamp": "2026-03-02T02:00:00Z"},
    "stages": [
        {
            "stageName": "review",
            "status": "success",
            "startTime": "2026-03-02T02:00:01.000Z",
            "endTime": "2026-03-02T02:00:13.300Z",
            "duration": 12.3,
            "commitSha": "abc1234def",
            "tokenUsage": {
                "estimated_input": 900,
                "actual_input": 1200,
                "output": 300,
                "cache_creation": 10,
                "cache_read": 20,
                "num_turns": 4,
                "thinking_tokens": 5,
            },
            "retryAttempt": 0,
            "maxRetries": 2,
        },
        {
            "stageName": "fix",
            "status": "failed",
            "startTime": 1772416814000,
            "duration": 2,
            "error": {"message": "tests failed", "suggestion": "look at test_x"},
            "tokenUsage": {"estimated_input": 50, "output": 7},
            "retryAttempt": 1,
        },
        {"stageName": "docs", "status": "skipped"},
    ],
    "artifacts": {
        "totalDuration": 20.5,
        "pullRequest": {"url": "https://github.com/o/r/pull/7", "number": 7, "branch": "p/x"},
        "prError": None,
    },
}


def state(**changes: Any) -> bytes:
    return json.dumps({**STATE, **changes}).encode()


def test_stages_come_with_status_times_tokens_commit_and_error() -> None:
    parsed = parse_state(state())
    review, fix, docs = parsed.stages
    assert (review.name, review.status, review.duration_s) == ("review", "succeeded", 12.3)
    assert review.started_at == utc("2026-03-02T02:00:01Z")
    assert review.finished_at == utc("2026-03-02T02:00:13.3Z")
    assert review.commit == "abc1234def" and review.attempt == 1
    assert review.tokens == {
        "input": 1200, "output": 300, "cache_creation": 10, "cache_read": 20, "thinking": 5
    }
    assert (fix.status, fix.attempt, fix.tokens) == ("failed", 2, {"input": 50, "output": 7})
    assert fix.started_at == utc("2026-03-02T02:00:14Z"), "epoch milliseconds are read too"
    assert fix.error is not None
    assert (fix.error.message, fix.error.hint) == ("tests failed", "look at test_x")
    assert (docs.status, docs.tokens, docs.error) == ("skipped", None, None)
    assert parsed.status == "completed" and parsed.total_duration_s == 20.5
    assert parsed.pull_request == {
        "url": "https://github.com/o/r/pull/7", "number": 7, "branch": "p/x", "error": None
    }


def test_a_failed_pull_request_is_kept_as_its_error() -> None:
    parsed = parse_state(state(artifacts={"prError": "gh: not logged in"}))
    assert parsed.pull_request == {
        "url": None, "number": None, "branch": None, "error": "gh: not logged in"
    }


def test_no_pull_request_tried_is_none() -> None:
    assert parse_state(state(artifacts={})).pull_request is None


def test_token_totals_sum_each_count_over_the_stages() -> None:
    totals = token_totals(parse_state(state()).stages)
    assert totals == {
        "input": 1250, "output": 307, "cache_creation": 10, "cache_read": 20, "thinking": 5
    }
    assert token_totals(()) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"{not json", "not JSON"), (b"[1, 2]", "not a JSON object")],
    ids=["broken JSON", "a list"],
)
def test_an_unreadable_state_file_says_why(data: bytes, message: str) -> None:
    with pytest.raises(StateFileError, match=message):
        parse_state(data)


def test_odd_fields_are_passed_over_not_fatal() -> None:
    parsed = parse_state(json.dumps({"stages": [{"stageName": "a", "tokenUsage": "x",
                                                 "duration": "long", "startTime": "soon"}, 5]}
                                    ).encode())
    (stage,) = parsed.stages
    assert (stage.tokens, stage.duration_s, stage.started_at) == (None, None, None)


def test_the_run_id_line_picks_our_state_file_among_several() -> None:
    files = {
        "0000aaaa-1.json": state(trigger={"timestamp": "2026-03-03T00:00:00Z"}),
        "1a2b3c4d-0000-4000-8000-000000000001.json": state(),
        "notes.txt": b"x",
    }
    ours = files["1a2b3c4d-0000-4000-8000-000000000001.json"]
    assert choose_state_file(files, "1a2b3c4d") == ours
    assert choose_state_file(files, None) == files["0000aaaa-1.json"], "else the newest trigger"
    assert choose_state_file({"only.json": b"{}"}, "ffffffff") == b"{}"
    assert choose_state_file({}, "1a2b3c4d") is None
