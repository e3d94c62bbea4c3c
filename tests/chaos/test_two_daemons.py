"""Two `oven run` daemons on one repo and status branch, on the real Docker engine.

Both run as replicas of one reconciler (same ``--instance``, own state dirs) with a 10 s lease,
once on one host and once as two hosts (each daemon in a UTS namespace with its own host
name, as on two machines or in two containers). The test watches them, SIGKILLs the leader,
restarts it, and checks: exactly one of them leads at any moment (the other's ``/readyz``
says standby and its page shows Standby); the standby takes over within the lease and a
tenth (on one host at once: it sees the holder's process is gone); no run id starts twice;
every container the engine started has a final run file; success rates stay true. About a
minute each.

``make soak`` runs the same with more and longer rounds (``OVEN_SOAK_ROUNDS``,
``OVEN_SOAK_SECONDS``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest
from chaos.gitchaos import (  # noqa: F401  (engine is a fixture)
    Creations,
    HostDaemon,
    alive,
    assert_no_record_lost,
    daemon,
    engine,
    new_instance,
    ours,
    wind_down,
)
from scenarios.harness import Daemon, StatusBranch, make_bare, manifest, push_files, wait_until

pytestmark = pytest.mark.docker

LEASE = 10.0
ROUNDS = int(os.environ.get("OVEN_SOAK_ROUNDS", "1"))  # kills of the leader
PHASE = float(os.environ.get("OVEN_SOAK_SECONDS", "30"))  # both running, between kills
OK, BAD, SLOW = ours("ha-ok"), ours("ha-bad"), ours("ha-slow")
JOBS = {
    OK: {"schedule": {"type": "interval", "every": "2s"}},
    BAD: {"schedule": {"type": "interval", "every": "3s"}, "command": ["sh", "-c", "exit 3"]},
    SLOW: {  # often running when the leader dies: the new leader adopts it
        "schedule": {"type": "interval", "every": "4s"},
        "command": ["sh", "-c", "sleep 3; echo slow"],
    },
}


def to_datetime(value: object) -> datetime:
    """A time as YAML loaded it (a datetime, or the ISO text with a trailing Z)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def standby(daemon_: Daemon) -> bool | None:
    """True: standby; False: leads (or is getting ready); None: not answering."""
    try:
        status, _, body = daemon_.get("/readyz")
    except OSError:
        return None
    return status == 503 and json.loads(body).get("status") == "standby"


def roles(pair: list[Daemon]) -> list[bool | None]:
    return [standby(d) for d in pair]


def watch(pair: list[Daemon], seconds: float) -> int:
    """Sample both daemons' roles every half second: never two leaders, never two standbys
    for long. Returns the index of the leader at the end."""
    end = time.monotonic() + seconds
    both_standby = 0
    while time.monotonic() < end:
        now = roles(pair)
        assert now != [False, False], "two daemons lead at once"
        both_standby = both_standby + 1 if now == [True, True] else 0
        assert both_standby < 6, "nobody leads"
        alive(*pair)
        time.sleep(0.5)
    return roles(pair).index(False)


@pytest.mark.parametrize("hosts", ["one-host", "two-hosts"])
def test_two_daemons_one_leads_and_the_other_takes_over(
    tmp_path: Path, engine: docker.DockerClient, hosts: str  # noqa: F811
) -> None:
    bare = make_bare(tmp_path / "config.git")
    push_files(bare, "main", {f"jobs/{j}.yaml": manifest(j, **spec) for j, spec in JOBS.items()})
    status = StatusBranch(bare)
    instance = new_instance()
    creations = Creations(engine, instance)
    lease = ("--lease-seconds", f"{LEASE:g}")
    if hosts == "one-host":
        pair = [daemon(str(bare), tmp_path / name / "state", instance, *lease) for name in "ab"]
    else:
        pair = [HostDaemon(str(bare), tmp_path / name / "state", instance, f"oven-ha-{name}",
                           *lease) for name in "ab"]
        for d in pair:
            d.state_dir.parent.mkdir(parents=True)
    pair[0].start()
    time.sleep(0.3)
    pair[1].start()
    takeovers: list[float] = []
    lease_left: list[float] = []  # at each takeover: seconds past the killed leader's renewal
    try:
        wait_until(lambda: sorted(map(str, roles(pair))) == ["False", "True"], 30,
                   "one leader and one standby")
        page = pair[roles(pair).index(True)].get("/")[2]
        assert "Standby" in page and "holds the lease" in page
        for _ in range(ROUNDS):
            leader = watch(pair, PHASE)
            other = pair[1 - leader]
            pair[leader].kill()
            killed_at = time.monotonic()
            renewed = status.read("status/lease.yaml")["renewed_at"]  # the dead leader's last
            wait_until(lambda o=other: standby(o) is False, LEASE * 1.1 + 5, "a takeover")
            takeovers.append(time.monotonic() - killed_at)
            lease_left.append((datetime.now(UTC) - to_datetime(renewed)).total_seconds())
            pair[leader].start()  # back as a standby
            wait_until(lambda i=leader: standby(pair[i]) is True, 30, "the restarted standby")
        watch(pair, min(PHASE, 15))

        wind_down(bare, status, JOBS, engine, instance)
    finally:
        for daemon_ in pair:
            daemon_.stop()

    started = creations.stop()
    records = assert_no_record_lost(started, status, JOBS)
    by_job = Counter((r["job_id"], r["status"]) for r in records.values())
    # a run in flight when wind_down removes the jobs is cancelled as JobRemoved (any job, most
    # often the slow one); nothing else may cancel a run here
    cancelled = [r for r in records.values() if r["status"] == "cancelled"]
    assert all(r["error"]["class"] == "JobRemoved" for r in cancelled), cancelled
    assert set(by_job) - {(job, "cancelled") for job in JOBS} <= {
        (OK, "succeeded"), (BAD, "failed"), (SLOW, "succeeded")}, by_job
    assert by_job[(OK, "succeeded")] >= 5 and by_job[(BAD, "failed")] >= 3
    assert all(
        r["exit_code"] == 3
        for r in records.values()
        if r["job_id"] == BAD and r["status"] == "failed"  # not one cancelled at wind-down
    )
    logs = "\n".join(d.output() for d in pair)
    starts = Counter(re.findall(r"run (\S+): started", logs))
    assert starts and max(starts.values()) == 1, "a run id was started by both daemons"
    assert "container exists already" not in logs
    for taken, since_renewal in zip(takeovers, lease_left, strict=True):
        if hosts == "one-host":  # the holder's process is gone: no need to wait its lease out
            assert taken <= 3, takeovers
        else:
            # counted on the standby's clock from when it saw the last renewal, never earlier
            # than the renewal's own time plus the lease (the time is written at the start of
            # the renewing tick, to the millisecond; the test's reading of the clock is later)
            assert since_renewal >= LEASE, (takeovers, lease_left)
            # and at most a tenth more (a standby reads each second), plus a slow tick
            assert taken <= LEASE * 1.1 + 3, takeovers
    after = [round(t, 1) for t in takeovers]
    print(f"\n{hosts}: {ROUNDS} leader kill(s), takeovers after {after} s (lease {LEASE:g} s, "
          f"{[round(t, 1) for t in lease_left]} s after the last renewal), "
          f"{len(started)} containers, statuses {dict(by_job)}")
