"""The JSON Schemas in ``schema/`` as ready-to-use Draft 2020-12 validators.

``schema/job.schema.json`` and ``schema/oven.schema.json`` are the authority on what a manifest
may contain; this module only finds them, links them (oven.yaml's defaults reuse the job
schema's ``$defs``) and adds the one format we need checked, ``date-time`` (RFC 3339 with an
offset), without pulling in jsonschema's optional format dependencies.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from reconciler.errors import ManifestError

# reconciler/schema links to the top-level schema/ folder so installed copies carry it too
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schema"
JOB_SCHEMA = "job.schema.json"
OVEN_SCHEMA = "oven.schema.json"

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)


def is_date_time(value: object) -> bool:
    """RFC 3339 ``date-time``: a real calendar time with ``T`` and an offset (``Z`` or ±hh:mm)."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time", raises=ValueError)(is_date_time)


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
    resources = [
        (schema(n)["$id"], Resource.from_contents(schema(n))) for n in (JOB_SCHEMA, OVEN_SCHEMA)
    ]
    registry: Registry = Registry().with_resources(resources)
    return Draft202012Validator(schema(name), registry=registry, format_checker=FORMATS)


def job_validator() -> Draft202012Validator:
    return validator(JOB_SCHEMA)


def oven_validator() -> Draft202012Validator:
    return validator(OVEN_SCHEMA)
