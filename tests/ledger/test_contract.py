"""The Ledger contract, run against MemoryLedger and GitLedger (real git, path and git://)."""

from __future__ import annotations

import pytest

from reconciler.errors import LedgerError


def test_empty_before_the_first_write(kit) -> None:
    assert kit.ledger.read() == {}


def test_written_status_files_are_read_back(kit) -> None:
    sha = kit.ledger.write({"status/jobs/a.yaml": b"a: 1\n", "status/runs/a/r1.yaml": b"r\n"},
                           "oven: status 1 runs, 1 jobs @ abc1234")
    assert isinstance(sha, str) and sha
    assert kit.ledger.read() == {"status/jobs/a.yaml": b"a: 1\n", "status/runs/a/r1.yaml": b"r\n"}


def test_files_outside_status_are_not_read(kit) -> None:
    kit.ledger.write({"status/a.yaml": b"a\n", "notes.txt": b"n\n"}, "m")
    assert kit.ledger.read() == {"status/a.yaml": b"a\n"}


def test_none_deletes_and_deleting_a_missing_file_is_fine(kit) -> None:
    kit.ledger.write({"status/a.yaml": b"a\n", "status/b.yaml": b"b\n"}, "one")
    kit.ledger.write({"status/a.yaml": None, "status/never.yaml": None}, "two")
    assert kit.ledger.read() == {"status/b.yaml": b"b\n"}


def test_unchanged_content_makes_no_commit(kit) -> None:
    files = {"status/a.yaml": b"a\n"}
    assert kit.ledger.write(files, "one") is not None
    assert kit.ledger.write(files, "again") is None
    assert kit.ledger.write({}, "nothing") is None


def test_only_deletions_on_an_empty_ledger_change_nothing(kit) -> None:
    assert kit.ledger.write({"status/a.yaml": None}, "m") is None
    assert kit.ledger.read() == {}


def test_another_writer_between_read_and_write_loses_nothing(kit) -> None:
    kit.ledger.write({"status/runs/a/r1.yaml": b"ours-1\n"}, "one")
    kit.ledger.read()
    kit.other_write({"status/runs/b/x.yaml": "theirs\n"})

    kit.ledger.write({"status/runs/a/r2.yaml": b"ours-2\n"}, "two")

    assert kit.ledger.read() == {
        "status/runs/a/r1.yaml": b"ours-1\n",
        "status/runs/a/r2.yaml": b"ours-2\n",
        "status/runs/b/x.yaml": b"theirs\n",
    }


def test_a_rejected_push_is_written_again_on_the_new_tip(kit) -> None:
    kit.ledger.write({"status/runs/a/r1.yaml": b"ours-1\n"}, "one")
    kit.interfere_next({"status/runs/b/x.yaml": "theirs\n"})

    sha = kit.ledger.write({"status/runs/a/r2.yaml": b"ours-2\n"}, "two")

    assert sha is not None
    assert kit.ledger.read() == {
        "status/runs/a/r1.yaml": b"ours-1\n",
        "status/runs/a/r2.yaml": b"ours-2\n",
        "status/runs/b/x.yaml": b"theirs\n",
    }


def test_the_first_write_survives_a_branch_created_under_it(kit) -> None:
    kit.interfere_next({"status/runs/b/x.yaml": "theirs\n"})

    kit.ledger.write({"status/runs/a/r1.yaml": b"ours\n"}, "one")

    assert set(kit.ledger.read()) == {"status/runs/a/r1.yaml", "status/runs/b/x.yaml"}


def test_a_branch_that_never_stops_moving_is_a_ledger_error(kit) -> None:
    kit.ledger.attempts = 3
    for n in range(3):
        kit.interfere_next({f"status/runs/b/x{n}.yaml": "theirs\n"})

    with pytest.raises(LedgerError, match="3 times"):
        kit.ledger.write({"status/runs/a/r1.yaml": b"ours\n"}, "one")
    assert kit.ledger.write({"status/runs/a/r1.yaml": b"ours\n"}, "again") is not None
