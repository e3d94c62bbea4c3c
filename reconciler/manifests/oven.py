"""oven.yaml, the repo-wide settings: job defaults and notification targets by name.

A broken oven.yaml is reported like any manifest, and then ignored as a whole: no defaults are
applied and notification target names in jobs go unchecked (every job would otherwise repeat
the same error). A missing or empty oven.yaml means no defaults and no targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.manifests.checks import oven_findings
from reconciler.manifests.precheck import oven_precheck
from reconciler.manifests.safe_yaml import dotted
from reconciler.manifests.schemas import oven_validator
from reconciler.manifests.validate import check_document
from reconciler.model import NotifySettings, NotifyTarget, Problem

OVEN_PATH = "oven.yaml"


@dataclass(frozen=True)
class OvenSettings:
    """What jobs inherit. ``targets`` is None when unknown (oven.yaml is broken)."""

    defaults: dict[str, Any] = field(default_factory=dict)
    targets: frozenset[str] | None = frozenset()
    problems: tuple[Problem, ...] = ()
    notify: NotifySettings | None = field(default_factory=NotifySettings)


def load_oven(data: bytes | None, path: str = OVEN_PATH) -> OvenSettings:
    """Parse and check oven.yaml; ``data=None`` when the repo has none."""
    if data is None or not data.strip():
        return OvenSettings()
    doc, problems = check_document(path, data, oven_validator, oven_precheck())
    if doc is None or problems:
        return OvenSettings(targets=None, problems=tuple(problems), notify=None)
    targets = frozenset(doc.data.get("notifications", {}).get("targets", {}))
    findings = oven_findings(doc.data, targets)
    if findings:
        problems = [Problem(path, doc.line_of(at), dotted(at), text) for at, text in findings]
        return OvenSettings(targets=None, problems=tuple(problems), notify=None)
    return OvenSettings(
        defaults=doc.data.get("defaults", {}),
        targets=targets,
        notify=notify_settings(doc.data.get("notifications", {})),
    )


def notify_settings(notifications: dict[str, Any]) -> NotifySettings:
    """The checked ``notifications`` mapping of oven.yaml as value objects."""
    targets = tuple(
        NotifyTarget(name, spec["type"], spec["urlSecret"], spec.get("signingSecret"))
        for name, spec in sorted(notifications.get("targets", {}).items())
    )
    names = notifications.get("reconciler", [t.name for t in targets])
    return NotifySettings(targets, tuple(names))
