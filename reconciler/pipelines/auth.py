"""Auth modes of agent-pipeline jobs: what each hands the container, and the pre-flight check.

Pure. The cycle gathers the facts (secret values, the host's login files, the runner image's
label) and asks ``preflight`` whether a run may start; a refusal is an ``ErrorInfo`` of class
``AuthError`` (credentials) or ``NotInstalled`` (the image) with a hint, recorded on a run
that never launched a container.

    mode         Claude gets                         checked before a run
    api-key      ANTHROPIC_API_KEY                   the secret is set and not empty
    oauth-token  CLAUDE_CODE_OAUTH_TOKEN             the secret is set and not empty
    host-login   a per-run copy of ~/.claude,        ~/.claude/.credentials.json holds an access
                 ~/.claude.json and ~/.config/gh     token that has not expired; ~/.claude.json
                                                     exists

In every mode GH_TOKEN and GITHUB_TOKEN are handed over when the secret store has either
(gh prefers them to a login). For host-login the reconciler copies the login files per run
(readable by the container's user) and mounts the copy read-only at ``/oven/host-login``; the
runner copies them on into the agent's home, so the container never changes the host's files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.model import ErrorInfo

__all__ = [
    "AUTH_MODES",
    "CLAUDE_SECRET",
    "DEFAULT_AUTH",
    "GITHUB_SECRETS",
    "HOST_LOGIN_MOUNT",
    "IMAGE_LABEL",
    "HostLogin",
    "auth_env",
    "auth_secret_names",
    "host_login_volumes",
    "login_secrets",
    "preflight",
]

AUTH_MODES = ("api-key", "oauth-token", "host-login")
# A scheduled run is unattended: a year-long token from `claude setup-token` keeps working,
# while a host login's access token lasts hours and must not be refreshed in a throw-away copy.
DEFAULT_AUTH = "oauth-token"
CLAUDE_SECRET = {"api-key": "ANTHROPIC_API_KEY", "oauth-token": "CLAUDE_CODE_OAUTH_TOKEN"}
GITHUB_SECRETS = ("GH_TOKEN", "GITHUB_TOKEN")
HOST_LOGIN_MOUNT = "/oven/host-login"
IMAGE_LABEL = "agent-oven.agent-pipeline"  # name@version of the package in the image, or none
EXPIRY_MARGIN_S = 300  # a token expiring within this many seconds counts as expired


@dataclass(frozen=True)
class HostLogin:
    """What the reconciler's host has of a Claude and gh login (read by the workspace adapter)."""

    claude_dir: str  # host path of ~/.claude
    claude_json: str  # host path of ~/.claude.json
    gh_dir: str  # host path of ~/.config/gh
    claude_dir_exists: bool = False
    credentials: bytes | None = None  # ~/.claude/.credentials.json, None when absent
    claude_json_exists: bool = False
    gh_dir_exists: bool = False


def auth_secret_names(mode: str) -> tuple[str, ...]:
    """Every secret name the mode may hand over (for redaction): Claude's, then GitHub's."""
    claude = CLAUDE_SECRET.get(mode)
    return ((claude,) if claude else ()) + GITHUB_SECRETS


def auth_env(mode: str, secrets: Mapping[str, str]) -> dict[str, str]:
    """The environment of the mode: its Claude secret and both GitHub variables if known."""
    env: dict[str, str] = {}
    claude = CLAUDE_SECRET.get(mode)
    if claude and secrets.get(claude):
        env[claude] = secrets[claude]
    github = next((secrets[name] for name in GITHUB_SECRETS if secrets.get(name)), None)
    if github:
        env.update(dict.fromkeys(GITHUB_SECRETS, github))
    return env


def host_login_volumes(copy: str) -> tuple[str, ...]:
    """The read-only mount of a run's copy of the host login (``.claude/``, ``.claude.json``,
    ``.config/gh/``) at ``HOST_LOGIN_MOUNT``; the runner copies it into the agent's home."""
    return (f"{copy}:{HOST_LOGIN_MOUNT}:ro",)


def login_secrets(login: HostLogin | None) -> tuple[str, ...]:
    """The token values in the host's Claude credentials, to redact like any secret."""
    if login is None or not login.credentials:
        return ()
    try:
        document = json.loads(login.credentials)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ()
    oauth = document.get("claudeAiOauth") if isinstance(document, dict) else None
    if not isinstance(oauth, dict):
        return ()
    return tuple(
        str(oauth[key]) for key in ("accessToken", "refreshToken") if oauth.get(key)
    )


def preflight(
    mode: str,
    secrets: Mapping[str, str],
    image_label: str | None,
    login: HostLogin | None,
    now: datetime,
) -> ErrorInfo | None:
    """Why a run of this mode must not start, or None. ``image_label`` None: label absent."""
    if image_label is not None and image_label.strip().lower() in ("", "none"):
        return ErrorInfo(
            "NotInstalled",
            "the runner image has no agent-pipeline (its label agent-oven.agent-pipeline "
            "says none); the run was not started",
            "rebuild it with the package: AGENT_PIPELINE_PACKAGE=agent-pipeline@<version> "
            "make images (docs/agent-pipelines.md)",
        )
    claude = CLAUDE_SECRET.get(mode)
    if claude is not None:
        return None if secrets.get(claude, "").strip() else _missing_secret(mode, claude)
    if mode == "host-login":
        return _host_login_problem(login, now)
    return _auth_error(
        f"unknown auth mode {mode!r}", "use one of: " + ", ".join(AUTH_MODES)
    )  # the schema prevents this; here for a config written by hand


def _missing_secret(mode: str, name: str) -> ErrorInfo:
    where = {
        "ANTHROPIC_API_KEY": "an API key from the Anthropic console",
        "CLAUDE_CODE_OAUTH_TOKEN": "a token made with `claude setup-token` (valid about a year)",
    }[name]
    return _auth_error(
        f"auth: {mode} needs the secret {name}, which the reconciler does not have (or it is "
        "empty); the run was not started",
        f"add {name}=<{where}> to the reconciler's --secrets-file or environment; "
        "it never goes in the config repo",
    )


def _host_login_problem(login: HostLogin | None, now: datetime) -> ErrorInfo | None:
    if login is None or not login.claude_dir_exists:
        where = login.claude_dir if login else "~/.claude"
        return _auth_error(
            f"auth: host-login, but {where} does not exist on the reconciler's host; "
            "the run was not started",
            "run `claude login` on the host as the user the reconciler runs as (or point "
            "--host-claude-dir at the login), or switch the job to `api-key` or `oauth-token`",
        )
    if login.credentials is None:
        return _auth_error(
            f"auth: host-login, but {login.claude_dir}/.credentials.json does not exist: "
            "there is no Claude login to hand over; the run was not started",
            "run `claude login` on the host; on macOS the login lives in the Keychain, not in "
            "a file, so use `oauth-token` there (`claude setup-token`)",
        )
    token = _token_problem(login, now)
    if token is not None:
        return token
    if not login.claude_json_exists:
        return _auth_error(
            f"auth: host-login, but {login.claude_json} does not exist; the run was not started",
            "run `claude` once on the host to create it, or point --host-claude-json at it",
        )
    return None


def _token_problem(login: HostLogin, now: datetime) -> ErrorInfo | None:
    path = f"{login.claude_dir}/.credentials.json"
    try:
        document = json.loads(login.credentials or b"")
    except (json.JSONDecodeError, UnicodeDecodeError):
        document = None
    oauth = document.get("claudeAiOauth") if isinstance(document, dict) else None
    if not isinstance(oauth, dict) or not oauth.get("accessToken"):
        return _auth_error(
            f"auth: host-login, but {path} holds no access token; the run was not started",
            "run `claude login` on the host again, or switch the job to `oauth-token`",
        )
    expires = oauth.get("expiresAt")
    if isinstance(expires, int | float) and expires / 1000 < now.timestamp() + EXPIRY_MARGIN_S:
        ended = datetime.fromtimestamp(expires / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        return _auth_error(
            f"auth: host-login, but the Claude login on the host expired at {ended}; "
            "the run was not started (a refresh inside the run's copy would log the host out)",
            "Claude login expired: run `claude login` on the host (or use Claude there once "
            "so it refreshes), or switch the job to `oauth-token`",
        )
    return None


def _auth_error(message: str, hint: str) -> ErrorInfo:
    return ErrorInfo("AuthError", message, hint)
