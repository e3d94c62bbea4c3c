"""Per-run checkouts made with the real git client, under ``<state_dir>/checkouts/<run_id>``.

An agent-pipeline run gets a fresh clone of its source branch, mounted read-write at
``/work`` in the runner container. ``origin`` stays the source's real remote, so the agent's
pushes and pull requests go there. Credentials never reach the checkout in clear:

    https://…   the token goes in the environment (OVEN_GIT_TOKEN), never on a command line;
                the checkout's credential helper reads it (or GH_TOKEN/GITHUB_TOKEN) when git
                asks, on the host for the clone and in the container for the push
    ssh         the private key is written 0600 for the clone and deleted after it; in the
                container, core.sshCommand writes OVEN_GIT_SSH_KEY to a private temporary file
    a path,     no credentials; the source repo is mounted read-write at its own path so the
    file://     agent can push to it (it must be inside the reconciler's volume allow-list)

The container's user (uid 1000) must be able to write the checkout: a reconciler running as
root hands it over (chown); one running as another user runs the container as itself.
git errors are translated: a refused login is ``AuthError``, anything else ``SourceError``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from reconciler.errors import AuthError, OvenError, SourceError
from reconciler.gitrepo.mirror import redact_url
from reconciler.interfaces import Workspace
from reconciler.pipelines.auth import HostLogin
from reconciler.pipelines.sources import Remote, classify_remote
from reconciler.workspaces.remotes import HTTPS_HELPER, SSH_COMMAND, refused

__all__ = ["AGENT_UID", "GitWorkspaces"]

AGENT_UID = 1000  # the runner image's user `agent`
OTHER_USER_HOME = "/tmp/oven-home"  # HOME in the container when it runs as another uid
# top-level entries of ~/.claude a run does not need: history, caches, logs (can be large)
HISTORY = frozenset({"projects", "todos", "shell-snapshots", "statsig", "logs", "debug", "ide"})
CLONE_TIMEOUT = 600.0  # seconds
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "", "LC_ALL": "C"}


class GitWorkspaces:
    """``interfaces.Workspaces`` on the host's file system with the ``git`` command."""

    def __init__(
        self,
        root: Path | str,
        *,
        claude_dir: Path | str | None = None,
        claude_json: Path | str | None = None,
        gh_dir: Path | str | None = None,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        home = Path.home()
        self.root = Path(root)
        self.claude_dir = Path(claude_dir or home / ".claude")
        self.claude_json = Path(claude_json or home / ".claude.json")
        self.gh_dir = Path(gh_dir or home / ".config" / "gh")
        self.uid = os.geteuid() if uid is None else uid
        self.gid = os.getegid() if gid is None else gid

    # -- the Workspaces protocol -----------------------------------------------------------

    def prepare(self, run_id: str, repo: str, branch: str, credential: str | None) -> Workspace:
        """Clone ``branch`` of ``repo`` into a fresh checkout; SourceError or AuthError."""
        remote = classify_remote(repo)
        path = self._path(run_id)
        self.remove(run_id)
        env = self._credential_env(remote, credential)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            key = self._key_file(run_id, remote, credential)
            try:
                self._clone(remote, branch, path, env, key)
                self._configure(path, remote)
            finally:
                if key is not None:
                    key.unlink(missing_ok=True)
            user = self._hand_over(path)
        except OSError as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise SourceError(
                f"cannot make the checkout of run {run_id} under {self.root}: "
                f"{exc.strerror or exc}",
                hint="the reconciler's --state-dir must be writable (and, as root, allow chown)",
            ) from exc
        volumes = (f"{remote.local_path}:{remote.local_path}:rw",) if remote.local_path else ()
        if user is not None:  # the image's home belongs to `agent`: give ours a writable one
            env = {**env, "HOME": OTHER_USER_HOME}
        return Workspace(run_id=run_id, path=str(path), volumes=volumes, env=env, user=user)

    def copy_login(self, run_id: str) -> str:
        """Copy ~/.claude (without its bulky history), ~/.claude.json and ~/.config/gh."""
        target = self._login_path(run_id)
        try:
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(mode=0o700, parents=True)
            if self.claude_dir.is_dir():
                top = str(self.claude_dir)
                shutil.copytree(
                    self.claude_dir,
                    target / ".claude",
                    symlinks=True,
                    ignore=lambda folder, names: set(names) & HISTORY if folder == top else set(),
                )
            if self.claude_json.is_file():
                shutil.copy2(self.claude_json, target / ".claude.json")
            if self.gh_dir.is_dir():
                shutil.copytree(self.gh_dir, target / ".config" / "gh", symlinks=True)
        except OSError as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise OvenError(
                f"cannot copy the host login for run {run_id}: {exc.strerror or exc}",
                hint="the reconciler's user must be able to read ~/.claude, ~/.claude.json and "
                "~/.config/gh (or the paths given by --host-claude-dir and friends)",
            ) from exc
        self._hand_over(target)
        return str(target)

    def list_dir(self, run_id: str, directory: str) -> list[str]:
        folder = self._inside(run_id, directory)
        if folder is None or not folder.is_dir():
            return []
        return sorted(entry.name for entry in folder.iterdir() if entry.is_file())

    def read(self, run_id: str, path: str) -> bytes | None:
        file = self._inside(run_id, path)
        try:
            return file.read_bytes() if file is not None and file.is_file() else None
        except OSError:
            return None

    def remove(self, run_id: str) -> None:
        shutil.rmtree(self._login_path(run_id), ignore_errors=True)
        path = self._path(run_id)
        if not path.exists():
            return
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise OvenError(
                f"cannot remove the checkout of run {run_id} at {path}: {exc.strerror or exc}",
                hint="files the agent wrote may belong to another user; remove the directory "
                "by hand (as root), or run the reconciler as root or as uid 1000",
            ) from exc

    def runs(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def host_login(self) -> HostLogin:
        credentials = self.claude_dir / ".credentials.json"
        try:
            content = credentials.read_bytes() if credentials.is_file() else None
        except OSError:
            content = None
        return HostLogin(
            claude_dir=str(self.claude_dir),
            claude_json=str(self.claude_json),
            gh_dir=str(self.gh_dir),
            claude_dir_exists=self.claude_dir.is_dir(),
            credentials=content,
            claude_json_exists=self.claude_json.is_file(),
            gh_dir_exists=self.gh_dir.is_dir(),
        )

    # -- helpers ---------------------------------------------------------------------------

    def _path(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise SourceError(f"cannot make a checkout for the run id {run_id!r}")
        return self.root / run_id

    def _login_path(self, run_id: str) -> Path:
        return self.root / ".logins" / self._path(run_id).name

    def _inside(self, run_id: str, relative: str) -> Path | None:
        """``relative`` inside the checkout, or None if it would leave it (``..``, links)."""
        base = self._path(run_id).resolve()
        target = (base / relative).resolve()
        return target if target == base or base in target.parents else None

    def _credential_env(self, remote: Remote, credential: str | None) -> dict[str, str]:
        if not credential:
            return {}
        return {"OVEN_GIT_SSH_KEY" if remote.kind == "ssh" else "OVEN_GIT_TOKEN": credential}

    def _key_file(self, run_id: str, remote: Remote, credential: str | None) -> Path | None:
        if remote.kind != "ssh" or not credential:
            return None
        keys = self.root / ".keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        key = keys / run_id
        descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(credential.strip() + "\n")
        return key

    def _clone(
        self, remote: Remote, branch: str, path: Path, env: Mapping[str, str], key: Path | None
    ) -> None:
        extra = {**env}
        if key is not None:
            extra["GIT_SSH_COMMAND"] = (
                f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new"
            )
        config = ["-c", "credential.helper=", "-c", f"credential.helper={HTTPS_HELPER}"]
        command = [*config, "clone", "--quiet", "--branch", branch, "--", remote.url, str(path)]
        result = _git(command, extra, self.root)
        if result.returncode != 0:
            shutil.rmtree(path, ignore_errors=True)
            raise _clone_error(remote, branch, result.stderr)

    def _configure(self, path: Path, remote: Remote) -> None:
        """Push credentials by reference only; a committer identity for the agent's commits."""
        settings = [("user.name", "Agent Oven"), ("user.email", "agent-oven@localhost")]
        if remote.kind == "https":
            settings.append(("credential.helper", HTTPS_HELPER))
        if remote.kind == "ssh":
            settings.append(("core.sshCommand", SSH_COMMAND))
        for name, value in settings:
            result = _git(["-C", str(path), "config", name, value], {}, self.root)
            if result.returncode != 0:
                raise SourceError(f"cannot configure the checkout: {result.stderr.strip()}")

    def _hand_over(self, path: Path) -> str | None:
        """Let the container's user write the checkout; the user to run as, if not `agent`."""
        if self.uid == AGENT_UID:
            return None
        if self.uid == 0:
            for folder, dirs, files in os.walk(path):
                os.chown(folder, AGENT_UID, AGENT_UID)
                for name in dirs + files:
                    os.lchown(os.path.join(folder, name), AGENT_UID, AGENT_UID)
            return None
        return f"{self.uid}:{self.gid}"


def _git(args: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args],
            env={**os.environ, **_GIT_ENV, **env},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=CLONE_TIMEOUT,
        )
    except FileNotFoundError as exc:
        raise SourceError(
            "the git command is not installed on the reconciler's host",
            hint="install git (apt-get install git): agent-pipeline checkouts need it",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise SourceError(
            f"git did not finish within {CLONE_TIMEOUT:.0f}s", hint="is the remote reachable?"
        ) from exc


def _clone_error(remote: Remote, branch: str, stderr: str) -> OvenError:
    detail = " ".join(line.strip() for line in stderr.strip().splitlines()[-3:]) or "no message"
    if refused(stderr):
        return AuthError(
            f"the source repo {redact_url(remote.url)} refused the credentials: {detail}",
            hint="check the job's source.secret in the reconciler's secrets (a token with read "
            "and write access for https, a deploy key for ssh)",
        )
    if "Remote branch" in stderr and "not found" in stderr:
        return SourceError(
            f"the source repo {redact_url(remote.url)} has no branch {branch!r}",
            hint="set source.branch to a branch that exists",
        )
    return SourceError(
        f"cannot clone the source repo {redact_url(remote.url)}: {detail}",
        hint="is source.repo right and the remote reachable from the reconciler's host?",
    )
