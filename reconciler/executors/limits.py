"""Resource limits from manifests (``memory: 512m``, ``cpus: 1.5``) in the units engines take,
and the checks on what a run container may do (capabilities, network, process limit).

Memory follows Docker's notation: a number with an optional unit b, k, m or g (powers of
1024, case-insensitive). Pure functions, shared by every executor so all of them accept and
refuse exactly the same values.
"""

from __future__ import annotations

from reconciler.errors import ExecutorError
from reconciler.interfaces import RunRequest
from reconciler.manifests.bounds import MIN_MEMORY
from reconciler.manifests.bounds import memory_bytes as parse_memory
from reconciler.model import ALLOWED_CAPABILITIES

NETWORKS = ("none", "bridge")
# The engine's own log of a run (json-file driver): at most 3 files of 10 MB on the host's
# disk, the newest kept. The reconciler's saved copy is capped separately (--max-log-bytes).
ENGINE_LOG = {"max-size": "10m", "max-file": "3"}


def memory_bytes(text: str) -> int:
    """``"512m"`` -> 536870912; ExecutorError for anything else or below the engine's minimum.

    Parsed exactly as validation parsed it (``manifests.bounds``), so the engine gets the
    number ``oven validate`` approved."""
    size = parse_memory(text.strip())
    if size is None:
        raise ExecutorError(
            f"memory limit {text!r} is not understood", hint="write it like 512m or 2g"
        )
    if size < MIN_MEMORY:
        raise ExecutorError(
            f"memory limit {text!r} is below the minimum of 6m", hint="use 6m or more"
        )
    return size


def nano_cpus(cpus: float) -> int:
    """``1.5`` -> 1500000000 (the engine's NanoCpus); ExecutorError for zero or less."""
    if cpus <= 0:
        raise ExecutorError(f"cpus {cpus} must be more than 0", hint="write it like 0.5 or 2")
    return int(round(cpus * 1e9))


def check_privileges(request: RunRequest) -> None:
    """ExecutorError for a request asking for more than a run container may have."""
    extra = sorted(set(request.capabilities) - set(ALLOWED_CAPABILITIES))
    if extra:
        raise ExecutorError(
            f"capabilities {', '.join(extra)} may not be added to a run container",
            hint=f"only {', '.join(ALLOWED_CAPABILITIES)} may be (docs/security.md)",
        )
    if request.network not in NETWORKS:
        raise ExecutorError(
            f"network {request.network!r} is not offered", hint="use none or bridge"
        )
    if request.pids < 1:
        raise ExecutorError(f"pids limit {request.pids} must be at least 1")
