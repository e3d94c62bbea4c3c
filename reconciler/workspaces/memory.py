"""Checkouts as dicts, for unit tests of the cycle: ``interfaces.Workspaces`` without git.

``sources`` maps a repo to the files a clone of it has; ``prepare`` copies them into the run's
checkout, where a test writes what the pipeline would (``write``). ``refuse`` makes a repo
fail to clone with the given error; ``login`` is what ``host_login`` reports.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import PurePosixPath

from reconciler.errors import OvenError, SourceError
from reconciler.interfaces import Workspace
from reconciler.pipelines.auth import HostLogin
from reconciler.pipelines.sources import classify_remote


class MemoryWorkspaces:
    def __init__(
        self,
        sources: Mapping[str, Mapping[str, bytes]] | None = None,
        login: HostLogin | None = None,
    ) -> None:
        self.sources = {repo: dict(files) for repo, files in (sources or {}).items()}
        self.login = login or HostLogin("/home/u/.claude", "/home/u/.claude.json", "/home/u/gh")
        self.checkouts: dict[str, dict[str, bytes]] = {}
        self.credentials: dict[str, str | None] = {}  # run id -> the credential it was given
        self.refuse: dict[str, OvenError] = {}
        self.logins: set[str] = set()  # runs with a copy of the host login
        self._lock = threading.Lock()

    def prepare(self, run_id: str, repo: str, branch: str, credential: str | None) -> Workspace:
        with self._lock:
            if repo in self.refuse:
                raise self.refuse[repo]
            if repo not in self.sources:
                raise SourceError(f"cannot clone the source repo {repo}: no such repository")
            self.checkouts[run_id] = dict(self.sources[repo])
            self.credentials[run_id] = credential
        remote = classify_remote(repo)
        volumes = (f"{remote.local_path}:{remote.local_path}:rw",) if remote.local_path else ()
        env = {"OVEN_GIT_TOKEN": credential} if credential else {}
        return Workspace(run_id=run_id, path=f"/checkouts/{run_id}", volumes=volumes, env=env)

    def copy_login(self, run_id: str) -> str:
        with self._lock:
            self.logins.add(run_id)
        return f"/logins/{run_id}"

    def list_dir(self, run_id: str, directory: str) -> list[str]:
        prefix = PurePosixPath(directory)
        with self._lock:
            files = self.checkouts.get(run_id, {})
            return sorted(PurePosixPath(p).name for p in files if PurePosixPath(p).parent == prefix)

    def read(self, run_id: str, path: str) -> bytes | None:
        with self._lock:
            return self.checkouts.get(run_id, {}).get(path)

    def remove(self, run_id: str) -> None:
        with self._lock:
            self.checkouts.pop(run_id, None)
            self.logins.discard(run_id)

    def runs(self) -> list[str]:
        with self._lock:
            return sorted(self.checkouts)

    def host_login(self) -> HostLogin:
        return self.login

    # -- the test's controls ---------------------------------------------------------------

    def write(self, run_id: str, path: str, data: bytes) -> None:
        """Put a file into a checkout, as the pipeline in the container would."""
        with self._lock:
            self.checkouts.setdefault(run_id, {})[path] = data
