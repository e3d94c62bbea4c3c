"""GitMirror against real bare repos over a path, file:// and git:// (git daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import LedgerError, PushRejected, SourceError
from reconciler.gitrepo.mirror import GitMirror, redact_url


def test_fetch_mirrors_the_remote_branches(remote, push, tmp_path: Path) -> None:
    bare, url = remote
    main = push(bare, "main", {"oven.yaml": "a: 1\n", "jobs/x.yaml": "id: x\n"})
    other = push(bare, "feature", {"jobs/y.yaml": "id: y\n"})
    mirror = GitMirror(url, tmp_path / "mirror.git")

    heads = mirror.fetch()

    assert heads == {b"refs/heads/main": main.encode(), b"refs/heads/feature": other.encode()}
    assert mirror.resolve("main") == main
    assert mirror.resolve("origin/feature") == other
    assert mirror.resolve(main[:8]) == main
    assert mirror.read_files(main, ["oven.yaml", "jobs/"]) == {
        "oven.yaml": b"a: 1\n",
        "jobs/x.yaml": b"id: x\n",
    }


def test_fetch_follows_new_commits_and_deleted_branches(remote, push, git, tmp_path) -> None:
    bare, url = remote
    push(bare, "main", {"a.txt": "1"})
    push(bare, "gone", {"b.txt": "1"})
    mirror = GitMirror(url, tmp_path / "mirror.git")
    mirror.fetch()
    newer = push(bare, "main", {"a.txt": "2"})
    git("branch", "-D", "gone", cwd=bare)

    heads = mirror.fetch()

    assert set(heads) == {b"refs/heads/main"}
    assert mirror.local_tip("main") == newer
    assert mirror.local_tip("gone") is None
    assert mirror.read_files(newer) == {"a.txt": b"2"}


def test_unknown_revision_is_a_source_error(remote, push, tmp_path) -> None:
    bare, url = remote
    push(bare, "main", {"a.txt": "1"})
    mirror = GitMirror(url, tmp_path / "mirror.git")
    mirror.fetch()

    with pytest.raises(SourceError, match="unknown revision 'nope'") as caught:
        mirror.resolve("nope")
    assert caught.value.hint


def test_commit_and_push_are_seen_by_the_git_client(remote, push, git, tmp_path) -> None:
    bare, url = remote
    base = push(bare, "main", {"keep.txt": "k", "old/file.txt": "o"})
    mirror = GitMirror(url, tmp_path / "mirror.git")
    mirror.fetch()

    new = mirror.commit_files(
        base, {"status/a.yaml": b"x: 1\n", "old/file.txt": None, "missing.txt": None}, "msg"
    )
    mirror.push("main", new, base)

    assert git("rev-parse", "main", cwd=bare) == new
    assert git("ls-tree", "-r", "--name-only", "main", cwd=bare).split() == [
        "keep.txt",
        "status/a.yaml",
    ]
    assert git("log", "-1", "--format=%an <%ae>|%s", "main", cwd=bare) == (
        "Agent Oven <oven@localhost>|msg"
    )
    assert mirror.remote_tip("main") == new
    git("fsck", "--strict", cwd=bare)


def test_push_of_a_new_branch_as_root_commit(remote, push, git, tmp_path) -> None:
    bare, url = remote
    push(bare, "main", {"a.txt": "1"})
    mirror = GitMirror(url, tmp_path / "mirror.git")
    mirror.fetch()
    root = mirror.commit_files(None, {"status/r.yaml": b"r\n"}, "first")

    mirror.push("oven-status", root, None)

    assert git("show", "oven-status:status/r.yaml", cwd=bare) == "r"
    assert git("rev-list", "--count", "oven-status", cwd=bare) == "1"


def test_push_is_rejected_when_the_remote_moved(remote, push, git, tmp_path) -> None:
    bare, url = remote
    base = push(bare, "main", {"a.txt": "1"})
    mirror = GitMirror(url, tmp_path / "mirror.git")
    mirror.fetch()
    ours = mirror.commit_files(base, {"b.txt": b"2"}, "ours")
    theirs = push(bare, "main", {"c.txt": "3"})

    with pytest.raises(PushRejected):
        mirror.push("main", ours, base)
    with pytest.raises(PushRejected):
        mirror.push("main", ours, None)

    assert git("rev-parse", "main", cwd=bare) == theirs


def test_unreachable_git_daemon_is_a_clean_error(tmp_path) -> None:
    from socket import socket

    with socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mirror = GitMirror(f"git://127.0.0.1:{port}/x.git", tmp_path / "m.git")

    with pytest.raises(SourceError, match="connection refused") as caught:
        mirror.fetch()
    assert caught.value.hint == "is the remote URL right and the server up?"
    with pytest.raises(LedgerError, match="connection refused"):
        mirror.remote_tip("main")


def test_missing_local_remote_is_a_clean_error(tmp_path) -> None:
    mirror = GitMirror(str(tmp_path / "nothing-here"), tmp_path / "m.git")

    with pytest.raises(SourceError, match="no repository there"):
        mirror.fetch()


def test_bad_paths_are_refused(remote, tmp_path) -> None:
    _, url = remote
    mirror = GitMirror(url, tmp_path / "m.git")
    for bad in ("../x", "/abs", "a//b", ".git/config", ""):
        with pytest.raises(LedgerError):
            mirror.commit_files(None, {bad: b"x"}, "m")


def test_passwords_never_appear_in_messages() -> None:
    assert redact_url("https://bob:s3cret@example.com:8443/r.git") == (
        "https://bob:***@example.com:8443/r.git"
    )
    assert redact_url("/srv/repo.git") == "/srv/repo.git"


def test_credentials_in_the_url_stay_out_of_errors(tmp_path) -> None:
    from socket import socket

    with socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mirror = GitMirror(f"http://bob:s3cret-token@127.0.0.1:{port}/x.git", tmp_path / "m.git")

    with pytest.raises(SourceError) as caught:
        mirror.fetch()
    assert "s3cret-token" not in str(caught.value)
    assert "bob:***@127.0.0.1" in str(caught.value)
