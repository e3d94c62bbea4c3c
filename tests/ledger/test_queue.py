"""The status queue: writes made while the remote is unreachable wait in the state directory and
arrive in order, one commit each, when it returns, also after a restart (a new ledger on the
same state dir). Real bare repos, the real `git` client, and a remote that is renamed away."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import gitutil

from reconciler.errors import LedgerError, StatusQueued
from reconciler.gitrepo import GitMirror
from reconciler.ledger.git import GitLedger
from reconciler.ledger.queue import StatusQueue


def ledger_at(remote: str, state: Path) -> GitLedger:
    return GitLedger(GitMirror(remote, state / "mirror.git"), queue_dir=state / "status-queue")


def messages(bare: Path) -> list[str]:
    return gitutil.git("log", "--format=%s", "--reverse", "oven-status", cwd=bare).splitlines()


def test_writes_of_an_outage_arrive_in_order_also_across_a_restart(tmp_path: Path) -> None:
    bare = gitutil.make_bare(tmp_path / "config.git")
    away = tmp_path / "away.git"
    state = tmp_path / "state"
    ledger = ledger_at(str(bare), state)
    ledger.write({"status/runs/a/1.yaml": b"one\n"}, "run 1")

    bare.rename(away)  # the remote is gone
    with pytest.raises(StatusQueued, match="1 status write"):
        ledger.write({"status/runs/a/2.yaml": b"two\n"}, "run 2")
    with pytest.raises(StatusQueued, match="2 status write"):
        ledger.write({"status/runs/a/1.yaml": None, "status/runs/a/3.yaml": b"3\n"}, "run 3")

    restarted = ledger_at(str(bare), state)  # a new process on the same state dir
    seen = restarted.read()
    assert seen == {"status/runs/a/2.yaml": b"two\n", "status/runs/a/3.yaml": b"3\n"}
    with pytest.raises(StatusQueued, match="3 status write"):
        restarted.write({"status/runs/a/4.yaml": b"4\n"}, "run 4")

    away.rename(bare)  # the remote is back
    restarted.write({"status/runs/a/5.yaml": b"5\n"}, "run 5")
    assert messages(bare) == ["run 1", "run 2", "run 3", "run 4", "run 5"]
    names = gitutil.git("ls-tree", "-r", "--name-only", "oven-status", cwd=bare).split()
    assert names == [f"status/runs/a/{n}.yaml" for n in (2, 3, 4, 5)]
    assert restarted.queued == 0 and not list((state / "status-queue").glob("*.json"))


def test_queued_writes_go_on_top_of_what_another_writer_pushed_meanwhile(tmp_path: Path) -> None:
    bare = gitutil.make_bare(tmp_path / "config.git")
    away = tmp_path / "away.git"
    ledger = ledger_at(str(bare), tmp_path / "state")
    ledger.write({"status/x.yaml": b"x\n"}, "ours 1")
    bare.rename(away)
    with pytest.raises(StatusQueued):
        ledger.write({"status/y.yaml": b"y\n"}, "ours 2")
    away.rename(bare)
    gitutil.push_files(bare, "oven-status", {"status/theirs.yaml": "t\n"}, "theirs")
    ledger.write({"status/z.yaml": b"z\n"}, "ours 3")
    assert messages(bare) == ["ours 1", "theirs", "ours 2", "ours 3"]


def test_without_a_queue_dir_a_failed_write_is_a_plain_ledger_error(tmp_path: Path) -> None:
    ledger = GitLedger(GitMirror(str(tmp_path / "missing.git"), tmp_path / "m.git"))
    with pytest.raises(LedgerError) as caught:
        ledger.write({"status/x.yaml": b"x\n"}, "x")
    assert not isinstance(caught.value, StatusQueued)
    assert ledger.queued == 0, "nothing is kept in memory after the failure"


def test_queue_entries_survive_as_files_and_an_unreadable_one_is_skipped(tmp_path: Path) -> None:
    queue = StatusQueue(tmp_path / "q")
    queue.append({"status/a": b"\x00\xffbinary", "status/b": None}, "first")
    queue.append({"status/c": b"c"}, "second")
    (tmp_path / "q" / "000000003.json").write_text("{broken")
    again = StatusQueue(tmp_path / "q").entries()
    assert [(e.seq, e.message) for e in again] == [(1, "first"), (2, "second")]
    assert again[0].files == {"status/a": b"\x00\xffbinary", "status/b": None}
    queue.drop(1)
    assert [e.seq for e in queue.entries()] == [2]
