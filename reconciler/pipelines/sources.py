"""What kind of remote an agent-pipeline job's ``source.repo`` is (pure).

A local path or ``file://`` URL (one-machine use and tests), ``git://``, ``http(s)://`` or ssh
(``ssh://`` or ``user@host:path``). The kind decides which credential ``source.secret``
holds (a token for https, a private key for ssh, none otherwise) and whether the repo is
mounted into the container so the agent can push to it (local ones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

__all__ = ["Remote", "RemoteKind", "classify_remote"]

RemoteKind = Literal["local", "git", "https", "ssh"]
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")


@dataclass(frozen=True)
class Remote:
    url: str  # what git clones from
    kind: RemoteKind
    local_path: str | None = None  # the repo's path on the host, for local remotes

    @property
    def takes_secret(self) -> bool:
        """Whether ``source.secret`` means anything for this remote (https token, ssh key)."""
        return self.kind in ("https", "ssh")


def classify_remote(repo: str) -> Remote:
    """The kind of ``repo``: a path or file:// URL is local, then by scheme, else scp-like ssh."""
    if repo.startswith("/"):
        return Remote(repo, "local", repo.rstrip("/") or "/")
    parts = urlsplit(repo)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return Remote(repo, "local", unquote(parts.path).rstrip("/") or "/")
    if scheme in ("http", "https"):
        return Remote(repo, "https")
    if scheme == "git":
        return Remote(repo, "git")
    if scheme in ("ssh", "git+ssh") or _SCP_LIKE.match(repo):
        return Remote(repo, "ssh")
    return Remote(repo, "local", repo)
