"""The examples in docs/manifests.md are what the loader says they are (the docs cannot drift).

Each ``yaml`` block is a file of a config repo: a job (first line ``# jobs/<path>``), oven.yaml
(it starts with ``defaults:``), or a file broken on purpose (first line
``# invalid: <path> — why``). The valid ones load without a problem; the broken ones give
exactly the problem lines of the ``text`` block that follows them. The schedule kinds in the
table load as written.
"""

from __future__ import annotations

import re

import pytest
from support.docblocks import DOCS, Block, blocks

from reconciler.manifests import load_tree

DOC = "manifests.md"
INVALID = re.compile(r"# invalid: (\S+)")
JOB = re.compile(r"# (jobs/\S+)")


def path_of(block: Block) -> tuple[str, bool]:
    """(repo path, broken on purpose?) of a yaml example; fails for an example of neither kind."""
    if match := INVALID.match(block.text):
        return match.group(1), True
    if match := JOB.match(block.text):
        return match.group(1), False
    assert block.text.startswith("defaults:"), f"{block}: name the file in a first-line comment"
    return "oven.yaml", False


def examples(broken: bool) -> dict[str, bytes]:
    found = {}
    for block in blocks(DOC, "yaml"):
        path, is_broken = path_of(block)
        if is_broken == broken:
            found[path] = block.text.encode()
    return found


def test_documented_examples_load_without_problems() -> None:
    files = examples(broken=False)
    assert len(files) == 3, "two job examples and one oven.yaml example"
    state = load_tree(files, "docs", volume_allowlist=["/srv"])
    assert state.problems == ()
    assert sorted(state.jobs) == ["backup-db", "nightly-code-review"]


def test_broken_examples_give_the_documented_problem_lines() -> None:
    files = examples(broken=True)
    assert files, "docs/manifests.md shows broken files and their problems"
    last_broken = max(b.line for b in blocks(DOC, "yaml") if INVALID.match(b.text))
    shown = next(b for b in blocks(DOC, "text") if b.line > last_broken)

    state = load_tree(files, "docs", volume_allowlist=None)

    assert [str(p) for p in state.problems] == shown.text.splitlines()


def schedule_examples() -> list[str]:
    """The Example column of the schedule table: ``{type: cron, ...}`` and the like."""
    section = (DOCS / DOC).read_text(encoding="utf-8").split("### schedule", 1)[1]
    table = re.search(r"^\|.*?(?=\n\n)", section, re.M | re.S)
    assert table, "docs/manifests.md has a table of schedule kinds"
    return re.findall(r"`(\{type: [^`]+\})`", table.group(0))


def test_the_schedule_table_shows_every_kind() -> None:
    kinds = {re.match(r"\{type: (\w+)", example).group(1) for example in schedule_examples()}
    assert kinds == {"cron", "once", "manual", "webhook", "interval"}


@pytest.mark.parametrize("schedule", schedule_examples())
def test_each_schedule_example_loads(schedule: str) -> None:
    job = f"id: example\nname: Example\ntype: docker\nimage: busybox\nschedule: {schedule}\n"

    state = load_tree({"jobs/example.yaml": job.encode()}, "docs")

    assert state.problems == ()
    assert list(state.jobs) == ["example"]
