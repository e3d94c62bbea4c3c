"""Parsed manifests cached by git blob id: the same answers as parsing, from memory or disk."""

from __future__ import annotations

import io
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.cli import Context, main
from reconciler.clock import FakeClock
from reconciler.manifests import load_tree, safe_yaml
from reconciler.manifests.cache import ParseCache, blob_id
from reconciler.manifests.safe_yaml import YamlProblem, load_document

JOB = (
    "id: job-{n}\nname: Job {n}\ntype: docker\nimage: busybox\n"
    "schedule: {{type: interval, every: 1m}}\n"
)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
OVEN = "defaults:\n  policy: {{concurrency: {mode}}}\n"


def repo(count: int, mode: str = "forbid") -> dict[str, bytes]:
    files = {f"jobs/job-{n}.yaml": JOB.format(n=n).encode() for n in range(count)}
    files["jobs/broken.yaml"] = b"id: [\n"
    files["oven.yaml"] = OVEN.format(mode=mode).encode()
    return files


def test_the_blob_id_is_gits(tmp_path: Path) -> None:
    data = b"id: x\n\x00binary\n"
    (tmp_path / "f").write_bytes(data)
    done = subprocess.run(
        ["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True, check=True
    )
    assert blob_id(data) == done.stdout.strip()


def test_a_second_load_parses_nothing_and_answers_the_same() -> None:
    cache = ParseCache()
    first = load_tree(repo(20), "a", cache=cache)
    assert (cache.hits, cache.misses) == (0, 21)

    second = load_tree(repo(20), "b", cache=cache)

    assert (cache.hits, cache.misses) == (21, 21)
    assert second.jobs == first.jobs and second.problems == first.problems
    assert second.problems[0].path == "jobs/broken.yaml"


def test_changed_defaults_are_a_new_context_not_a_stale_answer() -> None:
    cache = ParseCache()
    load_tree(repo(3), "a", cache=cache)

    state = load_tree(repo(3, mode="allow"), "b", cache=cache)

    assert cache.hits == 0
    assert {job.policy.concurrency for job in state.jobs.values()} == {"allow"}


def test_the_disk_cache_serves_the_next_process(tmp_path: Path) -> None:
    first = ParseCache(tmp_path / "cache")
    expected = load_tree(repo(10), "a", cache=first)
    first.save()
    [stored] = (tmp_path / "cache").iterdir()
    assert stored.stat().st_mode & 0o077 == 0
    assert (tmp_path / "cache").stat().st_mode & 0o077 == 0

    later = ParseCache(tmp_path / "cache")
    state = load_tree(repo(10), "a", cache=later)

    assert (later.hits, later.misses) == (11, 0)
    assert state == expected


@pytest.mark.parametrize("damage", ["garbage", "writable by others"])
def test_a_damaged_or_foreign_cache_file_is_ignored(tmp_path: Path, damage: str) -> None:
    cache = ParseCache(tmp_path / "cache")
    expected = load_tree(repo(3), "a", cache=cache)
    cache.save()
    [stored] = (tmp_path / "cache").iterdir()
    if damage == "garbage":
        stored.write_bytes(b"not a pickle")
    else:
        os.chmod(stored, 0o666)

    later = ParseCache(tmp_path / "cache")
    state = load_tree(repo(3), "a", cache=later)

    assert later.hits == 0
    assert state == expected


DOCUMENTS = [
    b"a: 1\nb: [x, {c: 2}]\nd: &anchor {e: 3}\nf: *anchor\n",
    b"a: 1\na: 2\n",
    b"a: !!python/object:os.system x\n",
    b"when: 2026-01-01T00:00:00Z\nn: 0x1f\nf: 1.5e3\nno: off\n",
    b"a: [\n",
    b"a: 'unclosed\n",
    b"---\na: 1\n---\nb: 2\n",
    b"a: \x07bell\n",
    "".join("  " * depth + f"k{depth}:\n" for depth in range(40)).encode() + b"  " * 40 + b"v\n",
    b"[" * 40 + b"]" * 40 + b"\n",
    b"- 1\n- 2\n",
    b"<<: {a: 1}\n",
    b"? [a, b]\n: c\n",
    b"",
    b"\xef\xbb\xbfa: 1\n",
]


@pytest.mark.parametrize("data", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_libyaml_and_the_pure_path_give_the_same_answer(data: bytes, monkeypatch) -> None:
    assert safe_yaml._CLoader is not None, "PyYAML without libyaml: the fast path is untested"

    def load() -> object:
        try:
            doc = load_document(data)
        except YamlProblem as problem:
            return problem
        return doc.data, doc.lines

    fast = load()
    monkeypatch.setattr(safe_yaml, "_CLoader", None)
    assert load() == fast


def test_oven_validate_keeps_a_cache_in_the_cache_dir(tmp_path: Path) -> None:
    root = tmp_path / "config"
    for path, data in repo(5).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    outputs = []
    for _ in range(2):
        out, err = io.StringIO(), io.StringIO()
        argv = ["validate", str(root), "--cache-dir", str(tmp_path / "cache")]
        code = main(argv, Context(clock=FakeClock(NOW), stdout=out, stderr=err))
        outputs.append((code, out.getvalue(), err.getvalue()))

    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 1 and "jobs/broken.yaml:" in outputs[0][1]
    assert [p.name.startswith("manifests-") for p in (tmp_path / "cache").iterdir()] == [True]
