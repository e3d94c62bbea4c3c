"""LocalSource: a directory on disk (plain or a git checkout), watched with watchfiles."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from reconciler.errors import SourceError
from reconciler.manifests import Symlink
from reconciler.source.local import LocalSource


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_plain_directory_revision_is_a_content_hash(tmp_path):
    write(tmp_path, "oven.yaml", "a: 1\n")
    write(tmp_path, "jobs/x.yaml", "id: x\n")
    write(tmp_path, "jobs/skip.txt", "no\n")
    source = LocalSource(tmp_path)

    first = source.fetch()
    assert first.startswith("worktree:")
    assert source.fetch() == first
    assert source.files(first) == {"oven.yaml": b"a: 1\n", "jobs/x.yaml": b"id: x\n"}

    write(tmp_path, "jobs/x.yaml", "id: x2\n")
    second = source.fetch()
    assert second != first
    assert source.files(second)["jobs/x.yaml"] == b"id: x2\n"
    with pytest.raises(SourceError, match="no longer match"):
        source.files(first)


def test_symlinks_are_not_followed_but_handed_on_for_the_loader_to_report(tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("secret: 1\n")
    root = tmp_path / "repo"
    write(root, "jobs/a.yaml", "id: a\n")
    (root / "jobs" / "link.yaml").symlink_to(outside)

    source = LocalSource(root)
    files = source.files(source.fetch())
    assert files == {"jobs/a.yaml": b"id: a\n", "jobs/link.yaml": str(outside).encode()}
    assert isinstance(files["jobs/link.yaml"], Symlink), "the link's target, never its content"


def test_git_checkout_uses_head_sha_until_edited(tmp_path, git):
    git("init", "--quiet", "--initial-branch=main", str(tmp_path))
    write(tmp_path, "jobs/a.yaml", "id: a\n")
    write(tmp_path, "README.md", "not watched\n")
    git("add", ".", cwd=tmp_path)
    git("commit", "--quiet", "-m", "one", cwd=tmp_path)
    head = git("rev-parse", "HEAD", cwd=tmp_path)
    source = LocalSource(tmp_path)

    assert source.fetch() == head
    write(tmp_path, "README.md", "edits outside manifests do not matter\n")
    assert source.fetch() == head

    write(tmp_path, "jobs/a.yaml", "id: a-edited\n")
    edited = source.fetch()
    assert edited.startswith("worktree:")
    assert source.files(edited) == {"jobs/a.yaml": b"id: a-edited\n"}
    assert source.files(head) == {"jobs/a.yaml": b"id: a\n"}


def test_missing_directory_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        LocalSource(tmp_path / "nope").fetch()


def test_commit_revision_of_a_plain_directory_is_refused(tmp_path):
    write(tmp_path, "jobs/a.yaml", "id: a\n")
    with pytest.raises(SourceError, match="not a git repository"):
        LocalSource(tmp_path).files("0" * 40)


def test_wait_for_change_wakes_on_a_manifest_edit(tmp_path):
    write(tmp_path, "jobs/a.yaml", "id: a\n")
    source = LocalSource(tmp_path)
    timer = threading.Timer(0.5, write, (tmp_path, "jobs/b.yaml", "id: b\n"))
    timer.start()
    try:
        started = time.monotonic()
        assert source.wait_for_change(timeout=10) is True
        assert time.monotonic() - started < 8
    finally:
        timer.cancel()


def test_wait_for_change_ignores_other_files_and_times_out(tmp_path):
    write(tmp_path, "jobs/a.yaml", "id: a\n")
    source = LocalSource(tmp_path)
    timer = threading.Timer(0.2, write, (tmp_path, "notes.txt", "x\n"))
    timer.start()
    try:
        assert source.wait_for_change(timeout=1.0) is False
    finally:
        timer.cancel()


def test_steady_noise_in_other_files_does_not_extend_the_wait(tmp_path):
    write(tmp_path, "jobs/a.yaml", "id: a\n")
    source = LocalSource(tmp_path)
    stop = threading.Event()

    def noise() -> None:
        count = 0
        while not stop.wait(0.1):
            count += 1
            write(tmp_path, "log.txt", f"{count}\n")

    thread = threading.Thread(target=noise)
    thread.start()
    try:
        started = time.monotonic()
        assert source.wait_for_change(timeout=1.0) is False
        assert time.monotonic() - started < 3
    finally:
        stop.set()
        thread.join()
