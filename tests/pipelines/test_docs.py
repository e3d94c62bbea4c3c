"""docs/agent-pipelines.md cannot drift: its job example loads, its tables name what the code
records and checks."""

from __future__ import annotations

import re
from pathlib import Path

from support.docblocks import DOCS, blocks

from reconciler.manifests import load_tree

DOC = "agent-pipelines.md"


def test_the_walkthrough_job_loads_without_problems() -> None:
    (job,) = [b for b in blocks(DOC, "yaml") if b.text.startswith("# jobs/")]
    path = job.text.split()[1]
    state = load_tree({path: job.text.encode()}, "docs", volume_allowlist=[])
    assert state.problems == ()
    spec = state.jobs["nightly-review"]
    assert spec.auth == "oauth-token" and spec.source is not None
    assert spec.source.secret == "GITHUB_TOKEN"


def test_the_failure_table_names_every_class_a_pipeline_run_can_record() -> None:
    from reconciler.pipelines import failures

    text = (DOCS / DOC).read_text()
    section = text.split("## When a run fails", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    source = Path(failures.__file__).read_text()
    recorded = set(re.findall(r'ErrorInfo\(\s*"(\w+)"', source))
    assert recorded <= documented, recorded - documented
    assert {"AuthError", "NotInstalled", "SourceUnavailable"} <= documented


def test_every_auth_text_the_classifier_knows_is_in_the_docs() -> None:
    from reconciler.pipelines.failures import AUTH_TEXTS

    text = (DOCS / DOC).read_text()
    for known in AUTH_TEXTS:
        assert known.pattern.pattern in text, known.pattern.pattern
