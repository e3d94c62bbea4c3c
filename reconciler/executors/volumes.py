"""Volume strings from manifests (``src:dst[:ro|rw]``) parsed into mounts an engine understands.

A source that is an absolute path is a bind mount of a host directory; any other source names
a Docker volume. Bind mounts must exist on the host: unlike ``docker run -v`` we never let the
engine create a missing host directory as root.

Manifests are checked against the volume allow-list when they load, but the host can change
between then and a run: a job with a writable volume may plant ``escape -> /`` in it, and the
next job that mounts ``<allowed>/escape`` would get the host's root. So ``confine`` resolves
every symlink again just before the container is created, refuses a real path outside the
allow-list (``VolumeRefused``) and hands the engine the resolved path, not the one written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from reconciler.errors import ExecutorError, VolumeRefused

VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
HINT = 'write volumes as "SOURCE:TARGET" or "SOURCE:TARGET:ro" (or ":rw")'
REFUSED_HINT = (
    "a symlink (or a directory that is gone) in the host path points outside the directories "
    "the reconciler may mount (--allow-volume); look at the path on the host and remove the link"
)


@dataclass(frozen=True)
class VolumeSpec:
    source: str
    target: str
    read_only: bool = False

    @property
    def kind(self) -> Literal["bind", "volume"]:
        return "bind" if self.source.startswith("/") else "volume"


def parse(text: str) -> VolumeSpec:
    """Parse one ``src:dst[:ro|rw]`` string; ExecutorError says what is wrong with it."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise ExecutorError(f"volume {text!r} is not SOURCE:TARGET[:MODE]", hint=HINT)
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise ExecutorError(f"volume {text!r} has mode {mode!r}; only ro and rw exist", hint=HINT)
    if not target.startswith("/"):
        raise ExecutorError(f"volume {text!r}: the target must be an absolute path", hint=HINT)
    if not source.startswith("/") and not VOLUME_NAME.match(source):
        raise ExecutorError(
            f"volume {text!r}: {source!r} is neither an absolute host path nor a volume name",
            hint=HINT,
        )
    return VolumeSpec(source=source, target=target, read_only=mode == "ro")


def parse_all(texts: tuple[str, ...] | list[str]) -> list[VolumeSpec]:
    return [parse(text) for text in texts]


def confine(specs: list[VolumeSpec], allowlist: Sequence[str] | None) -> list[VolumeSpec]:
    """The specs with every bind source resolved to its real path; VolumeRefused when one is
    missing or leaves ``allowlist``. ``allowlist=None``: not checked (sources kept as written)."""
    if allowlist is None:
        return specs
    roots = [os.path.realpath(root) for root in allowlist]
    return [_confined(spec, roots) if spec.kind == "bind" else spec for spec in specs]


def _confined(spec: VolumeSpec, roots: list[str]) -> VolumeSpec:
    try:
        real = os.path.realpath(spec.source, strict=True)
    except OSError as exc:
        raise VolumeRefused(
            f"host path {spec.source!r} cannot be mounted: {exc.strerror or exc}",
            hint="create the directory on the host, inside an --allow-volume directory",
        ) from exc
    if not any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots):
        where = f" (it resolves to {real!r})" if real != os.path.normpath(spec.source) else ""
        raise VolumeRefused(
            f"host path {spec.source!r} is outside the volume allow-list{where}; "
            "the run was not started",
            hint=REFUSED_HINT,
        )
    return replace(spec, source=real)
