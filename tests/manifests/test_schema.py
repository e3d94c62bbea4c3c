"""The JSON Schemas themselves: valid Draft 2020-12, documented, closed to unknown fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.manifests.schemas import JOB_SCHEMA, OVEN_SCHEMA, is_date_time, schema

MAPS = {"env", "targets"}  # free-form name -> value mappings, closed by their value schema


def _objects(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{where}/{index}")


@pytest.mark.parametrize("name", [JOB_SCHEMA, OVEN_SCHEMA])
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(schema(name))
    assert schema(name)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", [JOB_SCHEMA, OVEN_SCHEMA])
def test_every_object_rejects_unknown_fields(name: str) -> None:
    for where, node in _objects(schema(name)):
        closed = node.get("additionalProperties")
        assert closed is False or (where.rsplit("/", 1)[-1] in MAPS and isinstance(closed, dict)), (
            where
        )


@pytest.mark.parametrize("name", [JOB_SCHEMA, OVEN_SCHEMA])
def test_every_field_has_a_description(name: str) -> None:
    root = schema(name)
    for where, node in _objects(root):
        for field, sub in node.get("properties", {}).items():
            target = _resolve(sub)
            assert "description" in sub or "description" in target, f"{where}/properties/{field}"


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    if not ref:
        return node
    document, _, pointer = ref.partition("#")
    root = schema(OVEN_SCHEMA if document.endswith("oven") else JOB_SCHEMA)
    for part in pointer.strip("/").split("/"):
        root = root[part]
    return _resolve(root)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2026-12-01T09:00:00Z", True),
        ("2026-12-01T09:00:00.250+02:00", True),
        ("2026-12-01t09:00:00z", True),
        ("2026-12-01T09:00:00", False),
        ("2026-12-01 09:00:00Z", False),
        ("2026-02-30T09:00:00Z", False),
        ("tomorrow", False),
    ],
)
def test_date_time_format(text: str, valid: bool) -> None:
    try:
        result = is_date_time(text)
    except ValueError:
        result = False
    assert result is valid
