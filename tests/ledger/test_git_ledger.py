"""GitLedger against real repositories, checked with the real `git` client."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import LeaseLost, LedgerError
from reconciler.gitrepo import GitMirror
from reconciler.lease import Holder, Lease
from reconciler.ledger.git import GitLedger
from reconciler.source.git import GitSource
from reconciler.status import commit_message, dump_yaml, parse_status_tree, render_run, run_path

T_LEASE = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def ledger_for(url: str, state: Path, branch: str = "oven-status", **kw) -> GitLedger:
    return GitLedger(GitMirror(url, state / "mirror.git"), branch, **kw)


def test_the_git_client_sees_the_status_branch(bare, remote_url, push, git, tmp_path) -> None:
    main = push(bare, "main", {"jobs/a.yaml": "id: a\n"})
    ledger = ledger_for(remote_url, tmp_path)
    message = commit_message(1, 1, main)

    sha = ledger.write({"status/jobs/a.yaml": b"job_id: a\n",
                        "status/runs/a/a-1.yaml": b"run_id: a-1\n"}, message)

    assert git("rev-parse", "oven-status", cwd=bare) == sha
    assert git("show", "oven-status:status/runs/a/a-1.yaml", cwd=bare) == "run_id: a-1"
    assert git("log", "--format=%an <%ae>%n%cn <%ce>%n%s", "oven-status", cwd=bare).splitlines() \
        == ["Agent Oven <oven@localhost>", "Agent Oven <oven@localhost>", message]
    assert git("rev-list", "--max-parents=0", "oven-status", cwd=bare) == sha  # orphan root
    assert git("rev-parse", "main", cwd=bare) == main  # main's history stays human
    git("fsck", "--strict", cwd=bare)


def test_status_on_the_manifests_branch(bare, remote_url, push, git, tmp_path) -> None:
    push(bare, "main", {"oven.yaml": "x: 1\n", "jobs/a.yaml": "id: a\n"})
    source = GitSource(remote_url, "main", tmp_path / "state")
    ledger = GitLedger(source.mirror, branch="main")

    sha = ledger.write({"status/reconciler.yaml": b"jobs: 1\n"}, "oven: status 0 runs, 1 jobs")
    theirs = push(bare, "main", {"jobs/b.yaml": "id: b\n"}, message="add b")
    again = ledger.write({"status/reconciler.yaml": b"jobs: 2\n"}, "oven: status 0 runs, 2 jobs")

    assert git("rev-parse", "main", cwd=bare) == again
    assert git("rev-list", "--count", "main", cwd=bare) == "4"
    assert git("merge-base", "--is-ancestor", theirs, again, cwd=bare) == ""
    assert sha != again
    assert source.fetch() == again
    assert source.files(again) == {"oven.yaml": b"x: 1\n", "jobs/a.yaml": b"id: a\n",
                                   "jobs/b.yaml": b"id: b\n"}
    assert ledger.read() == {"status/reconciler.yaml": b"jobs: 2\n"}


def test_a_real_race_between_two_reconcilers_loses_no_record(bare, remote_url, git, tmp_path):
    writers = [ledger_for(remote_url, tmp_path / f"r{n}", attempts=50) for n in range(2)]
    errors: list[BaseException] = []

    def work(n: int, ledger: GitLedger) -> None:
        try:
            for i in range(6):
                ledger.write({f"status/runs/j{n}/run-{i}.yaml": f"{n}-{i}\n".encode()}, f"w{n}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n, w)) for n, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    names = git("ls-tree", "-r", "--name-only", "oven-status", cwd=bare).split()
    expected = [f"status/runs/j{n}/run-{i}.yaml" for n in range(2) for i in range(6)]
    assert sorted(names) == sorted(expected)
    assert git("rev-list", "--count", "oven-status", cwd=bare) == "12"


def test_status_files_round_trip_through_git(bare, remote_url, tmp_path) -> None:
    from datetime import UTC, datetime

    from reconciler.model import RunRecord

    record = RunRecord("a-1", "a", "manual", "succeeded",
                       started_at=datetime(2026, 1, 1, tzinfo=UTC),
                       finished_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC), log_tail="ok\n")
    ledger = ledger_for(remote_url, tmp_path)
    ledger.write({run_path("a", "a-1"): render_run(record),
                  "status/reconciler.yaml": dump_yaml({"jobs": 1})}, "m")

    tree = parse_status_tree(ledger_for(remote_url, tmp_path / "fresh").read())

    assert tree.runs == {"a-1": record}
    assert tree.reconciler == {"jobs": 1}


def test_unreachable_remote_is_a_clean_ledger_error(tmp_path) -> None:
    from socket import socket

    with socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ledger = ledger_for(f"git://127.0.0.1:{port}/config.git", tmp_path)

    for call in (ledger.read, lambda: ledger.write({"status/a.yaml": b"a"}, "m")):
        with pytest.raises(LedgerError, match="connection refused") as caught:
            call()
        assert caught.value.hint == "is the remote URL right and the server up?"


def test_missing_repository_is_a_clean_ledger_error(tmp_path) -> None:
    with pytest.raises(LedgerError, match="no repository there"):
        ledger_for(str(tmp_path / "missing.git"), tmp_path).read()


@pytest.mark.parametrize("queue", ["memory", "state-dir"])
def test_a_reader_on_another_thread_never_loses_a_written_file(
    bare, remote_url, tmp_path, queue
) -> None:
    """A page reads runs the read model does not hold through ``read_known`` while the cycle
    writes: once a write is queued the reader sees it, and it never disappears for a moment
    between the push and the queue being emptied (the API once answered 200, 404, 200)."""
    queue_dir = tmp_path / "queue" if queue == "state-dir" else None
    ledger = ledger_for(remote_url, tmp_path, queue_dir=queue_dir)
    ledger.write({"status/reconciler.yaml": b"jobs: 0\n"}, "first")
    paths = [f"status/runs/j/j-{i}.yaml" for i in range(15)]
    lost: list[str] = []
    done = threading.Event()

    def read() -> None:
        seen: set[str] = set()
        while not done.is_set():
            found = ledger.read_known(["status/runs/j"])
            lost.extend(sorted(seen - found.keys()))
            seen |= found.keys()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for path in paths:
            ledger.write({path: b"status: running\n"}, "start")
            ledger.write({"status/reconciler.yaml": path.encode()}, "heartbeat")
    finally:
        done.set()
        reader.join(timeout=60)
    assert lost == []
    assert sorted(ledger.read_known(["status/runs/j"])) == sorted(paths)


def _lease(token: str, host: str) -> str:
    holder = Holder("prod", host, 7, token)
    lease = Lease(holder, T_LEASE, T_LEASE, 30.0)
    return dump_yaml(lease.to_dict()).decode()




def test_a_fenced_ledger_never_writes_on_a_tip_whose_lease_names_another_daemon(
    bare, remote_url, push, git, tmp_path
) -> None:
    """The old leader's status write after the other daemon took the lease: refused, nothing
    pushed on top, its queued writes dropped (the new leader records what it sees)."""
    ledger = ledger_for(remote_url, tmp_path, queue_dir=tmp_path / "queue")
    push(bare, "oven-status", {"status/lease.yaml": _lease("a-token", "host-a")}, message="a")
    ledger.fence("a-token")
    mine = ledger.write({"status/runs/j/j-1.yaml": b"run_id: j-1\nstatus: running\n"}, "a 1")
    assert git("rev-parse", "oven-status", cwd=bare) == mine

    b_writes = {
        "status/lease.yaml": _lease("b-token", "host-b"),
        "status/runs/j/j-1.yaml": "run_id: j-1\nstatus: succeeded\n",
    }
    taken = push(bare, "oven-status", b_writes, message="b took the lease and recorded j-1")
    with pytest.raises(LeaseLost, match="held by prod on host-b .*no longer leads"):
        ledger.write(
            {
                "status/runs/j/j-1.yaml": b"run_id: j-1\nstatus: running\n",
                "status/runs/j/j-2.yaml": b"run_id: j-2\n",
            },
            "a 2",
        )

    assert git("rev-parse", "oven-status", cwd=bare) == taken, "nothing on top of b's commit"
    assert git("show", "oven-status:status/runs/j/j-1.yaml", cwd=bare).endswith("succeeded")
    assert ledger.queued == 0 and not list((tmp_path / "queue").glob("*.json"))
    assert "status/runs/j/j-2.yaml" not in ledger.read(), "a refused write is not read back"


def test_a_fenced_ledger_writes_under_its_own_lease_and_without_any(
    bare, remote_url, push, git, tmp_path
) -> None:
    ledger = ledger_for(remote_url, tmp_path)
    ledger.fence("a-token")
    first = ledger.write({"status/reconciler.yaml": b"jobs: 1\n"}, "no lease on the branch")
    assert git("rev-parse", "oven-status", cwd=bare) == first

    push(bare, "oven-status", {"status/lease.yaml": _lease("a-token", "host-a")}, message="lease")
    again = ledger.write({"status/reconciler.yaml": b"jobs: 2\n"}, "our own lease: rebased")
    assert git("rev-parse", "oven-status", cwd=bare) == again
    assert git("show", "oven-status:status/reconciler.yaml", cwd=bare) == "jobs: 2"

    unfenced = ledger_for(remote_url, tmp_path / "other")
    push(bare, "oven-status", {"status/lease.yaml": _lease("b-token", "host-b")}, message="b")
    unfenced.read()
    assert unfenced.write({"status/reconciler.yaml": b"jobs: 3\n"}, "no fence: any lease")
