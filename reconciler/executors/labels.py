"""Container labels: how a run's identity travels with its container and comes back.

The reconciler keeps no private database of what it started: every container carries these
labels, so a restarted reconciler rebuilds its view of running work from the engine alone.
The instance label separates reconcilers sharing one engine: each sees, stops, reads and
removes only containers with its own (``selector``, ``owned_by``).
Pure functions only; shared by every executor that talks to a real engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from reconciler.clock import iso, utc
from reconciler.interfaces import RunRequest

PREFIX = "agent-oven."
MANAGED = PREFIX + "managed"
INSTANCE = PREFIX + "instance"
JOB = PREFIX + "job"
RUN = PREFIX + "run"
TRIGGER = PREFIX + "trigger"
REVISION = PREFIX + "revision"
SCHEDULED_FOR = PREFIX + "scheduled-for"
ATTEMPT = PREFIX + "attempt"
RETRY_OF = PREFIX + "retry-of"
IDEMPOTENCY_KEY = PREFIX + "idempotency-key"

MAX_KEY_LENGTH = 64  # longer idempotency keys are stored as their hash


def selector(instance: str) -> list[str]:
    """Label filters that find every container of one reconciler instance."""
    return [f"{MANAGED}=true", f"{INSTANCE}={instance}"]


def owned_by(container_labels: Mapping[str, str] | None, instance: str) -> bool:
    """Whether a container carrying these labels belongs to ``instance`` (and to Agent Oven).

    Run ids, and so container names, can be equal across instances sharing an engine (two
    repos with a job of the same id); an executor acts on a container by name only after
    this says it is its own.
    """
    found = container_labels or {}
    return found.get(MANAGED) == "true" and found.get(INSTANCE) == instance


def key_label(key: str) -> str:
    """The label value for an idempotency key: the key itself, or ``sha256:<hex>`` if long."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def for_request(request: RunRequest, instance: str) -> dict[str, str]:
    """Every label a container for this request carries; unset optional fields are left out."""
    labels = {
        MANAGED: "true",
        INSTANCE: instance,
        JOB: request.job_id,
        RUN: request.run_id,
        TRIGGER: request.trigger,
        REVISION: request.config_revision,
        ATTEMPT: str(request.attempt),
    }
    if request.scheduled_for is not None:
        labels[SCHEDULED_FOR] = iso(request.scheduled_for) or ""
    if request.retry_of:
        labels[RETRY_OF] = request.retry_of
    if request.idempotency_key:
        labels[IDEMPOTENCY_KEY] = key_label(request.idempotency_key)
    return labels


def run_fields(labels: Mapping[str, str]) -> dict[str, Any]:
    """The ``ObservedRun`` fields a container's labels carry (the inverse of ``for_request``)."""
    scheduled = labels.get(SCHEDULED_FOR)
    return {
        "run_id": labels.get(RUN, ""),
        "job_id": labels.get(JOB, ""),
        "trigger": labels.get(TRIGGER, "schedule"),
        "config_revision": labels.get(REVISION, ""),
        "scheduled_for": utc(scheduled) if scheduled else None,
        "attempt": _int(labels.get(ATTEMPT), default=1),
        "retry_of": labels.get(RETRY_OF) or None,
        "idempotency_key": labels.get(IDEMPOTENCY_KEY) or None,
    }


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default
