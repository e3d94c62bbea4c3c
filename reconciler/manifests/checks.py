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
from urllib.parse import urlsplit

from reconciler.manifests.bounds import memory_problem
from reconciler.manifests.safe_yaml import Path
from reconciler.manifests.scheduling import check_timezone, schedule_findings
from reconciler.manifests.volumes import inside, volume_findings
from reconciler.pipelines.sources import classify_remote

Finding = tuple[Path, str]


def job_findings(
    job: dict[str, Any], allowlist: Sequence[str] | None, targets: Collection[str] | None
) -> list[Finding]:
    """Everything beyond the schema that is wrong with one (schema-valid) job manifest."""
    found = schedule_findings(job["schedule"], ("schedule",))
    found += volume_findings(job.get("volumes", []), allowlist)
    found += shared_findings(job, targets)
    if "source" in job:
        found += source_findings(job["source"], allowlist)
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
    notifications = settings.get("notifications", {})
    for index, name in enumerate(notifications.get("reconciler", [])):
        if name not in targets:
            found.append(
                (
                    ("notifications", "reconciler", index),
                    f"unknown notification target {name!r}; define it under notifications.targets",
                )
            )
    for name, target in notifications.get("targets", {}).items():
        if "signingSecret" in target and target["type"] != "webhook":
            found.append(
                (
                    ("notifications", "targets", name, "signingSecret"),
                    "only a target of type webhook is signed; remove signingSecret",
                )
            )
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


def source_findings(source: dict[str, Any], allowlist: Sequence[str] | None) -> list[Finding]:
    """An agent-pipeline source: no credentials in the URL; a local repo inside the allow-list.

    A local repo is mounted read-write into the run's container (so the agent can push to
    it), which is why it must be inside the volume allow-list like any bind mount.
    """
    repo = source["repo"]
    found: list[Finding] = []
    remote = classify_remote(repo)
    if "://" in repo and urlsplit(repo).password:
        found.append(
            (("source", "repo"), "holds a password or token; name a secret in source.secret")
        )
    if remote.kind == "local":
        path = remote.local_path or repo
        if not path.startswith("/"):
            found.append((("source", "repo"), f"{repo!r} is neither a URL nor an absolute path"))
        elif allowlist is not None and not any(inside(path, root) for root in allowlist):
            where = ", ".join(allowlist) if allowlist else "it is empty"
            found.append(
                (
                    ("source", "repo"),
                    f"local repo {path!r} is outside the reconciler's volume allow-list "
                    f"({where}); it is mounted into the run's container",
                )
            )
    if source.get("secret") and not remote.takes_secret:
        found.append(
            (("source", "secret"), f"only https and ssh repos use a secret; {repo!r} is neither")
        )
    return found
