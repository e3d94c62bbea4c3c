"""The lease policy (reconciler/lease.py) as a table, and the lease file's round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from reconciler.lease import (
    Holder,
    Lease,
    LeaseTimes,
    Verdict,
    decide_lease,
    fence_holds,
    parse_lease,
)

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
ME = Holder("prod", "host-a", 100, "aaaa")
OTHER = Holder("prod", "host-b", 200, "bbbb")
RENEW_BEFORE = timedelta(seconds=30)  # a 60 s lease


def s(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


CASES = [
    # name (the rule), holder, expiry (by my clock), verdict
    ("no lease: take it", None, None, Verdict.ACQUIRE),
    ("an unreadable lease counts as none", None, s(50), Verdict.ACQUIRE),
    ("my lease with more than half left: lead, write nothing", ME, s(31), Verdict.LEAD),
    ("my lease with half left: renew", ME, s(30), Verdict.RENEW),
    ("my lease nearly out: renew", ME, s(1), Verdict.RENEW),
    ("my lease ran out unrenewed: take it again", ME, s(0), Verdict.ACQUIRE),
    ("my lease with unknown expiry: take it again", ME, None, Verdict.ACQUIRE),
    ("another daemon's live lease: stand by", OTHER, s(0.001), Verdict.STANDBY),
    ("another daemon's lease that ran out: take it over", OTHER, s(0), Verdict.ACQUIRE),
    ("another daemon's lease long gone: take it over", OTHER, s(-3600), Verdict.ACQUIRE),
    (
        "another start of my own instance on my host is another daemon",
        Holder("prod", "host-a", 100, "cccc"),
        s(10),
        Verdict.STANDBY,
    ),
]


@pytest.mark.parametrize(
    "holder, expiry, verdict", [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_decide_lease(holder, expiry, verdict) -> None:
    decision = decide_lease(holder, expiry, ME, NOW, RENEW_BEFORE)
    assert decision.verdict is verdict
    assert decision.reason


MARGIN = timedelta(seconds=10)  # a sixth of a 60 s lease
FENCE = [
    # name (the rule), leading, expiry (by my clock), may write or start without asking
    ("a leader with more than the margin left writes", True, s(10.001), True),
    ("a leader with a lease well ahead writes", True, s(59), True),
    ("a leader exactly at the margin asks first", True, s(10), False),
    ("a leader within the margin asks first", True, s(3), False),
    ("a leader whose lease ran out mid-tick asks first", True, s(0), False),
    ("a leader whose lease ran out long ago asks first", True, s(-45), False),
    ("a leader with an unknown expiry asks first", True, None, False),
    ("a standby never writes, whatever its last expiry", False, s(59), False),
]


@pytest.mark.parametrize(
    "leading, expiry, holds", [case[1:] for case in FENCE], ids=[case[0] for case in FENCE]
)
def test_fence_holds(leading, expiry, holds) -> None:
    assert fence_holds(leading, expiry, NOW, MARGIN) is holds


def test_a_standby_says_who_holds_the_lease_and_until_when() -> None:
    decision = decide_lease(OTHER, s(42), ME, NOW, RENEW_BEFORE)
    assert decision.reason == "prod on host-b (pid 200) holds the lease until 2026-11-22T12:00:42Z"


def test_lease_times_follow_the_length() -> None:
    times = LeaseTimes(60)
    assert times.renew_before == timedelta(seconds=30)
    assert times.margin == timedelta(seconds=10)
    assert times.check_every == timedelta(seconds=6)
    assert LeaseTimes(5).check_every == timedelta(seconds=1), "never more often than each second"


def test_the_lease_file_round_trips() -> None:
    lease = Lease(ME, acquired_at=s(-600), renewed_at=s(-5), seconds=60)
    data = lease.to_dict()
    assert data == {
        "schema_version": 1,
        "holder": {"instance": "prod", "host": "host-a", "pid": 100, "id": "aaaa"},
        "acquired_at": "2026-11-22T11:50:00Z",
        "renewed_at": "2026-11-22T11:59:55Z",
        "expires_at": "2026-11-22T12:00:55Z",
        "seconds": 60,
    }
    assert parse_lease(yaml.safe_load(yaml.safe_dump(data))) == lease


@pytest.mark.parametrize(
    "data",
    [None, [1, 2], {"holder": "me"}, {"holder": {"instance": "x"}},
     {"holder": {"instance": "x", "host": "h", "pid": "one", "id": "i"}, "acquired_at": "now",
      "renewed_at": "now", "seconds": 60}],
    ids=["empty", "a-list", "holder-not-a-mapping", "fields-missing", "bad-values"],
)
def test_what_is_not_a_lease_is_a_value_error(data) -> None:
    with pytest.raises(ValueError, match="not a lease"):
        parse_lease(data)
