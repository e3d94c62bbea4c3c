"""A daemon killed between a status commit and its outbox write loses no message: the run
events are written to the outbox *held* before the commit, released once it went through,
and a restart releases the held ones whose commit the status branch shows. Real git (a bare
repository, the daemon's own ``GitLedger``), a real Discord-like server, the real outbox."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from notify.test_delivery import Setup, event, start, started, wait_for  # noqa: F401 - fixture
from notify.test_listeners import FAILED, report
from support import gitutil
from support.chat_servers import chat_server

from reconciler.gitrepo import GitMirror
from reconciler.history import RunHistory
from reconciler.ledger.git import GitLedger
from reconciler.ledger.memory import MemoryLedger
from reconciler.model import Problem
from reconciler.notify import Notifier
from reconciler.recorder import Recorder
from reconciler.status.changes import CycleReport, ReconcilerFacts

NOTIFY_DISCORD = "team-slack"  # the target name the listener tests' job notifies


def ledger(bare: Path, state: Path) -> GitLedger:
    return GitLedger(GitMirror(f"file://{bare}", state / "mirror.git"), queue_dir=state / "q")


def status_on_branch(bare: Path, state: Path):
    """What a restarted daemon asks: the run's status on the branch (``RunHistory.find``)."""
    history = RunHistory(ledger(bare, state), keep_runs=50)
    history.start()

    def status(run_id: str) -> str | None:
        found = history.find(run_id)
        return str(found["status"]) if found else None

    return status


def test_killed_after_the_commit_the_message_is_sent_once_after_the_restart(
    tmp_path: Path, started: list[Notifier]  # noqa: F811 - the fixture
) -> None:
    bare = gitutil.make_bare(tmp_path / "config.git")
    with chat_server("discord") as discord:
        setup = Setup(tmp_path / "state", {NOTIFY_DISCORD: discord})
        dying = setup.notifier()  # never started: killed before it could deliver
        recorder = Recorder(ledger(bare, tmp_path / "a"), heartbeat=60)
        recorder.stagers.append(dying.stage)  # ... and no listener: killed right after the push
        assert recorder.record(report(FAILED), None).committed
        assert [e.held for e in dying.outbox.entries.values()] == [True]

        restarted = start(setup.notifier(), started)
        restarted.recover(status_on_branch(bare, tmp_path / "b"), {})
        wait_for(lambda: discord.accepted)
        # the restarted daemon sees the transition again (its status is on the branch)
        restarted.outbox.add(
            [e.event for e in restarted.outbox.entries.values()], datetime.now(UTC)
        )
        restarted.wake()
        time.sleep(0.5)
    assert len(discord.accepted) == 1
    assert discord.accepted[0]["embeds"][0]["title"].endswith("failed")


BAD = "c" * 40  # a config revision with a broken manifest


def bad_commit() -> CycleReport:
    problem = Problem("jobs/broken.yaml", 2, "name", "expected a string")
    return replace(report(), reconciler=ReconcilerFacts("a" * 40, BAD, (problem,)))


def restored(bare: Path, state: Path) -> Recorder:
    """A restarted daemon's recorder: it starts from what the status branch holds."""
    recorder = Recorder(ledger(bare, state), heartbeat=60)
    recorder.restore(*RunHistory(recorder.ledger, keep_runs=50).start())
    return recorder


def test_killed_after_a_bad_commit_is_recorded_it_is_told_once_after_the_restart(
    tmp_path: Path, started: list[Notifier]  # noqa: F811 - the fixture
) -> None:
    bare = gitutil.make_bare(tmp_path / "config.git")
    with chat_server("discord") as discord:
        setup = Setup(tmp_path / "state", {NOTIFY_DISCORD: discord})
        dying = setup.notifier()
        recorder = Recorder(ledger(bare, tmp_path / "a"), heartbeat=60)
        recorder.stagers.append(dying.stage)  # ... and no listener: killed right after the push
        assert recorder.record(bad_commit(), BAD).committed

        restarted = start(setup.notifier(), started)
        again = restored(bare, tmp_path / "b")
        assert again.cache.reconciler["attempted_revision"] == BAD  # the commit went through
        restarted.recover(lambda run_id: None, again.cache.reconciler)
        again.stagers.append(restarted.stage)
        again.listeners.append(restarted.listen)
        assert again.record(bad_commit(), BAD).committed  # the first cycle after the restart
        wait_for(lambda: discord.accepted)
        time.sleep(0.5)
    (message,) = discord.accepted
    assert message["embeds"][0]["title"] == f"Revision {BAD[:12]} has 1 manifest problem(s)"


class Killed(BaseException):
    """The daemon dies here (SIGKILL): nothing after this line runs."""


def test_killed_before_a_bad_commit_is_recorded_it_is_told_once_it_is(
    tmp_path: Path,
    started: list[Notifier],  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bare = gitutil.make_bare(tmp_path / "config.git")
    with chat_server("discord") as discord:
        setup = Setup(tmp_path / "state", {NOTIFY_DISCORD: discord})
        dying = setup.notifier()
        recorder = Recorder(ledger(bare, tmp_path / "a"), heartbeat=0)  # every step commits
        recorder.stagers.append(dying.stage)
        assert recorder.record(report(), "a" * 40).committed  # a good revision before it

        def killed(*args: object) -> None:
            raise Killed

        monkeypatch.setattr(recorder.ledger, "write", killed)
        with pytest.raises(Killed):
            recorder.record(bad_commit(), BAD)
        assert [e.event.kind for e in dying.outbox.held()] == ["bad_commit"]

        restarted = start(setup.notifier(), started)
        again = restored(bare, tmp_path / "b")
        restarted.recover(lambda run_id: None, again.cache.reconciler)
        time.sleep(1.0)
        assert discord.requests == [], "the branch does not show the bad commit: not told yet"
        again.stagers.append(restarted.stage)
        again.listeners.append(restarted.listen)
        assert again.record(bad_commit(), BAD).committed
        wait_for(lambda: discord.accepted)
        time.sleep(0.5)
    (message,) = discord.accepted
    assert message["embeds"][0]["title"] == f"Revision {BAD[:12]} has 1 manifest problem(s)"


def test_killed_before_the_commit_nothing_is_sent_until_the_commit_is_made(
    tmp_path: Path, started: list[Notifier]  # noqa: F811 - the fixture
) -> None:
    with chat_server("discord") as discord:
        setup = Setup(tmp_path / "state", {NOTIFY_DISCORD: discord})
        dying = setup.notifier()
        failing = MemoryLedger(attempts=1)
        failing.reject_next(lambda: failing.external_write({"status/other.yaml": b"x"}))
        recorder = Recorder(failing, heartbeat=60)
        recorder.stagers.append(dying.stage)
        recorder.listeners.append(dying.listen)
        assert not recorder.record(report(FAILED), None).committed  # the push failed

        restarted = start(setup.notifier(), started)
        restarted.recover(lambda run_id: "running", {})  # the branch has the run still running
        time.sleep(1.0)
        assert discord.requests == [], "a transition that was never committed is not told"

        again = Recorder(MemoryLedger(), heartbeat=60)  # the run is recorded after the restart
        again.stagers.append(restarted.stage)
        again.listeners.append(restarted.listen)
        assert again.record(report(FAILED), None).committed
        wait_for(lambda: discord.accepted)
        time.sleep(0.5)
    assert len(discord.accepted) == 1


def test_held_messages_are_never_sent_and_are_forgotten_after_a_week(tmp_path: Path) -> None:
    with chat_server("discord") as discord:
        setup = Setup(tmp_path / "state", {NOTIFY_DISCORD: discord})
        notifier = setup.notifier()
        notifier.stage(report(FAILED), {}, {})
        assert notifier.outbox.pending() == [] and len(notifier.outbox.held()) == 1
        assert notifier.deliver_due() > 0 and discord.requests == []
        later = datetime.now(UTC) + timedelta(days=9)
        notifier.outbox.add([], later)  # nothing new: no rewrite, nothing pruned
        assert len(notifier.outbox.held()) == 1
        notifier.outbox.add([event("run/other/failed", NOTIFY_DISCORD)], later)
        assert notifier.outbox.held() == []
