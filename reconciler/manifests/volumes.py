"""Checks on ``volumes``: host paths inside the allow-list, targets the engine will mount.

The schema has already checked the shape ``SOURCE:TARGET[:ro|rw]``. Here: the source is a
named volume or an absolute host path inside the reconciler's allow-list (as written and with
symlinks resolved), and the target is one the Docker engine accepts. What the engine refuses
was tried on Docker 20+ with runc (docs/manifests.md, "Volumes"): a target of ``/``; ``/proc``
and anything under it; ``/dev`` itself, ``/dev/null``, ``/dev/ptmx`` and ``/dev/console``; a
named volume (a directory) over the files ``/etc/hosts``, ``/etc/hostname`` and
``/etc/resolv.conf``; and two mounts on one target.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from reconciler.manifests.safe_yaml import Path

Finding = tuple[Path, str]

VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
REFUSED_TARGETS = frozenset({"/", "/dev", "/dev/null", "/dev/ptmx", "/dev/console"})
REFUSED_UNDER = ("/proc",)
FILE_TARGETS = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"})


def volume_findings(volumes: Sequence[str], allowlist: Sequence[str] | None) -> list[Finding]:
    """Every volume that cannot be mounted, and every second mount on one target."""
    found: list[Finding] = []
    seen: dict[str, int] = {}
    for index, volume in enumerate(volumes):
        message = volume_problem(volume, allowlist)
        target = normal_target(volume.split(":")[1])
        if message is None and target in seen:
            message = f"container path {target!r} is already mounted by volumes[{seen[target]}]"
        seen.setdefault(target, index)
        if message:
            found.append((("volumes", index), message))
    return found


def volume_problem(volume: str, allowlist: Sequence[str] | None) -> str | None:
    """Why ``SOURCE:TARGET[:MODE]`` may not be mounted, or None. ``allowlist=None``: not checked."""
    source, target = volume.split(":")[:2]
    message = target_problem(source, target)
    if message:
        return message
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
    if not any(inside(source, root) for root in allowlist):
        return f"host path {source!r} is outside the volume allow-list ({', '.join(allowlist)})"
    return None


def target_problem(source: str, target: str) -> str | None:
    """Why the engine would refuse to mount ``source`` on the container path ``target``."""
    if not target.startswith("/"):
        return f"container path {target!r} must be absolute"
    if ".." in target.split("/"):
        return f"container path {target!r} must not contain '..'"
    path = normal_target(target)
    if path in REFUSED_TARGETS or any(_under(path, root) for root in REFUSED_UNDER):
        return f"container path {target!r} cannot be mounted over; the engine refuses it"
    if path in FILE_TARGETS and not source.startswith("/"):
        return (
            f"container path {target!r} is a file the engine writes; "
            "a named volume (a directory) cannot be mounted over it"
        )
    return None


def normal_target(target: str) -> str:
    """``//proc/./`` -> ``/proc``: the container path the engine will use."""
    return "/" + "/".join(part for part in target.split("/") if part not in ("", "."))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


def inside(path: str, root: str) -> bool:
    """``path`` is ``root`` or below it, both as written and with symlinks resolved."""
    try:
        pairs = (
            (os.path.normpath(path), os.path.normpath(root)),
            (os.path.realpath(path), os.path.realpath(root)),
        )
    except (OSError, ValueError):  # a path the host cannot even resolve is not inside
        return False
    return all(p == r or p.startswith(r.rstrip("/") + "/") for p, r in pairs)
