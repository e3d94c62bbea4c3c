"""The compiled pre-check in front of jsonschema: what it passes skips jsonschema, what it
fails gets jsonschema's messages as before, and our own checks run after it either way."""

from __future__ import annotations

import pytest

from reconciler.manifests import parse_job
from reconciler.manifests.precheck import job_precheck, oven_precheck
from reconciler.manifests.safe_yaml import load_document
from reconciler.manifests.schemas import job_validator, oven_validator
from reconciler.manifests.validate import check_document, schema_problems

JOB = (
    "id: nightly\nname: Nightly\ntype: docker\nimage: busybox\n"
    "schedule: {type: cron, cron: '0 4 * * *', timezone: Europe/Berlin}\n"
)


def test_a_file_that_passes_the_precheck_still_gets_our_own_checks() -> None:
    text = JOB.replace("Europe/Berlin", "Mars/Olympus") + (
        "resources: {memory: 99999g}\nenv: {TOKEN: x}\nsecrets: [TOKEN]\n"
    )
    assert job_precheck()(load_document(text.encode()).data)

    spec, problems = parse_job("jobs/nightly.yaml", text.encode())

    assert spec is None
    assert [(p.line, p.field) for p in problems] == [
        (5, "schedule.timezone"),
        (6, "resources.memory"),
        (7, "env.TOKEN"),
    ]
    assert "unknown time zone 'Mars/Olympus'" in problems[0].message
    assert problems[2].message == "also listed in secrets; a name is a plain value or a secret"


def test_a_file_that_fails_the_precheck_gets_jsonschemas_messages() -> None:
    text = JOB + "retries: {limit: -1}\nowner: [me]\ncolour: blue\nschedule_: x\n"
    doc = load_document(text.encode())
    assert not job_precheck()(doc.data)

    path = "jobs/nightly.yaml"
    _, problems = check_document(path, text.encode(), job_validator, job_precheck())

    assert problems == schema_problems("jobs/nightly.yaml", doc, job_validator())
    assert [str(p) for p in problems] == [
        "jobs/nightly.yaml:6: retries.limit: must be at least 0 (got -1)",
        "jobs/nightly.yaml:7: owner: must be a string, not a list",
        "jobs/nightly.yaml:8: colour: unknown field",
        "jobs/nightly.yaml:9: schedule_: unknown field (did you mean 'schedule'?)",
    ]


def test_a_valid_file_never_reaches_jsonschema(monkeypatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("jsonschema was asked about a file the pre-check passed")

    monkeypatch.setattr("reconciler.manifests.validate.schema_problems", fail)
    spec, problems = parse_job("jobs/nightly.yaml", JOB.encode())
    assert problems == [] and spec is not None and spec.id == "nightly"


OVEN_TEXTS = {
    "defaults and targets": (
        "defaults:\n  policy: {concurrency: forbid, missed: latest}\n"
        "  resources: {timeout: 300, memory: 256m}\n  schedule: {timezone: Europe/Berlin}\n"
        "notifications:\n  targets:\n    ops: {type: slack, urlSecret: OPS_URL}\n"
        "  reconciler: [ops]\n"
    ),
    "an unknown top-level field": "defaults: {}\ncolour: blue\n",
    "a timeout below zero": "defaults:\n  resources: {timeout: -1}\n",
    "a target of an unknown type": (
        "notifications:\n  targets:\n    ops: {type: email, urlSecret: OPS_URL}\n"
    ),
    "a target name in capitals": (
        "notifications:\n  targets:\n    Ops: {type: slack, urlSecret: OPS_URL}\n"
    ),
    "a repeated reconciler target": (
        "notifications:\n  targets:\n    ops: {type: slack, urlSecret: OPS_URL}\n"
        "  reconciler: [ops, ops]\n"
    ),
    "a url secret with a newline": (
        'notifications:\n  targets:\n    ops: {type: slack, urlSecret: "OPS_URL\\n"}\n'
    ),
}


@pytest.mark.parametrize("text", OVEN_TEXTS.values(), ids=OVEN_TEXTS.keys())
def test_the_oven_precheck_passes_only_what_jsonschema_passes(text: str) -> None:
    doc = load_document(text.encode())
    errors = list(oven_validator().iter_errors(doc.data))

    assert oven_precheck()(doc.data) == (errors == [])
    with_precheck = check_document("oven.yaml", text.encode(), oven_validator, oven_precheck())
    assert with_precheck[1] == schema_problems("oven.yaml", doc, oven_validator())
