"""Checks a JSON Schema cannot express: schedules that can fire, volumes inside the allow-list.

Run only on manifests that already passed the schema, so every field has the right shape.
Each check returns ``(path, message)`` findings; ``job_findings`` and ``oven_findings`` run all
that apply to a job manifest or to oven.yaml. Schedules are checked by ``reconciler.schedule``
(through ``scheduling``), the only package that knows croniter (``reconciler.schedule.cron``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

from reconciler.manifests.safe_yaml import Path
from reconciler.manifests.scheduling import check_timezone, schedule_findings
from reconciler.pipelines.sources import classify_remote

Finding = tuple[Path, str]

VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([kmg]?)b?$", re.IGNORECASE)
MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MIN_MEMORY = 6 * 1024**2  # the Docker engine refuses less


def job_findings(
    job: dict[str, Any], allowlist: Sequence[str] | None, targets: Collection[str] | None
) -> list[Finding]:
    """Everything beyond the schema that is wrong with one (schema-valid) job manifest."""
    found = schedule_findings(job["schedule"], ("schedule",))
    for index, volume in enumerate(job.get("volumes", [])):
        message = volume_problem(volume, allowlist)
        if message:
            found.append((("volumes", index), message))
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
    return found


def shared_findings(fields: dict[str, Any], targets: Collection[str] | None) -> list[Finding]:
    """Checks on fields a job and oven.yaml's defaults share: memory and notification targets."""
    found: list[Finding] = []
    memory = fields.get("resources", {}).get("memory")
    if memory is not None and memory_bytes(memory) < MIN_MEMORY:
        found.append(
            (("resources", "memory"), f"must be at least 6m, Docker's minimum (got {memory!r})")
        )
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
        elif allowlist is not None and not any(_inside(path, root) for root in allowlist):
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


def volume_problem(volume: str, allowlist: Sequence[str] | None) -> str | None:
    """Why ``SOURCE:TARGET[:MODE]`` may not be mounted, or None. ``allowlist=None``: not checked."""
    source, target = volume.split(":")[:2]
    if not target.startswith("/"):
        return f"container path {target!r} must be absolute"
    if ".." in target.split("/"):
        return f"container path {target!r} must not contain '..'"
    if not source.startswith("/"):
        if VOLUME_NAME.match(source):
            return None
        return f"{source!r} is neither an absolute host path nor a volume name"
    if ".." in source.split("/"):
        return f"host path {source!r} must not contain '..'"
    if allowlist is None:
        return None
    if not allowlist:
        return f"host path {source!r} is not allowed: the reconciler's volume allow-list is empty"
    if not any(_inside(source, root) for root in allowlist):
        return f"host path {source!r} is outside the volume allow-list ({', '.join(allowlist)})"
    return None


def _inside(path: str, root: str) -> bool:
    """``path`` is ``root`` or below it, both as written and with symlinks resolved."""
    pairs = (
        (os.path.normpath(path), os.path.normpath(root)),
        (os.path.realpath(path), os.path.realpath(root)),
    )
    return all(p == r or p.startswith(r.rstrip("/") + "/") for p, r in pairs)


def memory_bytes(text: str) -> int:
    """``512m`` -> bytes (powers of 1024); the schema has already checked the shape."""
    match = MEMORY.match(text)
    if not match:
        return 0
    return int(float(match.group(1)) * MEMORY_UNITS[match.group(2).lower()])
