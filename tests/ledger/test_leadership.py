"""Leadership (reconciler/leadership.py): two daemons and one lease, on MemoryLedger and on a
real GitLedger over a bare repo. Time is passed in, so a minute of lease takes no time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.gitutil import make_bare, push_files

from reconciler.errors import LedgerError
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
