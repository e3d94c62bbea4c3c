"""The JSON Schemas in ``schema/`` as ready-to-use Draft 2020-12 validators.

``schema/job.schema.json`` and ``schema/oven.schema.json`` are the authority on what a manifest
may contain; this module only finds them, links them (oven.yaml's defaults reuse the job
schema's ``$defs``) and adds the one format we need checked, ``date-time`` (RFC 3339 with an
offset), without pulling in jsonschema's optional format dependencies.

jsonschema itself (about 80 ms to import, more under load) is imported by ``validator()`` only,
the first time a file fails the compiled pre-check (``precheck.py``): a ``validate``, ``plan``
or daemon start whose files are all valid never loads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import ManifestError
from reconciler.manifests.bounds import RFC3339

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, FormatChecker, ValidationError

# reconciler/schema links to the top-level schema/ folder so installed copies carry it too
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schema"
JOB_SCHEMA = "job.schema.json"
OVEN_SCHEMA = "oven.schema.json"


def is_date_time(value: object) -> bool:
    """RFC 3339 ``date-time``: a real calendar time with ``T`` and an offset (``Z`` or ±hh:mm)."""
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@cache
def _formats() -> FormatChecker:
    from jsonschema import FormatChecker

    formats = FormatChecker(formats=())
    formats.checks("date-time", raises=ValueError)(is_date_time)
    return formats


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` with JSON Schema's (ECMA-262) meaning of a final ``$``: the end of the text.

    Python's ``$`` also matches before a final newline, so ``id: "backup\\n"`` would pass
    ``^[a-z0-9-]+$``; editors (ECMA-262) refuse it, and so do we.
    """
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(
    validator: Draft202012Validator, pattern: str, instance: object, schema: object
) -> Iterator[ValidationError]:
    from jsonschema import ValidationError

    if isinstance(instance, str) and not _regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _validator_class() -> type[Draft202012Validator]:
    """Draft 2020-12 with our ``pattern`` (``_regex``); built on first use, with jsonschema."""
    from jsonschema import Draft202012Validator, validators

    extended: type[Draft202012Validator] = validators.extend(
        Draft202012Validator, {"pattern": _pattern}
    )
    return extended


@cache
def schema(name: str) -> dict[str, Any]:
    """The parsed schema file ``schema/<name>``."""
    path = SCHEMA_DIR / name
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(
            f"cannot read the JSON Schema {path}: {exc}",
            hint="reinstall agent-oven; the schema/ folder ships with it",
        ) from exc
    return loaded


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for ``schema/<name>`` that resolves references between our schemas."""
    from referencing import Registry, Resource

    resources = [
        (schema(n)["$id"], Resource.from_contents(schema(n))) for n in (JOB_SCHEMA, OVEN_SCHEMA)
    ]
    registry: Registry = Registry().with_resources(resources)
    checker: Draft202012Validator = _validator_class()(
        schema(name), registry=registry, format_checker=_formats()
    )
    return checker


def job_validator() -> Draft202012Validator:
    return validator(JOB_SCHEMA)


def oven_validator() -> Draft202012Validator:
    return validator(OVEN_SCHEMA)
