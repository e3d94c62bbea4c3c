"""With two daemons, a killed leader that starts again as the standby delivers the messages it
had released (their commits are its own) and never the ones it held. Whole reconcile cycles
on real git (a bare repository, GitSource and GitLedger), the daemon's own notifier wiring
(``loop.observe_commits``) with its real outbox, a real Discord-like server; the engine is
the in-memory one (no job runs here) and the clock is a fake one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from support.chat_servers import chat_server
from support.gitutil import make_bare, push_files

from reconciler.clock import FakeClock
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.ledger.git import GitLedger
from reconciler.loop import observe_commits
from reconciler.notify import Notifier
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.telemetry import Telemetry

T0 = datetime(2026, 11, 22, 0, 0, 0, tzinfo=UTC)
OVEN_YAML = yaml.safe_dump(
    {
        "notifications": {
            "targets": {"team-discord": {"type": "discord", "urlSecret": "SBY_DISCORD_URL"}},
            "reconciler": ["team-discord"],
        }
    }
)


class Killed(BaseException):
    """The daemon dies here (SIGKILL): nothing after this line runs."""


def daemon(bare: Path, state: Path, clock: FakeClock, engine: MemoryEngine, url: str):
    """One daemon as ``oven run`` wires it (its notifier's thread is not started: the test
    calls what the thread calls, ``deliver_due``)."""
    state.mkdir(exist_ok=True)
    secrets = state / "secrets.env"
    secrets.write_text(f"SBY_DISCORD_URL={url}\n")
    settings = Settings(
        repo=str(bare),
        state_dir=state,
        heartbeat=0,  # every tick commits
        instance="ha",
        lease_seconds=30,
        secrets_file=secrets,
    )
    source = GitSource(str(bare), "main", state)
    reconciler = Reconciler(
        settings,
        source=source,
        executor=MemoryExecutor(engine, state_dir=state, instance="ha"),
        ledger=(ledger := GitLedger(source.mirror, "oven-status")),
        clock=clock,
        leases=ledger,
    )
    return reconciler, observe_commits(reconciler, settings, Telemetry())


def titles(notifier: Notifier, *, held: bool = False) -> list[str]:
    entries = notifier.outbox.held() if held else notifier.outbox.pending()
    return [entry.event.title for entry in entries]


def test_a_restarted_leader_delivers_what_it_released_while_standing_by(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = make_bare(tmp_path / "config.git")
    clock = FakeClock(T0)
    engine = MemoryEngine(clock)
    first = push_files(bare, "main", {"oven.yaml": OVEN_YAML, "jobs/a.yaml": "id: [a\n"})
    with chat_server("discord") as discord:
        a, a_notifier = daemon(bare, tmp_path / "a", clock, engine, discord.url)
        a.tick(fetch=True)  # leads, commits the bad revision and releases its message ...
        assert a.leading
        assert titles(a_notifier) == [f"Revision {first[:12]} has 1 manifest problem(s)"]

        second = push_files(bare, "main", {"jobs/b.yaml": "id: [b\n"})

        def killed(*args: object) -> None:
            raise Killed

        monkeypatch.setattr(a.ledger, "write", killed)
        with pytest.raises(Killed):
            a.tick(fetch=True)  # ... and is killed before it delivers, in the next commit
        monkeypatch.undo()
        told = f"Revision {second[:12]} has 2 manifest problem(s)"
        assert titles(a_notifier, held=True) == [told]

        b, b_notifier = daemon(bare, tmp_path / "b", clock, engine, discord.url)
        for _ in range(10):  # the lease runs out and b leads
            clock.advance(5)
            b.tick(fetch=True)
        assert b.leading and titles(b_notifier) == [told], "b commits and tells the second"

        again, again_notifier = daemon(bare, tmp_path / "a", clock, engine, discord.url)
        again.tick(fetch=True)
        assert not again.leading
        again_notifier.deliver_due()
    (message,) = discord.accepted
    assert message["embeds"][0]["title"] == f"Revision {first[:12]} has 1 manifest problem(s)"
    assert titles(again_notifier) == [], "delivered by the standby"
    assert titles(again_notifier, held=True) == [told], "its commit was not made: not sent"
