"""Leadership (reconciler/leadership.py): two daemons and one lease, on MemoryLedger and on a
real GitLedger over a bare repo. Time is passed in, so a minute of lease takes no time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.gitutil import make_bare, push_files

from reconciler.errors import LedgerError, StatusQueued
from reconciler.gitrepo import GitMirror
from reconciler.interfaces import LeaseRead
from reconciler.leadership import Leadership
from reconciler.lease import LEASE_PATH, Holder
from reconciler.ledger.git import GitLedger
from reconciler.ledger.memory import MemoryLedger

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
LEASE = 60.0
A = Holder("prod", "host-a", 1001, "a-token")
B = Holder("prod", "host-b", 2002, "b-token")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(params=["memory", "git"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    """A factory of lease stores on one shared status branch (one per daemon)."""
    if request.param == "memory":
        shared = MemoryLedger()
        return lambda: shared
    bare = make_bare(tmp_path / "config.git")
    push_files(bare, "main", {"oven.yaml": "{}\n"})
    names = iter(range(100))
    return lambda: GitLedger(GitMirror(str(bare), tmp_path / f"mirror-{next(names)}.git"))


def daemon(stores: Callable[[], Any], me: Holder, alive: bool = True) -> Leadership:
    return Leadership(stores(), me, LEASE, alive=lambda pid: alive)


def test_the_first_daemon_leads_and_the_second_waits_naming_it(stores) -> None:
    a, b = daemon(stores, A), daemon(stores, B)

    assert a.step(at(0)) is True
    assert b.step(at(1)) is False
    assert b.holder == A
    assert b.reason.startswith("prod on host-a (pid 1001) holds the lease until")
    assert b"a-token" in (a.store.read_lease().content or b"")


def test_the_leader_renews_at_half_the_lease_and_writes_nothing_before(stores) -> None:
    a = daemon(stores, A)
    a.step(at(0))
    first = a.store.read_lease().version
    for second in range(1, 30):
        assert a.step(at(second)) is True
    assert a.store.read_lease().version == first, "no write before half the lease"

    assert a.step(at(30)) is True
    renewed = a.store.read_lease()
    assert renewed.version != first and b"renewed_at: '2026-11-22T12:00:30Z'" in (
        renewed.content or b""
    )


def test_a_dead_leader_is_taken_over_a_lease_after_its_last_renewal(stores) -> None:
    a, b = daemon(stores, A), daemon(stores, B)
    taken = None
    for tenth in range(0, 1500):
        now = at(tenth / 10)
        if now <= at(31):
            a.step(now)  # renews at 30; then the leader dies (SIGKILL) and never steps again
        if b.step(now):
            taken = now
            break
    assert taken is not None
    since_renewal = (taken - at(30)).total_seconds()
    assert LEASE <= since_renewal <= LEASE * 1.1 + 0.1, since_renewal  # + one standby read
    assert b"b-token" in (b.store.read_lease().content or b"")


def test_a_standby_whose_clock_runs_ahead_still_waits_a_whole_lease(stores) -> None:
    """Expiry is counted on the reader's clock from when it saw the lease, never from the
    time written in it: a standby an hour ahead must not take over a live leader."""
    a, b = daemon(stores, A), daemon(stores, B)
    a.step(at(0))
    ahead = 3600
    for second in range(1, 120):
        leading_a = a.step(at(second))
        leading_b = b.step(at(second + ahead))
        assert leading_a and not leading_b, second


class LosesTheRace:
    """B's lease store: right before B's write, A steps and takes the lease."""

    def __init__(self, store: Any, rival: Callable[[], Any]) -> None:
        self.store, self.rival = store, rival

    def read_lease(self) -> LeaseRead:
        return self.store.read_lease()  # type: ignore[no-any-return]

    def swap_lease(self, content: bytes, version: str | None, message: str) -> bool:
        self.rival()
        return self.store.swap_lease(content, version, message)  # type: ignore[no-any-return]

    def forget_queued(self) -> int:
        return self.store.forget_queued()  # type: ignore[no-any-return]


def test_a_lost_race_is_read_again_never_written_blindly(stores) -> None:
    a, b = daemon(stores, A), daemon(stores, B)
    b.store = LosesTheRace(b.store, lambda: a.step(at(0)))

    assert b.step(at(0)) is False
    assert a.leading is True
    assert "branch moved" in b.reason

    b.store = b.store.store
    assert b.step(at(0.1)) is False and b.holder == A
    assert b"a-token" in (b.store.read_lease().content or b"")


class Unreachable:
    """A lease store whose remote went away."""

    def read_lease(self) -> LeaseRead:
        raise LedgerError("cannot fetch from git remote: connection refused")

    def swap_lease(self, content: bytes, version: str | None, message: str) -> bool:
        raise LedgerError("cannot push to git remote: connection refused")


def test_a_leader_that_cannot_renew_stops_before_anyone_may_take_over(stores) -> None:
    a = daemon(stores, A)
    a.step(at(0))
    a.store = Unreachable()

    assert a.step(at(30)) is True, "still within its lease"
    assert a.step(at(49)) is True
    with pytest.raises(LedgerError, match="cannot read the lease, so this daemon does not"):
        a.step(at(50))  # a sixth of the lease before it runs out
    assert a.leading is False


@pytest.mark.parametrize("alive, takes_over", [(False, True), (True, False)],
                         ids=["its-process-is-gone", "its-process-runs"])
def test_an_earlier_start_of_this_daemon_on_this_host(stores, alive, takes_over) -> None:
    earlier = Holder("prod", "host-a", 999, "earlier-token")
    daemon(stores, earlier).step(at(0))

    restarted = daemon(stores, A, alive=alive)
    assert restarted.step(at(1)) is takes_over


def test_an_unreadable_lease_file_counts_as_none(stores, caplog) -> None:
    a = daemon(stores, A)
    read = a.store.read_lease()
    assert a.store.swap_lease(b"- not\n- a lease\n", read.version, "garbage")

    assert a.step(at(0)) is True
    assert "cannot be read" in caplog.text
    assert b"a-token" in (a.store.read_lease().content or b"")
    assert LEASE_PATH.endswith("lease.yaml")


# -- the fence: ``confirm`` right before a status write or a start ----------------------------


def test_confirm_costs_nothing_while_more_than_the_margin_is_left(stores) -> None:
    a = daemon(stores, A)
    a.step(at(0))
    a.store = Unreachable()  # any read or write would fail

    assert a.confirm(at(49.9)) is True  # the margin of a 60 s lease is 10 s
    assert a.leading


def test_confirm_renews_a_lease_that_ran_out_mid_tick_when_it_is_still_mine(stores) -> None:
    a = daemon(stores, A)
    a.step(at(0))
    first = a.store.read_lease().version

    assert a.confirm(at(75)) is True, "nobody took it: renewed by compare-and-swap"
    renewed = a.store.read_lease()
    assert renewed.version != first
    assert b"renewed_at: '2026-11-22T12:01:15Z'" in (renewed.content or b"")
    assert a.expiry == at(135) and a.leading


def test_confirm_stands_by_when_another_daemon_took_the_lease_mid_tick(stores) -> None:
    a, b = daemon(stores, A), daemon(stores, B)
    a.step(at(0))
    b.step(at(1))
    taken = None
    for second in range(2, 80):  # a's tick hangs: it does not step; b takes over
        if b.step(at(second)):
            taken = b.store.read_lease().version
            break
    assert taken is not None

    assert a.confirm(at(80)) is False
    assert not a.leading and a.holder == B
    assert "holds it now" in a.reason
    assert b.store.read_lease().version == taken, "a wrote nothing"
    assert a.step(at(80.5)) is False, "the next lease step stands by too"
    assert a.confirm(at(81)) is False, "a standby never passes the fence"


def test_confirm_stands_by_when_the_lease_cannot_be_read_past_the_margin(stores) -> None:
    a = daemon(stores, A)
    a.step(at(0))
    a.store = Unreachable()

    assert a.confirm(at(55)) is False  # no exception: the caller just does not write
    assert not a.leading
    assert "cannot read the lease" in a.reason


def test_confirm_stands_by_when_its_renewal_loses_the_race(stores) -> None:
    a, b = daemon(stores, A), daemon(stores, B)
    a.step(at(0))
    b.step(at(1))
    b.step(at(60.5))  # b counts from 1: not out yet
    a.store = LosesTheRace(a.store, lambda: b.step(at(62)))  # b takes it right before a's swap

    assert a.confirm(at(62)) is False
    assert not a.leading and "branch moved" in a.reason
    assert b.leading
    assert b"b-token" in (b.store.read_lease().content or b"")


def test_taking_the_lease_over_drops_writes_queued_before_the_other_daemon_led(
    tmp_path: Path,
) -> None:
    """A queued a status write while the remote was away and lost the lease; B led and
    recorded since. When A takes over again, its stale queue is dropped, never pushed on top
    of B's records. Its own lease taken back keeps the queue (nobody wrote in between)."""
    bare = make_bare(tmp_path / "config.git")
    push_files(bare, "main", {"oven.yaml": "{}\n"})
    ledger_a = GitLedger(GitMirror(str(bare), tmp_path / "a.git"), queue_dir=tmp_path / "qa")
    ledger_b = GitLedger(GitMirror(str(bare), tmp_path / "b.git"))
    a, b = Leadership(ledger_a, A, LEASE), Leadership(ledger_b, B, LEASE)
    ledger_a.fence(A.token)
    ledger_b.fence(B.token)
    run = "status/runs/j/j-1.yaml"

    def queue_while_away(content: bytes) -> None:
        away = bare.with_name("away.git")
        bare.rename(away)
        try:
            with pytest.raises(StatusQueued):
                ledger_a.write({run: content}, "a, while the remote is away")
        finally:
            away.rename(bare)

    assert a.step(at(0)) is True
    queue_while_away(b"status: running\n")
    assert a.step(at(61)) is True, "its own lease ran out: taken back"
    assert ledger_a.queued == 1, "nobody else led: the queue stays"
    queue_while_away(b"status: running\nlog: more\n")

    assert b.step(at(62)) is False  # first sight of a's renewal at 61
    assert b.step(at(122.5)) is True
    ledger_b.write({run: b"status: succeeded\n"}, "b adopted j-1 and recorded it")

    assert a.step(at(123)) is False and a.holder == B
    assert a.step(at(190)) is True, "b is gone: a takes over"
    assert ledger_a.queued == 0
    assert ledger_a.read()[run] == b"status: succeeded\n"
    ledger_a.write({"status/reconciler.yaml": b"jobs: 1\n"}, "a leads again")
    assert ledger_b.read()[run] == b"status: succeeded\n", "b's record stays"
