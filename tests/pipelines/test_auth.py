"""The pre-flight check per auth mode as a table, and what each mode hands the container."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from reconciler.clock import utc
from reconciler.pipelines import HostLogin, auth_env, host_login_volumes, preflight

NOW = utc("2026-03-02T02:00:00Z")
LATER_MS = int(NOW.timestamp() * 1000) + 8 * 3600 * 1000
EARLIER_MS = int(NOW.timestamp() * 1000) - 60 * 1000


def credentials(token: str | None = "sk-ant-oat-x", expires: int | None = LATER_MS) -> bytes:
    oauth: dict[str, object] = {"refreshToken": "r"}
    if token is not None:
        oauth["accessToken"] = token
    if expires is not None:
        oauth["expiresAt"] = expires
    return json.dumps({"claudeAiOauth": oauth}).encode()


def login(**changes: object) -> HostLogin:
    values: dict[str, object] = {
        "claude_dir": "/home/u/.claude",
        "claude_json": "/home/u/.claude.json",
        "gh_dir": "/home/u/.config/gh",
        "claude_dir_exists": True,
        "credentials": credentials(),
        "claude_json_exists": True,
        "gh_dir_exists": True,
    }
    values.update(changes)
    return HostLogin(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    name: str
    mode: str
    secrets: dict[str, str] = field(default_factory=dict)
    label: str | None = "agent-pipeline@0.1.5"
    login: HostLogin | None = None
    cls: str | None = None  # None: may start
    message: str = ""
    hint: str = ""


CASES = [
    Case("api-key with ANTHROPIC_API_KEY may start", "api-key", {"ANTHROPIC_API_KEY": "sk-1"}),
    Case("api-key without the secret is refused, naming it", "api-key", {}, cls="AuthError",
         message="ANTHROPIC_API_KEY", hint="--secrets-file"),
    Case("api-key with an empty secret is refused", "api-key", {"ANTHROPIC_API_KEY": "  "},
         cls="AuthError", message="empty"),
    Case("oauth-token with CLAUDE_CODE_OAUTH_TOKEN may start", "oauth-token",
         {"CLAUDE_CODE_OAUTH_TOKEN": "t"}),
    Case("oauth-token without its secret is refused with the setup-token hint", "oauth-token",
         {"ANTHROPIC_API_KEY": "sk"}, cls="AuthError", message="CLAUDE_CODE_OAUTH_TOKEN",
         hint="claude setup-token"),
    Case("host-login with a fresh login may start", "host-login", login=login()),
    Case("host-login without ~/.claude is refused", "host-login",
         login=login(claude_dir_exists=False, credentials=None), cls="AuthError",
         message="/home/u/.claude does not exist", hint="claude login"),
    Case("host-login without .credentials.json names the macOS Keychain", "host-login",
         login=login(credentials=None), cls="AuthError", message=".credentials.json",
         hint="Keychain"),
    Case("host-login with credentials but no access token is refused", "host-login",
         login=login(credentials=credentials(token=None)), cls="AuthError",
         message="no access token"),
    Case("host-login with unreadable credentials is refused", "host-login",
         login=login(credentials=b"{oops"), cls="AuthError", message="no access token"),
    Case("host-login whose login expired is refused with the claude login hint", "host-login",
         login=login(credentials=credentials(expires=EARLIER_MS)), cls="AuthError",
         message="expired at", hint="Claude login expired: run `claude login` on the host"),
    Case("host-login without ~/.claude.json is refused", "host-login",
         login=login(claude_json_exists=False), cls="AuthError", message=".claude.json"),
    Case("host-login without a gh login may start (pull requests may fail later)",
         "host-login", login=login(gh_dir_exists=False)),
    Case("an image whose label says none is NotInstalled, whatever the mode", "api-key",
         {"ANTHROPIC_API_KEY": "sk-1"}, label="none", cls="NotInstalled",
         hint="AGENT_PIPELINE_PACKAGE"),
    Case("an image without the label at all is not refused for it", "api-key",
         {"ANTHROPIC_API_KEY": "sk-1"}, label=None),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_preflight(case: Case) -> None:
    error = preflight(case.mode, case.secrets, case.label, case.login, NOW)
    if case.cls is None:
        assert error is None, error
        return
    assert error is not None and error.cls == case.cls
    assert case.message in error.message and case.hint in error.hint
    assert "not started" in error.message or case.cls == "NotInstalled"


def test_each_mode_hands_over_its_claude_secret_and_both_github_variables() -> None:
    store = {"ANTHROPIC_API_KEY": "k", "CLAUDE_CODE_OAUTH_TOKEN": "o", "GITHUB_TOKEN": "g"}
    assert auth_env("api-key", store) == {"ANTHROPIC_API_KEY": "k", "GH_TOKEN": "g",
                                          "GITHUB_TOKEN": "g"}
    assert auth_env("oauth-token", store) == {"CLAUDE_CODE_OAUTH_TOKEN": "o", "GH_TOKEN": "g",
                                              "GITHUB_TOKEN": "g"}
    assert auth_env("host-login", {"ANTHROPIC_API_KEY": "k"}) == {}


def test_host_login_mounts_the_runs_copy_read_only() -> None:
    assert host_login_volumes("/state/checkouts/.logins/r1") == (
        "/state/checkouts/.logins/r1:/oven/host-login:ro",
    )
