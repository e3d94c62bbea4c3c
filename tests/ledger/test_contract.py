"""The Ledger contract, run against MemoryLedger and GitLedger (real git, path and git://)."""

from __future__ import annotations

import pytest

from reconciler.errors import LedgerError, StatusRewritten
from reconciler.lease import LEASE_PATH


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


def test_reads_only_the_paths_asked_for_and_read_known_asks_no_remote(kit) -> None:
    files = {
        "status/jobs/a.yaml": b"a\n", "status/runs/a/r1.yaml": b"1\n",
        "status/runs/ab/r2.yaml": b"2\n", "status/reconciler.yaml": b"r\n",
    }
    kit.ledger.write(files, "m")
    wanted = ["status/reconciler.yaml", "status/runs/a/"]
    expected = {p: files[p] for p in ("status/reconciler.yaml", "status/runs/a/r1.yaml")}
    assert kit.ledger.read(wanted) == expected
    assert kit.ledger.read_known(["status/runs/a", "status/nothing.yaml"]) == {
        "status/runs/a/r1.yaml": b"1\n"
    }
    kit.other_write({"status/runs/a/r3.yaml": "3\n"})
    assert kit.ledger.read_known(["status/runs/ab/r2.yaml"]) == {"status/runs/ab/r2.yaml": b"2\n"}
    assert "status/runs/a/r3.yaml" in kit.ledger.read(["status/runs/a"])  # read fetches


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


# -- a rewritten status branch ------------------------------------------------------------
def test_a_force_push_is_said_before_building_on_it(kit) -> None:
    kit.ledger.write({"status/runs/a/r1.yaml": b"ours\n"}, "one")
    kit.force_write({"status/other.yaml": "theirs\n"})

    with pytest.raises(StatusRewritten) as caught:
        kit.ledger.write({"status/runs/a/r2.yaml": b"ours-2\n"}, "two")
    assert caught.value.transient
    assert kit.ledger.read() == {"status/other.yaml": b"theirs\n"}  # nothing was written

    kit.ledger.write({"status/runs/a/r1.yaml": b"ours\n"}, "again")  # after a read: fine
    assert set(kit.ledger.read()) == {"status/other.yaml", "status/runs/a/r1.yaml"}


def test_a_read_accepts_the_branch_as_it_is(kit) -> None:
    kit.force_write({"status/other.yaml": "theirs\n"})  # before we ever wrote: nothing lost
    kit.ledger.read()
    kit.force_write({"status/other.yaml": "rewritten again\n"})
    kit.ledger.read()

    assert kit.ledger.write({"status/a.yaml": b"a\n"}, "one")


def test_others_building_on_our_commits_is_not_a_rewrite(kit) -> None:
    kit.ledger.write({"status/a.yaml": b"a\n"}, "one")
    for n in range(3):
        kit.other_write({f"status/theirs-{n}.yaml": "t\n"})
    assert kit.ledger.write({"status/b.yaml": b"b\n"}, "two")


# -- the leader lease: compare-and-swap, never replayed ------------------------------------
def test_no_lease_before_anyone_wrote_one(kit) -> None:
    read = kit.ledger.read_lease()
    assert (read.content, read.version) == (None, None)


def test_a_lease_is_swapped_in_only_on_the_tip_it_was_read_at(kit) -> None:
    kit.ledger.write({"status/a.yaml": b"a\n"}, "one")
    first = kit.ledger.read_lease()
    assert kit.ledger.swap_lease(b"holder: me\n", first.version, "lease")

    second = kit.ledger.read_lease()
    assert second.content == b"holder: me\n" and second.version != first.version
    assert not kit.ledger.swap_lease(b"holder: stale\n", first.version, "lease")
    assert kit.ledger.read_lease().content == b"holder: me\n"
    assert kit.ledger.read()[LEASE_PATH] == b"holder: me\n"
    assert kit.ledger.read()["status/a.yaml"] == b"a\n"


def test_a_lease_write_that_meets_another_writer_is_not_replayed(kit) -> None:
    read = kit.ledger.read_lease()
    kit.interfere_next({"status/runs/b/x.yaml": "theirs\n"})

    assert not kit.ledger.swap_lease(b"holder: me\n", read.version, "lease")
    assert LEASE_PATH not in kit.ledger.read()
    again = kit.ledger.read_lease()
    assert kit.ledger.swap_lease(b"holder: me\n", again.version, "lease")


def test_of_two_daemons_racing_for_the_lease_one_wins(kit) -> None:
    seen = kit.ledger.read_lease()
    won = [kit.ledger.swap_lease(f"holder: {name}\n".encode(), seen.version, name)
           for name in ("a", "b")]
    assert won == [True, False]
    assert kit.ledger.read_lease().content == b"holder: a\n"


def test_a_lease_write_does_not_hide_a_rewrite_from_status_writes(kit) -> None:
    kit.ledger.write({"status/a.yaml": b"a\n"}, "one")
    kit.force_write({"status/other.yaml": "theirs\n"})
    read = kit.ledger.read_lease()
    assert kit.ledger.swap_lease(b"holder: me\n", read.version, "lease")

    with pytest.raises(StatusRewritten):
        kit.ledger.write({"status/b.yaml": b"b\n"}, "two")


def test_verify_history_notices_a_force_push_without_a_write(kit) -> None:
    kit.ledger.write({"status/a.yaml": b"a\n"}, "one")
    kit.other_write({"status/theirs.yaml": "t\n"})
    fetch = getattr(getattr(kit.ledger, "mirror", None), "fetch", None)
    if fetch is not None:
        fetch()  # the daemon's config fetch brings the status branch every interval
    kit.ledger.verify_history()  # built on ours: fine

    kit.force_write({"status/other.yaml": "theirs\n"})
    if fetch is not None:
        fetch()
    with pytest.raises(StatusRewritten):
        kit.ledger.verify_history()
