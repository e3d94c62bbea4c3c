"""Status writes cost what they change: no fetch before a write, a push of exactly the new
objects, loose objects packed in the background (``gitrepo/packs.py``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dulwich.objects import ObjectID

from reconciler.gitrepo import GitMirror
from reconciler.gitrepo.packs import new_objects
from reconciler.gitrepo.repos import open_repo
from reconciler.ledger.git import GitLedger
from reconciler.source.git import GitSource


def counting_fetches(mirror: GitMirror) -> list[int]:
    calls: list[int] = []
    fetch = mirror.fetch

    def counted() -> dict[bytes, bytes]:
        calls.append(1)
        return fetch()

    mirror.fetch = counted  # type: ignore[method-assign]
    return calls


def loose_count(repo: Path) -> int:
    out = subprocess.run(
        ["git", "-C", str(repo), "count-objects", "-v"], capture_output=True, text=True, check=True
    ).stdout
    return int(dict(line.split(": ") for line in out.splitlines())["count"])


def test_writes_after_a_read_push_without_fetching(bare, remote_url, git, tmp_path) -> None:
    ledger = GitLedger(GitMirror(remote_url, tmp_path / "mirror.git"), "oven-status")
    ledger.write({"status/a.yaml": b"a: 0\n"}, "first")
    fetches = counting_fetches(ledger.mirror)

    for n in range(3):
        ledger.write({"status/a.yaml": f"a: {n + 1}\n".encode()}, f"write {n}")

    assert fetches == []
    assert git("show", "oven-status:status/a.yaml", cwd=bare) == "a: 3"
    assert git("rev-list", "--count", "oven-status", cwd=bare) == "4"
    git("fsck", "--strict", cwd=bare)


def test_a_rejected_push_fetches_once_and_keeps_both(bare, remote_url, push, git, tmp_path):
    ledger = GitLedger(GitMirror(remote_url, tmp_path / "mirror.git"), "oven-status")
    ledger.write({"status/a.yaml": b"a: 0\n"}, "first")
    theirs = push(bare, "oven-status", {"status/theirs.yaml": "t: 1\n"})
    fetches = counting_fetches(ledger.mirror)

    ledger.write({"status/a.yaml": b"a: 1\n"}, "second")

    assert fetches == [1]
    assert git("merge-base", "--is-ancestor", theirs, "oven-status", cwd=bare) == ""
    assert git("show", "oven-status:status/theirs.yaml", cwd=bare) == "t: 1"
    assert git("show", "oven-status:status/a.yaml", cwd=bare) == "a: 1"


def test_a_push_sends_only_the_objects_the_commit_adds(bare, git, tmp_path) -> None:
    ledger = GitLedger(GitMirror(str(bare), tmp_path / "mirror.git"), "oven-status")
    files = {f"status/runs/j{n}/r{m}.yaml": b"%d %d\n" % (n, m) for n in range(5) for m in range(5)}
    ledger.write(files, "many")
    git("repack", "-a", "-d", "-q", cwd=bare)
    assert loose_count(bare) == 0

    ledger.write({"status/runs/j3/new.yaml": b"new\n"}, "one more")

    # the commit, the trees /, status/, status/runs/, status/runs/j3/ and the blob
    assert loose_count(bare) == 6
    git("fsck", "--strict", cwd=bare)


def test_new_objects_are_what_git_lists(bare, push, git, tmp_path) -> None:
    old = push(bare, "main", {"a/x": "1\n", "a/y": "2\n", "b/z": "3\n"})
    push(bare, "main", {"a/x": "changed\n", "c/new/w": "4\n"})
    new = push(bare, "main", {"b/z": None, "a/y": "2\n", "d": "5\n"})
    expected = set(git("rev-list", "--objects", new, f"^{old}", cwd=bare).split())
    expected = {word for word in expected if len(word) == 40}

    repo = open_repo(str(bare))
    try:
        found = new_objects(repo.object_store, ObjectID(new.encode()), ObjectID(old.encode()))
        unrelated = new_objects(repo.object_store, ObjectID(old.encode()), ObjectID(new.encode()))
    finally:
        repo.close()

    assert found is not None and {obj.id.decode() for obj in found} == expected
    assert unrelated is None  # old does not lead to new: the caller lets dulwich walk


def test_loose_objects_are_packed_in_the_background(bare, git, tmp_path) -> None:
    mirror = GitMirror(str(bare), tmp_path / "mirror.git")
    ledger = GitLedger(mirror, "oven-status")
    for n in range(5):
        ledger.write({f"status/{n}.yaml": b"x\n"}, f"write {n}")
    assert loose_count(mirror.path) > 0

    mirror.maintenance.start()
    mirror.maintenance.wait(60)

    assert mirror.maintenance.packings == 1
    assert loose_count(mirror.path) == 0
    assert set(ledger.read()) == {f"status/{n}.yaml" for n in range(5)}
    git("fsck", "--strict", cwd=mirror.path)


def test_a_fetch_of_one_new_commit_copies_only_what_it_adds(bare, push, git, tmp_path) -> None:
    push(bare, "main", {f"jobs/t{n}/j{m}.yaml": f"id: j{m}\n" for n in range(3) for m in range(5)})
    source = GitSource(str(bare), "main", tmp_path / "state")
    source.fetch()
    git("repack", "-a", "-d", "-q", cwd=source.mirror.path)
    assert loose_count(source.mirror.path) == 0

    new = push(bare, "main", {"jobs/t1/new.yaml": "id: new\n"})

    assert source.fetch() == new
    # the commit, the trees /, jobs/, jobs/t1/ and the blob
    assert loose_count(source.mirror.path) == 5
    assert source.files(new)["jobs/t1/new.yaml"] == b"id: new\n"
    git("fsck", "--strict", cwd=source.mirror.path)
