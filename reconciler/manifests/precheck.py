"""A compiled JSON Schema check in front of jsonschema: most files are valid, so ask a fast
yes/no first and build messages only for the files that fail it (job manifests and oven.yaml;
jsonschema itself is imported only then).

jsonschema's ``iter_errors`` is most of a cold parse (every ``oneOf`` branch is tried and
builds its errors). jsonschema-rs (``jsonschema_rs``) compiles ``schema/job.schema.json`` once
and answers "valid or not" without building errors. A file it passes has no schema problem; a
file it fails goes through jsonschema as before (``validate.schema_problems``), so every
message, field and line stays what it was.

The pre-check may be stricter than jsonschema, never looser: a file it wrongly failed only
costs the slow path, which then finds nothing. That holds because

- patterns use Rust's ``regex`` crate, where a final ``$`` is the end of the text, as in
  ECMA-262 and in our jsonschema validator (``schemas._regex``); the patterns are plain
  (no look-around), and ``\\uXXXX`` means the same code point in both;
- ``date-time`` is checked by our own ``schemas.is_date_time``, the function jsonschema uses;
- a value Rust cannot take (an integer past 64 bits, a key that is not a string, a string
  with a lone surrogate) makes the pre-check fail, never pass.

``tests/manifests/test_precheck.py`` compares both validators on generated documents.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from reconciler.manifests.schemas import JOB_SCHEMA, OVEN_SCHEMA, is_date_time, schema

Precheck = Callable[[Any], bool]


def _date_time(value: object) -> bool:
    try:
        return is_date_time(value)
    except ValueError:  # jsonschema's FormatChecker reads ValueError as "not a date-time"
        return False


def job_precheck() -> Precheck:
    """True when a loaded job manifest certainly has no JSON Schema problem."""
    return _precheck(JOB_SCHEMA)


def oven_precheck() -> Precheck:
    """True when a loaded oven.yaml certainly has no JSON Schema problem."""
    return _precheck(OVEN_SCHEMA)


@cache
def _precheck(name: str) -> Precheck:
    import jsonschema_rs  # here: a plan or validate that parses nothing never loads it

    registry = jsonschema_rs.Registry(
        [(schema(n)["$id"], schema(n)) for n in (JOB_SCHEMA, OVEN_SCHEMA)]
    )
    compiled = jsonschema_rs.Draft202012Validator(
        schema(name),
        registry=registry,
        validate_formats=True,
        ignore_unknown_formats=False,
        formats={"date-time": _date_time},
        pattern_options=jsonschema_rs.RegexOptions(),
    )

    def passes(instance: Any) -> bool:
        try:
            return bool(compiled.is_valid(instance))
        except Exception:  # a value the compiled validator cannot take: jsonschema decides
            return False

    return passes
