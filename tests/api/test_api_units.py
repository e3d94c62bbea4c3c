"""Pure parts of the write API and its spool requests: the rate limiter on a fake clock, the
token store, the next-attempt ids, and the spool's cancel/retry requests as the daemon reads them.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from reconciler.api.ratelimit import RateLimiter
from reconciler.api.tokens import TokenStore, digest
from reconciler.errors import UsageError
from reconciler.runids import next_attempt_id
from reconciler.spool import BadRequest, RequestSpool, read_request


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_one_per_refill_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=2, clock=clock)  # one every 10 s
    assert [limiter.take("ci") for _ in range(3)] == [0, 0, 10]
    clock.now += 4
    assert limiter.take("ci") == 6  # 0.4 of a token refilled: 6 s to the next
    clock.now += 6
    assert limiter.take("ci") == 0
    assert limiter.take("other") == 0  # buckets are per token


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    clock.now += 3600
    assert [limiter.take("ci") for _ in range(4)] == [0, 0, 0, 1]


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_limit_that_allows_nothing_is_refused(per_minute: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(per_minute=per_minute, burst=burst)


def test_tokens_are_stored_hashed_scoped_and_revocable(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    token, text = store.create("ci", ["deploy", "deploy", "report"])
    assert text.startswith("oven_") and len(text) > 40
    assert token.jobs == ("deploy", "report") and token.sha256 == digest(text)
    assert text not in store.path.read_text()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    fresh = TokenStore(tmp_path)  # another process: the daemon
    found = fresh.lookup(text)
    assert found is not None and found.name == "ci"
    assert found.allows("deploy") and not found.allows("other")
    assert fresh.lookup(text + "x") is None and fresh.lookup("") is None
    assert store.revoke("ci") and not store.revoke("ci")
    assert fresh.lookup(text) is None  # re-read after the change


def test_a_token_without_jobs_may_act_on_every_job(tmp_path: Path) -> None:
    token, _ = TokenStore(tmp_path).create(None, [])
    assert token.jobs == ("*",) and token.allows("anything")
    assert token.name.startswith("token-")


@pytest.mark.parametrize("name", ["", "-x", "has space", "a" * 65, "a/b", "ci\n"])
def test_a_bad_token_name_is_a_usage_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError) as caught:
        TokenStore(tmp_path).create(name or "\n", [])
    assert caught.value.hint


def test_a_taken_token_name_and_an_unreadable_file_are_usage_errors(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.create("ci", [])
    with pytest.raises(UsageError, match="exists"):
        store.create("ci", [])
    store.path.write_text("{not json")
    with pytest.raises(UsageError, match="cannot read the API tokens"):
        TokenStore(tmp_path).all()


@pytest.mark.parametrize(
    ("run_id", "attempt", "retry_of", "expected"),
    [
        ("nightly-20260301-020000", None, None, "nightly-20260301-020000-a2"),
        ("nightly-20260301-020000-a2", None, None, "nightly-20260301-020000-a3"),
        ("nightly-20260301-020000-a9", 9, "nightly-20260301-020000", "nightly-20260301-020000-a10"),
        ("job-m0123456789ab", 1, None, "job-m0123456789ab-a2"),
        # the record wins over the id: a time-based manual id may end in "-a<digits>" by chance
        ("job-m20260301-020000-a12345", 1, None, "job-m20260301-020000-a12345-a2"),
    ],
)
def test_the_next_attempt_of_a_run(
    run_id: str, attempt: int | None, retry_of: str | None, expected: str
) -> None:
    assert next_attempt_id(run_id, attempt, retry_of) == expected


def test_cancel_and_retry_requests_read_back_as_written(tmp_path: Path) -> None:
    spool = RequestSpool(tmp_path)
    spool.submit_cancel("deploy", "deploy-1", requested_by="ci")
    assert spool.submit_retry("", "deploy-2", "deploy-2-a2")
    assert not spool.submit_retry("", "deploy-2", "deploy-2-a2")  # requested already
    cancel, retry = spool.pending()
    assert (cancel.kind, cancel.job_id, cancel.run_id, cancel.requested_by) == (
        "cancel",
        "deploy",
        "deploy-1",
        "ci",
    )
    assert (retry.kind, retry.job_id, retry.run_id, retry.target) == (
        "retry",
        "",
        "deploy-2",
        "deploy-2-a2",
    )


def test_manual_requests_carry_their_trigger_and_are_spooled_once_per_key(tmp_path: Path) -> None:
    spool = RequestSpool(tmp_path)
    first = spool.submit_manual("deploy", "k", trigger="webhook", requested_by="ci")
    again = spool.submit_manual("deploy", "k")
    assert first.new and not again.new and first.run_id == again.run_id
    [request] = spool.pending()
    assert (request.trigger, request.requested_by, request.idempotency_key) == (
        "webhook",
        "ci",
        "k",
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"kind": "cancel"}, "run_id is missing"),
        ({"kind": "retry", "run_id": "r"}, "target is missing"),
        ({"kind": "retry", "run_id": 3, "target": "t"}, "run_id is missing or not a string"),
        ({"kind": "manual", "job_id": "j", "trigger": "schedule"}, "trigger 'schedule'"),
        ({"kind": "manual", "job_id": "j", "requested_by": 7}, "requested_by"),
        ({"kind": "stop", "job_id": "j"}, "kind 'stop' is not one of"),
    ],
)
def test_a_bad_cancel_or_retry_request_says_why(tmp_path: Path, data: dict, reason: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BadRequest, match=reason):
        read_request(path)


def test_a_run_or_job_id_that_is_not_one_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    spool = RequestSpool(tmp_path / "state")
    with pytest.raises(UsageError, match="not a run id"):
        spool.submit_retry("", "../../escape", "../../escape-a2")
    with pytest.raises(UsageError, match="not a job id"):
        spool.submit_manual("../escape", "k")
    assert not (tmp_path / "escape-a2").exists() and spool.pending() == []
