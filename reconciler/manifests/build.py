"""From a validated manifest to a ``model.JobSpec``: defaults first, then every field filled.

Order matters: oven.yaml's ``defaults`` go under the job's own values, then the defaults
written in the JSON Schema (``"default": ...``) fill what is still missing. The result is the
full manifest, stored on the JobSpec as canonical JSON, so the fingerprint changes exactly when
anything that affects the job changes — its file or a default it inherits — and not when only
comments, key order or quoting change.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.manifests.scheduling import model_schedule
from reconciler.manifests.schemas import JOB_SCHEMA, schema
from reconciler.model import (
    JobSpec,
    Notifications,
    Policy,
    Resources,
    Retries,
    Source,
    canonical_json,
)
from reconciler.pipelines.auth import DEFAULT_AUTH

MERGED_SECTIONS = ("policy", "retries", "resources", "notifications", "env")


def full_manifest(job: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The job with oven.yaml defaults under it and schema defaults filled in."""
    # new mappings wherever a value changes; the values inside are shared, never changed
    merged = dict(job)
    for section in MERGED_SECTIONS:
        if section in defaults:
            merged[section] = {**defaults[section], **merged.get(section, {})}
    zone = defaults.get("schedule", {}).get("timezone")
    if zone and merged["schedule"]["type"] == "cron":
        merged["schedule"] = {"timezone": zone, **merged["schedule"]}
    if merged["type"] == "agent-pipeline":
        merged.setdefault("auth", DEFAULT_AUTH)
    filled: dict[str, Any] = with_defaults(merged, schema(JOB_SCHEMA))
    return filled


def with_defaults(value: Any, node: Any) -> Any:
    """``value`` with the schema's ``default`` values added wherever a field is missing."""
    node = _resolve(node)
    if not isinstance(value, dict) or not isinstance(node, dict):
        return value
    steps = _steps(node)
    if steps.branches is not None:
        kind = value.get("type")
        branch = steps.branches.get(kind) if isinstance(kind, str) else None
        return with_defaults(value, branch) if branch is not None else value
    result = dict(value)
    for name, sub, default in steps.fields:
        if name in result:
            result[name] = with_defaults(result[name], sub)
        elif default is not _NO_DEFAULT:
            result[name] = with_defaults(copy.deepcopy(default), sub)
    return result


_NO_DEFAULT = object()


@dataclass(frozen=True)
class _Steps:
    """What ``with_defaults`` does at one schema node, worked out once: its ``oneOf``
    branches by their ``type`` const, or its properties (resolved) with their defaults."""

    branches: dict[str, Any] | None
    fields: tuple[tuple[str, Any, Any], ...]


_STEPS: dict[int, _Steps] = {}  # by id() of a node of the cached job schema


def _steps(node: dict[str, Any]) -> _Steps:
    found = _STEPS.get(id(node))
    if found is None:
        found = _STEPS[id(node)] = _work_out(node)
    return found


def _work_out(node: dict[str, Any]) -> _Steps:
    if "oneOf" in node:
        branches: dict[str, Any] = {}
        for branch in map(_resolve, node["oneOf"]):
            const = branch.get("properties", {}).get("type", {}).get("const")
            if isinstance(const, str):
                branches.setdefault(const, branch)
        return _Steps(branches, ())
    fields = []
    for name, sub in node.get("properties", {}).items():
        sub = _resolve(sub)
        default = sub["default"] if isinstance(sub, dict) and "default" in sub else _NO_DEFAULT
        fields.append((name, sub, default))
    return _Steps(None, tuple(fields))


def _resolve(node: Any) -> Any:
    """Follow a local ``$ref`` (``#/$defs/name``) in the job schema."""
    while isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/$defs/"):
        node = schema(JOB_SCHEMA)["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


def job_spec(path: str, full: Mapping[str, Any]) -> JobSpec:
    """The JobSpec of a full manifest (see ``full_manifest``) read from ``path``."""
    command = full.get("command", ())
    return JobSpec(
        id=full["id"],
        name=full["name"],
        type=full["type"],
        schedule=model_schedule(full["schedule"]),
        path=path,
        description=full["description"],
        owner=full["owner"],
        enabled=full["enabled"],
        policy=_policy(full["policy"]),
        retries=Retries(
            limit=int(full["retries"]["limit"]), backoff=float(full["retries"]["backoff"])
        ),
        resources=_resources(full["resources"]),
        notifications=_notifications(full["notifications"]),
        env=tuple(sorted(full.get("env", {}).items())),
        secrets=tuple(full.get("secrets", ())),
        image=full.get("image"),
        command=("sh", "-c", command) if isinstance(command, str) else tuple(command),
        volumes=tuple(full.get("volumes", ())),
        user=full.get("user"),
        read_only_rootfs=full.get("readOnlyRootfs", False),
        network=full.get("network", "bridge"),
        capabilities=tuple(full.get("capabilities", ())),
        source=Source(**full["source"]) if "source" in full else None,
        pipeline=full.get("pipeline"),
        auth=full.get("auth"),
        model=full.get("model"),
        manifest=canonical_json(full),
    )


def _policy(policy: Mapping[str, Any]) -> Policy:
    return Policy(
        concurrency=policy["concurrency"],
        missed=policy["missed"],
        starting_deadline=_whole(policy.get("startingDeadline")),
        max_catch_up=int(policy["maxCatchUp"]),
    )


def _resources(resources: Mapping[str, Any]) -> Resources:
    cpus = resources.get("cpus")
    return Resources(
        timeout=_whole(resources.get("timeout")),
        memory=resources.get("memory"),
        cpus=float(cpus) if cpus is not None else None,
        pids=resources.get("pids"),
    )


def _whole(value: int | float | None) -> int | None:
    """A schema ``integer`` as an int: JSON Schema counts ``600.0`` as an integer too."""
    return int(value) if value is not None else None


def _notifications(notifications: Mapping[str, Any]) -> Notifications:
    return Notifications(
        targets=tuple(notifications["targets"]),
        on_failure=notifications["onFailure"],
        on_success=notifications["onSuccess"],
        on_recovery=notifications["onRecovery"],
    )
