"""The ConfigSource contract, run against MemorySource, LocalSource (a plain directory and a
git checkout) and GitSource (real bare repos, over a path and git://).

What a source promises (reconciler/interfaces.py): ``fetch`` returns the head revision and
a new one when the branch moves; ``files`` returns oven.yaml and jobs/**/*.y(a)ml of a
revision and nothing else; an unknown revision or a missing repository is a ``SourceError``
with a hint. Older revisions stay readable where the kit says so (``old_revisions_readable``).
"""

from __future__ import annotations

import pytest

from reconciler.errors import SourceError

MANIFESTS = {
    "oven.yaml": "defaults: {}\n",
    "jobs/a.yaml": "id: a\n",
    "jobs/team/b.yml": "id: b\n",
}
OTHER_FILES = {
    "README.md": "hi\n",
    "jobs/notes.md": "not a manifest\n",
    "jobs/a.json": "{}\n",
    "other/c.yaml": "id: c\n",
    "sub/oven.yaml": "defaults: {}\n",
    "a.yaml": "id: top\n",
}


def encoded(files: dict[str, str]) -> dict[str, bytes]:
    return {path: text.encode() for path, text in files.items()}


def test_fetch_returns_the_head_revision(kit) -> None:
    head = kit.push({"jobs/a.yaml": "id: a\n"})

    assert kit.source.fetch() == head


def test_the_revision_stays_until_the_branch_moves(kit) -> None:
    first = kit.push({"jobs/a.yaml": "id: a\n"})
    assert kit.source.fetch() == first
    assert kit.source.fetch() == first

    second = kit.push({"jobs/a.yaml": "id: a2\n"})

    assert second != first
    assert kit.source.fetch() == second


def test_files_are_oven_yaml_and_job_manifests_only(kit) -> None:
    kit.push({**MANIFESTS, **OTHER_FILES})

    assert kit.source.files(kit.source.fetch()) == encoded(MANIFESTS)


def test_a_revision_without_manifests_has_no_files(kit) -> None:
    kit.push({"README.md": "nothing to run yet\n"})

    assert kit.source.files(kit.source.fetch()) == {}


def test_deleted_and_changed_manifests_are_seen_at_the_new_revision(kit) -> None:
    kit.push({"jobs/a.yaml": "id: a\n", "jobs/b.yaml": "id: b\n"})
    kit.source.fetch()
    kit.push({"jobs/a.yaml": None, "jobs/b.yaml": "id: b2\n", "jobs/c.yaml": "id: c\n"})

    files = kit.source.files(kit.source.fetch())

    assert files == {"jobs/b.yaml": b"id: b2\n", "jobs/c.yaml": b"id: c\n"}


def test_changing_the_returned_files_changes_nothing_in_the_source(kit) -> None:
    revision = kit.push({"jobs/a.yaml": "id: a\n"})
    kit.source.fetch()

    kit.source.files(revision).clear()

    assert kit.source.files(revision) == {"jobs/a.yaml": b"id: a\n"}


def test_an_older_revision_is_readable_or_refused_with_a_hint(kit) -> None:
    first = kit.push({"jobs/a.yaml": "id: a\n"})
    kit.source.fetch()
    kit.push({"jobs/a.yaml": None, "jobs/b.yaml": "id: b\n"})
    kit.source.fetch()

    if kit.old_revisions_readable:
        assert kit.source.files(first) == {"jobs/a.yaml": b"id: a\n"}
    else:  # never the files of another revision
        with pytest.raises(SourceError) as caught:
            kit.source.files(first)
        assert caught.value.hint


@pytest.mark.parametrize("revision", ["0" * 40, "1234567", "worktree:0000000000000000"])
def test_an_unknown_revision_is_a_source_error_with_a_hint(kit, revision) -> None:
    kit.push({"jobs/a.yaml": "id: a\n"})
    kit.source.fetch()

    with pytest.raises(SourceError) as caught:
        kit.source.files(revision)
    assert caught.value.hint


def test_a_missing_repository_is_a_source_error_with_a_hint(kit) -> None:
    with pytest.raises(SourceError) as caught:
        kit.missing().fetch()
    assert caught.value.hint
