"""Volume strings from manifests (``src:dst[:ro|rw]``) parsed into mounts an engine understands.

A source that is an absolute path is a bind mount of a host directory (already checked
against the allow-list before it gets here); any other source names a Docker volume.
Bind mounts must exist on the host: unlike ``docker run -v`` we never let the engine create
a missing host directory as root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from reconciler.errors import ExecutorError

VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
HINT = 'write volumes as "SOURCE:TARGET" or "SOURCE:TARGET:ro" (or ":rw")'


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
