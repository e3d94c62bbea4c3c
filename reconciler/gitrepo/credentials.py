"""Credentials for the config repo's remote: from the reconciler's settings and secret store,
never from the config repo.

- HTTP(S): a token sent with basic auth (``username`` defaults to ``x-access-token``, which
  GitHub accepts; GitLab accepts any name with a project or personal access token).
- SSH: a private key, written to a file of mode 0600 under the state directory, and a
  ``known_hosts`` file there too (first contact is accepted and remembered, later changes of
  the host key are refused), ssh run in batch mode so it never asks.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN_USER = "x-access-token"


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    username: str | None = None
    ssh_key: str | None = None  # the private key itself (from the secret store)
    state_dir: Path | None = None  # where the key file and known_hosts live

    def client_kwargs(self, remote: str) -> dict[str, Any]:
        """Keyword arguments for dulwich's ``get_transport_and_path`` for ``remote``."""
        scheme = remote.split("://", 1)[0].lower() if "://" in remote else ""
        if scheme in ("http", "https") and self.token:
            return {"username": self.username or TOKEN_USER, "password": self.token}
        if scheme in ("ssh", "git+ssh") or _scp_like(remote):
            return self._ssh()
        return {}

    def _ssh(self) -> dict[str, Any]:
        if not self.ssh_key or self.state_dir is None:
            return {}
        folder = self.state_dir / "ssh"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = folder / "id_repo"
        text = self.ssh_key if self.ssh_key.endswith("\n") else self.ssh_key + "\n"
        if not key.exists() or key.read_text() != text:
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(text)
        known = folder / "known_hosts"
        command = [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            f"UserKnownHostsFile={known}",
        ]
        return {"key_filename": str(key), "ssh_command": shlex.join(command)}


def _scp_like(remote: str) -> bool:
    """``user@host:path``, git's short form for SSH."""
    head = remote.split("/", 1)[0]
    return "://" not in remote and ":" in head and not Path(remote).exists()
