"""The bounds are stated three times — JSON Schema, ``manifests.bounds``, docs — and agree.

Also: each bound is accepted exactly at its edge and refused one step beyond, so an editor
using the schema and ``oven validate`` draw the line in the same place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.manifests import bounds, load_tree
from reconciler.manifests.schemas import JOB_SCHEMA, OVEN_SCHEMA, schema
from reconciler.manifests.validate import PATTERN_MESSAGES

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "manifests.md").read_text()
DEFS = schema(JOB_SCHEMA)["$defs"]
HEAD = "id: edge\nname: Edge\ntype: docker\nimage: busybox\n"
MANUAL = "schedule: {type: manual}\n"


@pytest.mark.parametrize(
    ("section", "field", "low", "high"),
    [
        ("policy", "startingDeadline", 1, bounds.MAX_DEADLINE),
        ("policy", "maxCatchUp", 1, bounds.MAX_CATCH_UP),
        ("retries", "limit", 0, bounds.MAX_RETRIES),
        ("retries", "backoff", 0, bounds.MAX_BACKOFF),
        ("resources", "timeout", 1, bounds.MAX_TIMEOUT),
        ("resources", "cpus", bounds.MIN_CPUS, bounds.MAX_CPUS),
    ],
)
def test_schema_constants_and_docs_agree(section: str, field: str, low: float, high: float) -> None:
    node = DEFS[section]["properties"][field]
    assert (node["minimum"], node["maximum"]) == (low, high)
    assert f"`{section}.{field}` |" in DOCS.split("## Bounds")[1].split("## Safety")[0]
    assert f"{low} to {high}" in DOCS.split("## Bounds")[1], f"docs show {low} to {high}"


def test_time_and_interval_bounds_are_documented() -> None:
    table = DOCS.split("## Bounds")[1].split("## Safety")[0]
    assert f"1s to 366d (`{bounds.MAX_EVERY}s`)" in table
    assert "`1970-01-01T00:00:00Z` to `2199-12-31T23:59:59Z`" in table
    assert bounds.EARLIEST.year == 1970 and bounds.LATEST.isoformat().startswith(
        "2199-12-31T23:59:59"
    )
    assert f"`6m` to `{bounds.MAX_MEMORY // 1024**3}g`" in table


def _problems(extra: str, schedule: str = MANUAL) -> list[str]:
    state = load_tree({"jobs/edge.yaml": (HEAD + schedule + extra).encode()}, "rev")
    return [f"{p.field}: {p.message}" for p in state.problems]


@pytest.mark.parametrize(
    ("inside", "beyond", "field"),
    [
        (
            "policy: {startingDeadline: 31622400}\n",
            "policy: {startingDeadline: 31622401}\n",
            "policy.startingDeadline",
        ),
        ("resources: {memory: 1024g}\n", "resources: {memory: 1024.001g}\n", "resources.memory"),
        ("resources: {memory: 6m}\n", "resources: {memory: 6143k}\n", "resources.memory"),
        ("resources: {cpus: 0.01}\n", "resources: {cpus: 0.0099}\n", "resources.cpus"),
        ("retries: {backoff: 86400}\n", "retries: {backoff: 86400.5}\n", "retries.backoff"),
    ],
)
def test_each_bound_is_accepted_at_its_edge_and_refused_beyond(
    inside: str, beyond: str, field: str
) -> None:
    assert _problems(inside) == []
    found = _problems(beyond)
    assert len(found) == 1 and found[0].startswith(field + ": "), found


@pytest.mark.parametrize(
    ("inside", "beyond"),
    [
        ("schedule: {type: interval, every: 366d}\n", "schedule: {type: interval, every: 367d}\n"),
        (
            "schedule: {type: interval, every: 8784h}\n",
            "schedule: {type: interval, every: 8785h}\n",
        ),
        (
            "schedule: {type: once, at: '2199-12-31T23:59:59Z'}\n",
            "schedule: {type: once, at: '2200-01-01T00:00:00Z'}\n",
        ),
        (
            "schedule: {type: once, at: '1970-01-01T01:00:00+01:00'}\n",
            "schedule: {type: once, at: '1970-01-01T00:59:59+01:00'}\n",
        ),
    ],
)
def test_schedule_bounds_at_the_edge(inside: str, beyond: str) -> None:
    assert _problems("", inside) == []
    assert len(_problems("", beyond)) == 1


def test_whole_numbers_written_as_decimals_become_ints() -> None:
    text = HEAD + "schedule: {type: interval, every: 1s}\n"
    text += "policy: {missed: all, maxCatchUp: 5.0, startingDeadline: 600.0}\n"
    text += "retries: {limit: 2.0}\nresources: {timeout: 60.0}\n"
    job = load_tree({"jobs/edge.yaml": text.encode()}, "rev").jobs["edge"]
    values: list[Any] = [
        job.policy.max_catch_up,
        job.policy.starting_deadline,
        job.retries.limit,
        job.resources.timeout,
    ]
    assert values == [5, 600, 2, 60] and all(type(v) is int for v in values)


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


@pytest.mark.parametrize("name", [JOB_SCHEMA, OVEN_SCHEMA])
def test_every_pattern_has_a_message_for_people(name: str) -> None:
    missing = [p for p in _patterns(schema(name)) if p not in PATTERN_MESSAGES]
    assert missing == [], "a problem would say 'must match <regex>'"
