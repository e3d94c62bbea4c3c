"""The lease step of the cycle: may this daemon schedule now? (``lease.py`` is the policy.)

Asked once per tick. A leader reads the lease only when it is due for renewal (half the
lease); a standby reads it every tenth of a lease, and at the moment it runs out by its own
count, and then takes it over: at most a lease and a tenth after the leader's last renewal.
Every write is one compare-and-swap (``interfaces.LeaseStore``); a lost race is read again at
the next tick, never written again blindly. A lease held by an earlier start of this daemon
(its id is remembered in the state directory; or same instance and host, and its process is
gone) is taken over at once, so a restart does not wait out its own lease. While the lease
cannot be read or written, a leader keeps leading only until ``margin`` before its lease runs
out; then it stops scheduling, like a standby, and the error says why.

A tick can outlast the lease (a swarm stop blocks up to 30 s), so the lease step at its start
is not enough: ``confirm`` fences the writes. Right before the cycle writes status or hands
starts to the engine it asks ``confirm(now)``: free while more than ``margin`` is left by this
daemon's clock (``lease.fence_holds``); otherwise it reads the lease and, only when the file
still names this very process, renews it by compare-and-swap and goes on. Anything else (the
lease names another daemon, the read or the swap fails or loses a race) stands by at once.
``confirm`` never takes a lease over: a daemon that stood by reads its book again from the
status branch before it leads again. A daemon that takes the lease over from another daemon
drops the status writes still queued in its state directory (``forget_queued``): they are
older than what the other daemon recorded since, and would overwrite it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.clock import iso
from reconciler.errors import LedgerError, OvenError
from reconciler.interfaces import LeaseRead, LeaseStore
from reconciler.lease import (
    Holder,
    Lease,
    LeaseTimes,
    Verdict,
    decide_lease,
    fence_holds,
    parse_lease,
)
from reconciler.status import dump_yaml, load_yaml, parse_status_tree
from reconciler.status.view import Snapshot

log = logging.getLogger("oven")
TOKEN_FILE = "lease-holder"  # in the state dir: the id of the last lease this daemon took


def this_process(instance: str) -> Holder:
    """The holder naming this process: instance, host, pid and a random id of this start."""
    return Holder(instance, socket.gethostname(), os.getpid(), secrets.token_hex(8))


def pid_alive(pid: int) -> bool:
    """Whether a process with this id may run on this host (for an earlier start of ourselves).

    Our own pid counts as alive: two containers on one host name (``--network host``) are
    both pid 1, and the other one may well be running.
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Seen:
    """A version of someone else's lease and when this daemon first saw it (its own clock)."""

    key: tuple[str, str]  # (holder id, renewed_at as written)
    at: datetime


class Leadership:
    """Holds the lease or waits for it; ``step(now)`` answers whether to schedule."""

    def __init__(
        self,
        store: LeaseStore,
        me: Holder,
        seconds: float,
        alive: Callable[[int], bool] = pid_alive,
        state_dir: Path | None = None,
    ) -> None:
        self.store, self.me, self.times, self.alive = store, me, LeaseTimes(seconds), alive
        self._memo = state_dir / TOKEN_FILE if state_dir is not None else None
        self._earlier_token = _read_token(self._memo)  # our state dir's last lease, if any
        self.leading = False
        self.reason = "the lease has not been read yet"
        self.holder: Holder | None = None  # who holds the lease, as last read
        self.expiry: datetime | None = None  # when the lease read last runs out, by our clock
        self._renewed: datetime | None = None  # our last successful write (its tick's start)
        self._acquired: datetime | None = None
        self._seen: Seen | None = None
        self._next_read: datetime | None = None
        self._logged_holder: Holder | None = None

    def step(self, now: datetime) -> bool:
        """Read, decide and write the lease when due; True when this daemon leads now."""
        due = self._next_read is None or now >= self._next_read or self._at_margin(now)
        if not due:
            return self.leading
        try:
            read = self.store.read_lease()
        except OvenError as exc:
            return self._trouble(now, "cannot read the lease", exc)
        lease = self._parse(read)
        self.holder = lease.holder if lease else None
        self.expiry = self._expiry(lease, now)
        decision = decide_lease(self.holder, self.expiry, self.me, now, self.times.renew_before)
        if decision.verdict is Verdict.LEAD:
            self._next_read = self.expiry - self.times.renew_before if self.expiry else now
            return self._become(True, decision.reason)
        if decision.verdict is Verdict.STANDBY:  # read again soon, and when it runs out
            self._next_read = min(now + self.times.check_every, self.expiry or now)
            return self._become(False, decision.reason)
        return self._write(now, read, decision.verdict, decision.reason)

    def confirm(self, now: datetime) -> bool:
        """Right before a status write or a start: True when this daemon may still act as the
        leader (see the module's docstring); False after standing by."""
        if fence_holds(self.leading, self.expiry, now, self.times.margin):
            return True
        if not self.leading:
            return False
        try:
            read = self.store.read_lease()
        except OvenError as exc:
            reason = f"cannot read the lease, and mine runs out: {exc.message}"
            return self._fenced_out(now, reason)
        lease = self._parse(read)
        if lease is None or lease.holder != self.me:
            self.holder = lease.holder if lease else None
            self.expiry = self._expiry(lease, now)
            who = self.holder.describe() if self.holder else "no daemon"
            return self._fenced_out(now, f"my lease ran out mid-tick and {who} holds it now")
        try:
            return self._write(now, read, Verdict.RENEW, "renewed my lease before writing")
        except LedgerError:
            return False  # ``_trouble`` stood by and logged why

    def lost(self, now: datetime, reason: str) -> None:
        """The status branch says another daemon holds the lease (a refused status write):
        stand by, and read the lease at once to know who holds it and until when."""
        self._fenced_out(now, reason)
        try:
            self.step(now)
        except LedgerError as exc:  # the lease step of the next tick reads it again
            log.info("lease: %s", exc.message)

    def _fenced_out(self, now: datetime, reason: str) -> bool:
        self._next_read = now  # the next lease step reads and decides afresh
        return self._become(False, reason)

    # -- writing --------------------------------------------------------------------------
    def _write(self, now: datetime, read: LeaseRead, verdict: Verdict, reason: str) -> bool:
        renewing = verdict is Verdict.RENEW and self._acquired is not None
        acquired = self._acquired if renewing and self._acquired else now
        lease = Lease(self.me, acquired, now, self.times.seconds)
        action = "renewed" if renewing else "taken"
        message = f"oven: lease {action} by {self.me.describe()}"
        try:
            won = self.store.swap_lease(dump_yaml(lease.to_dict()), read.version, message)
        except OvenError as exc:
            return self._trouble(now, "cannot write the lease", exc)
        if not won:
            self._next_read = None  # someone moved the branch: read again next tick
            return self._become(False, f"{reason}, but the branch moved; reading it again")
        self._acquired, self._renewed = acquired, now
        if not renewing:
            _write_token(self._memo, self.me.token)
            if self._another_daemon(self.holder):  # it led since our queued writes were made
                self.store.forget_queued()
        self.holder, self.expiry = self.me, now + self.times.length
        self._next_read = self.expiry - self.times.renew_before
        return self._become(True, reason if renewing else f"took the lease: {reason}")

    # -- time -----------------------------------------------------------------------------
    def _expiry(self, lease: Lease | None, now: datetime) -> datetime | None:
        """When ``lease`` runs out by this daemon's clock (see ``lease.py``)."""
        if lease is None:
            return None
        holder = lease.holder
        if holder == self.me:
            return self._renewed + self.times.length if self._renewed else None
        if holder.token == self._earlier_token or (
            holder.earlier_self(self.me) and not self.alive(holder.pid)
        ):
            return now  # an earlier start of this very daemon: it is gone
        key = (holder.token, lease.renewed_at.isoformat())
        if self._seen is None or self._seen.key != key:
            self._seen = Seen(key, now)
        return self._seen.at + timedelta(seconds=lease.seconds)

    def _another_daemon(self, holder: Holder | None) -> bool:
        """Whether ``holder`` is another daemon, not this one or an earlier start of it."""
        if holder is None or holder == self.me or holder.token == self._earlier_token:
            return False
        return not (holder.earlier_self(self.me) and not self.alive(holder.pid))

    def _at_margin(self, now: datetime) -> bool:
        """A leader whose lease runs out within ``margin``: it must renew or stop now."""
        return self.leading and self.expiry is not None and now >= self.expiry - self.times.margin

    def _trouble(self, now: datetime, what: str, exc: OvenError) -> bool:
        self._next_read = now + self.times.check_every
        if self.leading and not self._at_margin(now):
            log.warning("lease: %s: %s; still leading until %s", what, exc.message, self.expiry)
            return True
        self._become(False, f"{what}: {exc.message}")
        raise LedgerError(f"{what}, so this daemon does not schedule: {exc.message}",
                          hint=exc.hint) from exc

    def _become(self, leading: bool, reason: str) -> bool:
        """Take the new role; the log says when the role or the holder changes."""
        if leading != self.leading or self.holder != self._logged_holder:
            log.warning("lease: %s (%s)", "leading" if leading else "standby", reason)
            self._logged_holder = self.holder
        self.leading, self.reason = leading, reason
        return leading

    def _parse(self, read: LeaseRead) -> Lease | None:
        if read.content is None:
            return None
        try:
            return parse_lease(load_yaml(read.content))
        except (LedgerError, ValueError) as exc:
            log.warning("lease: status/lease.yaml cannot be read (%s); it counts as no lease", exc)
            return None


def _read_token(path: Path | None) -> str | None:
    try:
        return path.read_text().strip() or None if path is not None else None
    except OSError:
        return None


def _write_token(path: Path | None, token: str) -> None:
    if path is None:
        return
    try:
        path.write_text(token + "\n")
    except OSError as exc:  # only a restart waits longer for its own lease
        log.warning("cannot remember the lease holder id in %s: %s", path, exc)


def standby_view(
    previous: Snapshot,
    files: Mapping[str, bytes] | None,
    leadership: Leadership | None,
    error: OvenError | None,
) -> Snapshot:
    """What a standby's page shows: the leader's status files (``files``, or the ones shown
    before when None) with ``role: standby`` and why in the reconciler document."""
    if files is not None:
        tree = parse_status_tree(files)
        reconciler: dict[str, Any] = dict(tree.reconciler)
        jobs = {job_id: dict(summary) for job_id, summary in tree.jobs.items()}
        runs = {run_id: record.to_dict() for run_id, record in tree.runs.items()}
    else:
        reconciler, jobs, runs = dict(previous.reconciler), previous.jobs, previous.runs
    holder = leadership.holder if leadership else None
    reconciler["role"] = "standby"
    reconciler["standby"] = {
        "reason": error.message if error is not None else (leadership.reason if leadership else ""),
        "leader": holder.describe() if holder else None,
        "lease_until": iso(leadership.expiry) if leadership else None,
    }
    return Snapshot(reconciler=reconciler, jobs=jobs, runs=runs)
