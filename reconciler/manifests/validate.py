"""Schema validation that speaks to people: one short ``FILE:LINE: FIELD: message`` per mistake.

jsonschema's own messages dump whole sub-documents and, for ``oneOf``, every branch that did
not match. Here each error becomes a ``Problem`` with the dotted path of the failing field, the
line of that field in the file (from ``safe_yaml.Document``) and a one-line message. For a
``oneOf`` (the schedule kinds, the two forms of ``command``) we report only the branch the
author meant: the one whose ``type`` matches, or the one whose shape matches.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from reconciler.manifests.precheck import Precheck
from reconciler.manifests.safe_yaml import (
    FILE_FIELD,
    Document,
    Path,
    YamlProblem,
    dotted,
    load_document,
)
from reconciler.manifests.schemas import JOB_SCHEMA, schema
from reconciler.manifests.text import show
from reconciler.model import Problem

if TYPE_CHECKING:  # jsonschema is imported by the validator factory, on a file's first failure
    from jsonschema import Draft202012Validator, ValidationError

Finding = tuple[Path, str]

PATTERN_MESSAGES = {
    "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$": "must be 1-63 lowercase letters, digits and hyphens, "
    "starting and ending with a letter or digit",
    "^[A-Z_][A-Z0-9_]*$": "must be uppercase letters, digits and underscores, "
    "not starting with a digit",
    "^[0-9]+[smhd]$": "must be a whole number followed by s, m, h or d (e.g. 30s, 5m, 2h, 1d)",
    "^[0-9]+(\\.[0-9]+)?([kmgKMG][bB]?|[bB])?$": "must be a size like 512m or 2g",
    r"^[^:\u0000-\u001f\u007f]+:[^:\u0000-\u001f\u007f]+(:(ro|rw))?$": "must be SOURCE:TARGET, "
    "SOURCE:TARGET:ro or SOURCE:TARGET:rw",
    schema(JOB_SCHEMA)["properties"]["image"]["pattern"]: "must be an image reference like "
    "busybox:1.36 or registry.example.com/tools:1.2 (the path in lowercase, no spaces)",
    r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$": "must be one "
    "line without control characters",
    r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$": "must not "
    "contain control characters other than tabs and newlines",
    r"^[^\u0000]*$": "must not contain a NUL character",
    "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$": "must be a user "
    "name or uid, optionally with :group or :gid (e.g. 1000:1000)",
    "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$": "must be a pipeline name "
    "(letters, digits, '.', '_' and '-')",
}
TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def check_document(
    path: str,
    data: bytes,
    validator: Callable[[], Draft202012Validator],
    precheck: Precheck | None = None,
) -> tuple[Document | None, list[Problem]]:
    """Load ``data`` safely and validate it; the document is None if it is not a mapping.

    ``precheck`` (``precheck.job_precheck()``) answers first: a document it passes has no
    schema problem, so ``validator`` (``schemas.job_validator``, called only then, which
    imports jsonschema) only explains the documents it fails."""
    try:
        doc = load_document(data)
    except YamlProblem as exc:
        return None, [Problem(path, exc.line, exc.field, exc.message)]
    if not isinstance(doc.data, dict):
        found = "a list" if isinstance(doc.data, list) else f"a single value ({show(doc.data)})"
        return None, [
            Problem(
                path, doc.line_of(()), FILE_FIELD, f"expected a mapping of fields, found {found}"
            )
        ]
    if precheck is not None and precheck(doc.data):
        return doc, []
    return doc, schema_problems(path, doc, validator())


def schema_problems(path: str, doc: Document, validator: Draft202012Validator) -> list[Problem]:
    """Every schema violation in ``doc`` as a Problem, in line order, without repeats."""
    found: dict[tuple[int, str, str], Problem] = {}
    for error in validator.iter_errors(doc.data):
        for location, message in explain(error, doc.data):
            problem = Problem(path, doc.line_of(location), dotted(location), message)
            found.setdefault((problem.line, problem.field, problem.message), problem)
    return sorted(found.values(), key=lambda p: (p.line, p.field))


def explain(error: ValidationError, root: Any) -> list[Finding]:
    """One error as ``(path, message)`` findings; most errors give exactly one."""
    where: Path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "oneOf":
        return _one_of(error, where, root)
    if kind == "additionalProperties":
        return [((*where, key), _unknown(key, error.schema)) for key in _extra_keys(error)]
    if kind == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [((*where, name), _required(error, root)) for name in missing]
    if "propertyNames" in error.relative_schema_path:
        return [((*where, str(error.instance)), _name_message(error, root))]
    return [(where, _message(error))]


def _message(error: ValidationError) -> str:
    kind, expected, value = error.validator, error.validator_value, error.instance
    simple = {
        "minimum": f"must be at least {expected}",
        "maximum": f"must be at most {expected}",
        "exclusiveMinimum": f"must be greater than {expected}",
        "exclusiveMaximum": f"must be less than {expected}",
        "maxLength": f"must be at most {expected} characters",
        "maxItems": f"must have at most {expected} items",
        "uniqueItems": "must not repeat an item",
        "const": f"must be {expected!r}",
        "format": "must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z",
    }
    if kind == "type":
        return _type_message(expected, value)
    if kind == "enum":
        return f"must be one of: {', '.join(map(str, expected))} (got {show(value)})"
    if kind == "pattern":
        return f"{PATTERN_MESSAGES.get(expected, 'must match ' + expected)} (got {show(value)})"
    if kind in ("minLength", "minItems") and expected == 1:
        return "must not be empty"
    if kind in ("minLength", "minItems"):
        unit = "characters" if kind == "minLength" else "items"
        return f"must have at least {expected} {unit}"
    if kind in simple:
        return f"{simple[kind]} (got {show(value)})"
    return str(error.message)[:200]


def _type_message(expected: str | list[str], value: Any) -> str:
    kinds = [expected] if isinstance(expected, str) else list(expected)
    words = " or ".join(TYPE_WORDS.get(kind, kind) for kind in kinds)
    text = f"must be {words}, not {_kind_of(value)}"
    if "string" in kinds and isinstance(value, bool | int | float):
        text += "; put it in quotes"
    return text


def _kind_of(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"the string {show(value)}"


def _extra_keys(error: ValidationError) -> list[str]:
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return [key for key in error.instance if key not in known]


def _unknown(key: str, schema: Any) -> str:
    known = list(schema.get("properties", {})) if isinstance(schema, dict) else []
    close = difflib.get_close_matches(key, known, n=1)
    return "unknown field" + (f" (did you mean '{close[0]}'?)" if close else "")


def _job_type(root: Any) -> str:
    return str(root.get("type")) if isinstance(root, dict) else "this kind of"


def _required(error: ValidationError, root: Any) -> str:
    if "then" in error.relative_schema_path:
        return f"required for {_job_type(root)} jobs"
    return "required field is missing"


def _name_message(error: ValidationError, root: Any) -> str:
    if error.validator == "not":
        return f"not allowed in {_job_type(root)} jobs"
    if error.validator == "pattern":
        return PATTERN_MESSAGES.get(error.validator_value, f"must match {error.validator_value}")
    return _message(error)


def _one_of(error: ValidationError, where: Path, root: Any) -> list[Finding]:
    branches = _branches(error.context or [])
    chosen = [errors for errors in branches.values() if not _mismatch(errors, where)]
    if chosen:
        return [finding for sub in chosen[0] for finding in explain(sub, root)]
    if isinstance(error.instance, dict):
        kinds = _consts(error.context or [], where)
        if "type" not in error.instance:
            return [((*where, "type"), f"required field is missing (one of: {', '.join(kinds)})")]
        got = show(error.instance["type"])
        return [((*where, "type"), f"must be one of: {', '.join(kinds)} (got {got})")]
    shapes = sorted(
        {str(sub.validator_value) for sub in error.context or [] if sub.validator == "type"}
    )
    words = " or ".join(TYPE_WORDS.get(shape, shape) for shape in shapes)
    return [(where, f"must be {words}, not {_kind_of(error.instance)}")]


def _branches(errors: Iterable[ValidationError]) -> dict[int, list[ValidationError]]:
    grouped: dict[int, list[ValidationError]] = {}
    for sub in errors:
        grouped.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    return dict(sorted(grouped.items()))


def _mismatch(errors: list[ValidationError], where: Path) -> bool:
    """A branch the author did not mean: wrong shape, or a different ``type`` value."""
    for sub in errors:
        at = tuple(sub.absolute_path)
        if at == where and sub.validator == "type":
            return True
        if at == (*where, "type") and sub.validator == "const":
            return True
        if at == where and sub.validator == "required" and "type" not in sub.instance:
            return True
    return False


def _consts(errors: Iterable[ValidationError], where: Path) -> list[str]:
    """The ``type`` values the branches accept, read from the branch errors."""
    kinds: list[str] = []
    for sub in errors:
        at = tuple(sub.absolute_path)
        if sub.validator == "const" and at == (*where, "type"):
            kinds.append(str(sub.validator_value))
        elif at == where and isinstance(sub.schema, dict):
            const = sub.schema.get("properties", {}).get("type", {}).get("const")
            if const is not None:
                kinds.append(str(const))
    return list(dict.fromkeys(kinds))
