"""Checks a JSON Schema cannot express: schedules that can fire, volumes, sizes, targets.

Run only on manifests that already passed the schema, so every field has the right shape.
Each check returns ``(path, message)`` findings; ``job_findings`` and ``oven_findings`` run all
that apply to a job manifest or to oven.yaml. Schedules are checked by ``reconciler.schedule``
(through ``scheduling``), the only package that knows croniter (``reconciler.schedule.cron``);
volumes by ``volumes``; the bounds the schema cannot state (a memory size) by ``bounds``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from reconciler.manifests.bounds import memory_problem
from reconciler.manifests.safe_yaml import Path
from reconciler.manifests.scheduling import check_timezone, schedule_findings
from reconciler.manifests.volumes import volume_findings

Finding = tuple[Path, str]


def job_findings(
    job: dict[str, Any], allowlist: Sequence[str] | None, targets: Collection[str] | None
) -> list[Finding]:
    """Everything beyond the schema that is wrong with one (schema-valid) job manifest."""
    found = schedule_findings(job["schedule"], ("schedule",))
    found += volume_findings(job.get("volumes", []), allowlist)
    found += shared_findings(job, targets)
    for name in set(job.get("env", {})) & set(job.get("secrets", [])):
        found.append((("env", name), "also listed in secrets; a name is a plain value or a secret"))
    return found


def oven_findings(settings: dict[str, Any], targets: Collection[str]) -> list[Finding]:
    """What is wrong with a schema-valid oven.yaml beyond its schema."""
    defaults = settings.get("defaults", {})
    zone = defaults.get("schedule", {}).get("timezone")
    found: list[Finding] = []
    if zone is not None and (message := check_timezone(zone)):
        found.append((("defaults", "schedule", "timezone"), message))
    found += [(("defaults", *where), text) for where, text in shared_findings(defaults, targets)]
    return found


def shared_findings(fields: dict[str, Any], targets: Collection[str] | None) -> list[Finding]:
    """Checks on fields a job and oven.yaml's defaults share: memory and notification targets."""
    found: list[Finding] = []
    memory = fields.get("resources", {}).get("memory")
    if memory is not None and (message := memory_problem(memory)):
        found.append((("resources", "memory"), message))
    if targets is not None:
        for index, name in enumerate(fields.get("notifications", {}).get("targets", [])):
            if name not in targets:
                found.append(
                    (
                        ("notifications", "targets", index),
                        f"unknown notification target {name!r}; "
                        "define it under notifications.targets in oven.yaml",
                    )
                )
    return found
