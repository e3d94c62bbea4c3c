"""One job manifest file -> a ``JobSpec`` or the problems that keep it from being one.

Steps, stopping at the first that finds problems (later steps would only repeat them):
load the YAML safely, validate against ``schema/job.schema.json``, run the checks the schema
cannot express (schedules, volumes, notification targets), then build the JobSpec with
oven.yaml's defaults applied.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.manifests.build import full_manifest, job_spec
from reconciler.manifests.checks import job_findings
from reconciler.manifests.precheck import job_precheck
from reconciler.manifests.safe_yaml import dotted
from reconciler.manifests.schemas import job_validator
from reconciler.manifests.validate import check_document
from reconciler.model import JobSpec, Problem


@dataclass(frozen=True)
class ParsedJob:
    """The outcome for one file; ``id_line`` lets a duplicate-id problem point at ``id:``."""

    path: str
    spec: JobSpec | None
    problems: tuple[Problem, ...] = ()
    id_line: int = 1


def parse_job(
    path: str,
    data: bytes,
    defaults: Mapping[str, Any] | None = None,
    volume_allowlist: Sequence[str] | None = (),
    targets: Collection[str] | None = None,
) -> tuple[JobSpec | None, list[Problem]]:
    """Parse one manifest. ``volume_allowlist=None`` skips the host-path allow-list check;
    ``targets=None`` skips checking notification target names."""
    parsed = parse_job_file(path, data, defaults or {}, volume_allowlist, targets)
    return parsed.spec, list(parsed.problems)


def parse_job_file(
    path: str,
    data: bytes,
    defaults: Mapping[str, Any],
    volume_allowlist: Sequence[str] | None,
    targets: Collection[str] | None,
) -> ParsedJob:
    doc, problems = check_document(path, data, job_validator, job_precheck())
    if doc is None or problems:
        return ParsedJob(path, None, tuple(problems))
    id_line = doc.line_of(("id",))
    findings = job_findings(doc.data, volume_allowlist, targets)
    if findings:
        problems = [Problem(path, doc.line_of(at), dotted(at), text) for at, text in findings]
        return ParsedJob(path, None, tuple(sorted(problems, key=_order)), id_line)
    return ParsedJob(path, job_spec(path, full_manifest(doc.data, defaults)), (), id_line)


def _order(problem: Problem) -> tuple[int, str]:
    return problem.line, problem.field
