"""GitSource: the config branch of a real remote, read without a worktree."""

from __future__ import annotations

import pytest

from reconciler.errors import SourceError
from reconciler.source.git import GitSource, is_manifest_path


def test_fetch_returns_the_branch_head_and_files_are_the_manifests(remote, push, tmp_path):
    bare, url = remote
    head = push(bare, "main", {
        "oven.yaml": "defaults: {}\n",
        "jobs/a.yaml": "id: a\n",
        "jobs/team/b.yml": "id: b\n",
        "jobs/notes.md": "not a manifest\n",
        "README.md": "hi\n",
        "other/c.yaml": "id: c\n",
    })
    source = GitSource(url, "main", tmp_path / "state")

    revision = source.fetch()

    assert revision == head
    assert source.files(revision) == {
        "oven.yaml": b"defaults: {}\n",
        "jobs/a.yaml": b"id: a\n",
        "jobs/team/b.yml": b"id: b\n",
    }


def test_old_revisions_stay_readable_after_a_new_fetch(remote, push, tmp_path):
    bare, url = remote
    first = push(bare, "main", {"jobs/a.yaml": "id: a\n"})
    source = GitSource(url, "main", tmp_path / "state")
    source.fetch()
    second = push(bare, "main", {"jobs/a.yaml": None, "jobs/b.yaml": "id: b\n"})

    assert source.fetch() == second
    assert source.files(first[:10]) == {"jobs/a.yaml": b"id: a\n"}
    assert source.files(second) == {"jobs/b.yaml": b"id: b\n"}


def test_missing_branch_names_the_branches_that_exist(remote, push, tmp_path):
    bare, url = remote
    push(bare, "main", {"jobs/a.yaml": "id: a\n"})
    source = GitSource(url, "production", tmp_path / "state")

    with pytest.raises(SourceError, match="branch 'production' not found") as caught:
        source.fetch()
    assert caught.value.hint == "branches there: main"


def test_empty_remote_says_so(remote, tmp_path):
    _, url = remote
    with pytest.raises(SourceError) as caught:
        GitSource(url, "main", tmp_path / "state").fetch()
    assert caught.value.hint == "the repository has no commits yet"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("oven.yaml", True),
        ("jobs/a.yaml", True),
        ("jobs/deep/er/a.yml", True),
        ("jobs/a.json", False),
        ("sub/oven.yaml", False),
        ("a.yaml", False),
    ],
)
def test_which_paths_are_manifests(path, expected):
    assert is_manifest_path(path) is expected
