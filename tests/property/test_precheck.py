"""The compiled pre-check (``manifests.precheck``) never passes a document jsonschema fails.

A document the pre-check passes skips jsonschema, so a pre-check looser than jsonschema would
hide a problem; a stricter one only costs time. Hypothesis draws manifests in every mode
(valid, edge, chaos, raw YAML noise) and compares: whatever the pre-check passes, jsonschema
passes too; and the problems of a file are the same with the pre-check as without it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.manifests.precheck import job_precheck
from reconciler.manifests.safe_yaml import YamlProblem, load_document
from reconciler.manifests.schemas import job_validator
from reconciler.manifests.validate import check_document

from .strategies import manifests, yaml_noise
from .test_manifest_fuzz import FUZZ, VALID_TEXTS, dump


def agree(data: bytes) -> None:
    """The pre-check passes only what jsonschema passes; the problems are the same either way."""
    try:
        doc = load_document(data)
    except YamlProblem:
        return
    jsonschema_errors = list(job_validator().iter_errors(doc.data))
    if job_precheck()(doc.data):
        assert jsonschema_errors == [], [e.message for e in jsonschema_errors]
    with_precheck = check_document("jobs/a.yaml", data, job_validator, job_precheck())
    without = check_document("jobs/a.yaml", data, job_validator)
    assert with_precheck[1] == without[1]


@FUZZ
@given(data=st.data(), mode=st.sampled_from(["valid", "edge", "chaos"]))
def test_the_precheck_passes_only_what_jsonschema_passes(data: st.DataObject, mode: str) -> None:
    agree(dump(data.draw(manifests(mode), label="job")))


@FUZZ
@given(text=yaml_noise(VALID_TEXTS))
def test_the_precheck_agrees_on_raw_yaml_noise(text: bytes) -> None:
    agree(text)


@FUZZ
@given(job=manifests("valid"))
def test_the_precheck_passes_valid_manifests(job: dict[str, Any]) -> None:
    """Valid manifests take the fast path (else the pre-check would save nothing)."""
    doc = load_document(dump(job))
    if not list(job_validator().iter_errors(doc.data)):
        assert job_precheck()(doc.data)


BASE = "id: a\nname: A\ntype: docker\nimage: busybox\nschedule: {type: interval, every: 5m}\n"
EDGES = [
    # a final $ is the end of the text (ECMA-262), not "before a final newline"
    'id: "a\\n"\n',
    'name: "one\\u2028line"\n',
    'owner: "tab\\there"\n',
    'description: "bidi \\u202e"\n',
    'description: "nul \\0 here"\n',
    'env: {"A\\n": x}\n',
    'env: {A: "x\\u0085"}\n',
    'env: {A: "tab\\tand\\nnewline"}\n',
    "resources: {memory: 512m\n}\n",
    'resources: {memory: "512m\\n"}\n',
    "resources: {timeout: 600.0}\n",
    "resources: {timeout: true}\n",
    "resources: {timeout: 100000000000000000000000}\n",
    "resources: {cpus: .inf}\n",
    "volumes: ['/a:/b:ro', 'a:b:rx', '/a:/b\\n']\n",
    'user: "1000:1000\\n"\n',
    "schedule: {type: once, at: '2026-12-01T09:00:00Z'}\n",
    "schedule: {type: once, at: '2026-02-30T09:00:00Z'}\n",
    "schedule: {type: once, at: '2026-12-01T09:00:00'}\n",
    "schedule: {type: once, at: '2026-12-01t09:00:00z'}\n",
    "image: 'Busybox'\n",
    "image: 'registry.example.com:5000/tools/x:1.2@sha256:" + "a" * 64 + "'\n",
    "command: [sh, '-c', '\\0']\n",
    "1: 2\n",
]


def with_line(extra: str) -> bytes:
    """BASE with ``extra`` in place of the line of the same key."""
    key = extra.split(":")[0]
    kept = [line for line in BASE.splitlines(keepends=True) if not line.startswith(key + ":")]
    return "".join([*kept, extra]).encode()


@pytest.mark.parametrize("extra", EDGES)
def test_the_precheck_agrees_on_edges(extra: str) -> None:
    agree(with_line(extra))
