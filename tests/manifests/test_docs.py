"""The examples in docs/manifests.md are valid manifests (the docs cannot drift from the schema)."""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.manifests import load_tree

DOC = Path(__file__).resolve().parents[2] / "docs" / "manifests.md"


def test_documented_examples_load_without_problems() -> None:
    files: dict[str, bytes] = {}
    for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S):
        named = re.match(r"# (jobs/\S+)", block)
        if named:
            files[named.group(1)] = block.encode()
        elif block.startswith("defaults:"):
            files["oven.yaml"] = block.encode()
    assert len(files) == 3, "two job examples and one oven.yaml example"
    state = load_tree(files, "docs", volume_allowlist=["/srv"])
    assert state.problems == ()
    assert sorted(state.jobs) == ["backup-db", "nightly-code-review"]
