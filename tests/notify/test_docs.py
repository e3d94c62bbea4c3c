"""docs/notifications.md holds true: its oven.yaml validates, its webhook body has the shape
the daemon sends, and its verification snippet accepts our signature and refuses a bad one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from reconciler.manifests import load_tree
from reconciler.notify.delivery import body_bytes, signature
from reconciler.notify.payloads import webhook
from reconciler.transitions import Event

DOC = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def test_the_example_oven_yaml_and_job_load_without_problems() -> None:
    oven, job = blocks("yaml")[:2]
    manifest: dict[str, Any] = {
        "id": "backup-db",
        "name": "Nightly backup",
        "type": "docker",
        "image": "agent-oven/base-tasks",
        "schedule": {"type": "cron", "cron": "0 2 * * *"},
        **yaml.safe_load(job),
    }
    state = load_tree(
        {"oven.yaml": oven.encode(), "jobs/backup-db.yaml": yaml.safe_dump(manifest).encode()}
    )
    assert state.problems == ()
    assert state.notify is not None and state.notify.reconciler == ("ops-hook",)
    assert state.jobs["backup-db"].notifications.targets == ("team-slack", "ops-hook")
    assert state.notify.target("ops-hook").signing_secret == "OPS_WEBHOOK_KEY"  # type: ignore[union-attr]


def test_the_generic_webhook_body_has_the_documented_keys() -> None:
    (example,) = [json.loads(b) for b in blocks("json")]
    event = Event("run/x/failed", "failed", "t", "x", ("ops-hook",), "j", "x", (("job", "j"),))
    assert set(webhook(event)) == set(example)


def test_the_verification_snippet_accepts_our_signature_only() -> None:
    (snippet,) = blocks("python")
    scope: dict[str, Any] = {}
    exec(snippet, scope)  # noqa: S102  (our own documentation)
    body = body_bytes({"kind": "failed"})
    assert scope["verified"]("a-long-random-string", body, signature("a-long-random-string", body))
    assert not scope["verified"](
        "a-long-random-string", body + b" ", signature("a-long-random-string", body)
    )
