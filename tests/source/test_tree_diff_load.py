"""A revision loaded through the tree diff equals the same revision loaded whole.

The git sources list a commit's manifests as the last listing plus the paths the tree diff
names (``gitrepo.trees.list_files``), and ``load_tree`` derives that revision's jobs from the
earlier load by those paths alone (``manifests.loaded``). Hypothesis drives a real git repo
(the git CLI commits) through sequences of edits — new, changed, broken and deleted jobs,
duplicate ids, symlinks, oven.yaml changes — and after every commit compares the derived
load with a full load of the same files by a fresh cache: same jobs, problems, settings and
plan. Examples: ``OVEN_FUZZ_EXAMPLES`` (default 30 here), derandomized.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.gitutil import git, make_bare, push_files

from reconciler.manifests import load_tree
from reconciler.manifests.cache import ParseCache
from reconciler.manifests.files import TreeFiles
from reconciler.planner import apply_revision
from reconciler.source.checkout import Checkout
from reconciler.source.git import GitSource

NOW = datetime(2026, 12, 1, tzinfo=UTC)
EXAMPLES = int(os.environ.get("OVEN_FUZZ_EXAMPLES", "30"))
ALLOW = ("/srv/oven",)
JOB = (
    "id: {id}\nname: Job\ntype: docker\nimage: busybox\n"
    "schedule: {{type: cron, cron: '{m} * * * *'}}\n"
)
BODIES = {
    "valid": lambda n, v: JOB.format(id=f"job-{n}", m=v % 60),
    "same-id": lambda n, v: JOB.format(id="shared", m=v % 60),
    "broken-yaml": lambda n, v: "id: [\n",
    "bad-field": lambda n, v: JOB.format(id=f"job-{n}", m=v % 60) + "retries: {limit: -1}\n",
    "bad-check": lambda n, v: JOB.format(id=f"job-{n}", m=v % 60) + "env: {A: x}\nsecrets: [A]\n",
    "target": lambda n, v: (
        JOB.format(id=f"job-{n}", m=v % 60) + "notifications: {targets: [team]}\n"
    ),
}
OVENS = [
    None,
    "defaults:\n  resources: {memory: 256m}\n",
    "notifications:\n  targets:\n    team: {type: slack, urlSecret: URL}\n",
    "defaults: [\n",
]
PATHS = ["jobs/a/job-0.yaml", "jobs/a/job-1.yaml", "jobs/b/job-2.yaml", "jobs/c.yml"]
EDITS = st.one_of(
    st.tuples(
        st.just("write"),
        st.sampled_from(PATHS),
        st.sampled_from(["valid", "same-id", *BODIES]),  # valid and duplicate ids most often
        st.integers(0, 3),
    ),
    st.tuples(st.just("delete"), st.sampled_from(PATHS)),
    st.tuples(st.just("link"), st.sampled_from(PATHS)),
    st.tuples(st.just("oven"), st.integers(0, len(OVENS) - 1)),
)


def edit(work: Path, step: tuple) -> None:
    kind, *args = step
    if kind == "oven":
        target = work / "oven.yaml"
        target.unlink(missing_ok=True)
        if OVENS[args[0]] is not None:
            target.write_text(OVENS[args[0]])
        return
    target = work / args[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    if kind == "write":
        number = PATHS.index(args[0])
        target.write_text(BODIES[args[1]](number, args[2]))
    elif kind == "link":
        target.symlink_to("../elsewhere.yaml")


def whole(files: TreeFiles, revision: str):
    """The same files loaded whole: a plain mapping, a fresh cache."""
    return load_tree({path: files[path] for path in files}, revision, ALLOW, ParseCache())


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="OVEN_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(commits=st.lists(st.lists(EDITS, min_size=1, max_size=4), min_size=2, max_size=6))
@example(  # a duplicate id, then one claimant takes another id, then comes back
    [
        [("write", PATHS[0], "same-id", 0), ("write", PATHS[1], "same-id", 1)],
        [("write", PATHS[0], "valid", 0)],
        [("write", PATHS[0], "same-id", 2), ("write", PATHS[3], "same-id", 0)],
        [("delete", PATHS[1]), ("delete", PATHS[3])],
    ]
)
@example(  # a job file becomes a link, is broken, then fixed; oven.yaml changes between
    [
        [("write", PATHS[2], "valid", 0), ("oven", 2)],
        [("link", PATHS[2]), ("write", PATHS[0], "target", 0)],
        [("write", PATHS[2], "broken-yaml", 0), ("oven", 3)],
        [("write", PATHS[2], "bad-check", 0), ("oven", 1)],
        [("write", PATHS[2], "valid", 1)],
    ]
)
def test_a_revision_derived_through_the_tree_diff_equals_a_full_load(commits) -> None:
    with tempfile.TemporaryDirectory(prefix="oven-tree-diff-") as name:
        work = Path(name)
        git("init", "--quiet", "--initial-branch=main", str(work))
        (work / "jobs").mkdir()
        (work / "jobs" / "seed.yaml").write_text(JOB.format(id="seed", m=0))
        cache = ParseCache()
        checkout = Checkout(work)
        previous = whole_previous = None
        for number, steps in enumerate(commits):
            for step in steps:
                edit(work, step)
            git("add", "-A", cwd=work)
            git("commit", "--quiet", "--allow-empty", "-m", f"commit {number}", cwd=work)
            sha = git("rev-parse", "HEAD", cwd=work)

            files = checkout.files(sha)
            if number:
                assert files.since is not None  # this commit was listed through the diff
            derived = load_tree(files, sha, ALLOW, cache)
            full = whole(checkout.files(sha), sha)

            assert derived == full
            desired, plan = apply_revision(previous, derived, NOW)
            full_desired, full_plan = apply_revision(whole_previous, full, NOW)
            assert desired == full_desired
            assert plan.to_dict() == full_plan.to_dict()
            previous, whole_previous = desired, full_desired


def test_the_daemon_reload_after_a_one_file_commit_reads_and_parses_one_file(
    tmp_path: Path,
) -> None:
    bare = make_bare(tmp_path / "config.git")
    jobs = {f"jobs/job-{n}.yaml": JOB.format(id=f"job-{n}", m=n) for n in range(30)}
    push_files(bare, "main", jobs, work=tmp_path / "work")
    source = GitSource(str(bare), "main", tmp_path / "state")
    cache = ParseCache()
    first = load_tree(source.files(source.fetch()), "first", ALLOW, cache)

    push_files(
        bare, "main", {"jobs/job-7.yaml": JOB.format(id="job-7", m=59)}, work=tmp_path / "w2"
    )
    head = source.fetch()
    files = source.files(head)
    parsed_before = cache.misses
    state = load_tree(files, head, ALLOW, cache)

    assert files.since is not None and files.since[1] == {"jobs/job-7.yaml"}
    assert cache.misses == parsed_before + 1
    assert state == whole(source.files(head), head)
    assert state.jobs["job-7"] != first.jobs["job-7"]
    assert state.jobs["job-8"] is first.jobs["job-8"]
