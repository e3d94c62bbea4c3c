"""Who may schedule: the leader lease on the status branch, decided without I/O or clock.

Two daemons on one repository and status branch must never both start, stop or record runs.
The one holding ``status/lease.yaml`` leads; it renews the lease while it lives, and only a
compare-and-swap push takes or renews it (``interfaces.LeaseStore``), so of two daemons
racing for it exactly one wins. The other stays standby until the lease runs out.

When a lease runs out is judged on the *reader's own clock*: a standby counts the lease's
length from the moment it first saw that version of the file, never from the time written in
it, so two hosts whose clocks disagree still cannot both lead. The holder counts from just
before its own successful push, which is never later than anyone else could have seen it,
and stops scheduling ``margin`` before that count runs out. The times in the file are for
people. One exception: a holder that was this very daemon's instance on this host and whose
process is gone (a restart, a SIGKILL) is taken over at once; ``Leadership`` checks that.

This module is the policy: the file's content (``Lease``), ``decide_lease``, a table of
(holder, expiry, me, now) -> acquire / renew / lead / standby, and ``fence_holds``: right
before a leader writes status or hands a start to the engine, whether its lease (by its own
clock) still has more than ``margin`` left. A tick can outlast the lease (a swarm stop that
blocks 30 s); when the fence does not hold, the leader must read the lease again and renew it
by compare-and-swap before it writes, or stand by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from reconciler.clock import iso, utc

__all__ = [
    "LEASE_PATH",
    "Holder",
    "Lease",
    "LeaseDecision",
    "LeaseTimes",
    "Verdict",
    "decide_lease",
    "fence_holds",
    "parse_lease",
]

LEASE_PATH = "status/lease.yaml"
LEASE_SCHEMA_VERSION = 1
MIN_SECONDS = 3.0  # a shorter lease cannot be renewed in time by a daemon that ticks each second


@dataclass(frozen=True)
class Holder:
    """One daemon process: which reconciler instance, where, and a random id of this start."""

    instance: str  # --instance
    host: str  # the host name
    pid: int
    token: str  # random per process start: tells two starts of one pid apart

    def describe(self) -> str:
        return f"{self.instance} on {self.host} (pid {self.pid})"

    def earlier_self(self, me: Holder) -> bool:
        """An earlier start of ``me``'s instance on ``me``'s host (another process)."""
        return (self.instance, self.host) == (me.instance, me.host) and self.token != me.token


@dataclass(frozen=True)
class LeaseTimes:
    """How long a lease lasts and what its holder does when (all derived from its length)."""

    seconds: float  # the lease's length

    @property
    def length(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    @property
    def renew_before(self) -> timedelta:
        """The holder renews once less than half the lease is left."""
        return self.length / 2

    @property
    def margin(self) -> timedelta:
        """The holder stops scheduling this long before its lease runs out (by its clock)."""
        return self.length / 6

    @property
    def check_every(self) -> timedelta:
        """A standby reads the lease this often (so it takes over within a tenth of a lease)."""
        return max(self.length / 10, timedelta(seconds=1))


@dataclass(frozen=True)
class Lease:
    """The content of ``status/lease.yaml``."""

    holder: Holder
    acquired_at: datetime  # when this holder took the lease
    renewed_at: datetime  # its last renewal (its clock)
    seconds: float  # how long a renewal lasts

    @property
    def expires_at(self) -> datetime:
        """When the lease runs out by the holder's clock (readers count on their own)."""
        return self.renewed_at + timedelta(seconds=self.seconds)

    def to_dict(self) -> dict[str, Any]:
        holder = self.holder
        return {
            "schema_version": LEASE_SCHEMA_VERSION,
            "holder": {
                "instance": holder.instance,
                "host": holder.host,
                "pid": holder.pid,
                "id": holder.token,
            },
            "acquired_at": iso(self.acquired_at),
            "renewed_at": iso(self.renewed_at),
            "expires_at": iso(self.expires_at),
            "seconds": self.seconds,
        }


def parse_lease(data: Any) -> Lease:
    """The lease in a loaded ``lease.yaml``; ValueError when it is not one."""
    if not isinstance(data, Mapping) or not isinstance(data.get("holder"), Mapping):
        raise ValueError("not a lease: expected a mapping with a holder")
    holder = data["holder"]
    try:
        return Lease(
            holder=Holder(
                instance=str(holder["instance"]),
                host=str(holder["host"]),
                pid=int(holder["pid"]),
                token=str(holder["id"]),
            ),
            acquired_at=utc(str(data["acquired_at"])),
            renewed_at=utc(str(data["renewed_at"])),
            seconds=float(data["seconds"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a lease: {exc}") from exc


class Verdict(Enum):
    ACQUIRE = "acquire"  # write a lease naming me (compare-and-swap), then lead
    RENEW = "renew"  # write my lease again with a new renewal time (compare-and-swap)
    LEAD = "lead"  # my lease has time left: schedule, write nothing
    STANDBY = "standby"  # another daemon's lease has time left: wait, write nothing


@dataclass(frozen=True)
class LeaseDecision:
    verdict: Verdict
    reason: str  # a sentence for the log and the status page


def decide_lease(
    holder: Holder | None,
    expiry: datetime | None,
    me: Holder,
    now: datetime,
    renew_before: timedelta,
) -> LeaseDecision:
    """What ``me`` does about the lease ``holder`` holds until ``expiry`` (by ``me``'s clock).

    ``holder`` None: no lease, or one that cannot be read. ``expiry`` None: unknown, which
    counts as run out.
    """
    if holder is None:
        return LeaseDecision(Verdict.ACQUIRE, "no daemon holds the lease")
    ran_out = expiry is None or now >= expiry
    if holder == me:
        if ran_out:
            return LeaseDecision(Verdict.ACQUIRE, "my lease ran out before I renewed it")
        assert expiry is not None
        if expiry - now <= renew_before:
            return LeaseDecision(Verdict.RENEW, f"my lease runs out at {iso(expiry)}")
        return LeaseDecision(Verdict.LEAD, f"I hold the lease until {iso(expiry)}")
    if ran_out:
        return LeaseDecision(
            Verdict.ACQUIRE, f"the lease of {holder.describe()} ran out; taking it over"
        )
    return LeaseDecision(
        Verdict.STANDBY, f"{holder.describe()} holds the lease until {iso(expiry)}"
    )


def fence_holds(leading: bool, expiry: datetime | None, now: datetime, margin: timedelta) -> bool:
    """Whether a leader may write status or start runs at ``now`` without asking the remote:
    it leads, and its lease (``expiry``, by its own clock) has more than ``margin`` left.
    False means: read and renew the lease first (compare-and-swap), or stand by."""
    return leading and expiry is not None and now < expiry - margin
