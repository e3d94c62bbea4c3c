"""How an agent-pipeline run ended, as an error a person can act on (pure; tested as a table).

``classify`` reads what the container left behind — its exit code, its output, the state
file's status — and answers the run's status and error. The rules, first match wins:

    exit 127 and the runner's "not installed" line   failed  NotInstalled
    a known Claude auth failure text                 failed  AuthError (one hint per text)
    a usage-limit text                               failed  UsageLimit (with the reset time)
    "Pipeline not found: <name>"                     failed  PipelineNotFound (lists those there)
    a stream-json result line with is_error: true    failed  AgentError (even with exit code 0)
    a failed stage                                   failed  StageFailed (its message and hint)
    the pipeline ended PARTIAL                       failed  PipelinePartial
    the pipeline ended ABORTED                       failed  PipelineAborted
    any other non-zero exit                          failed  NonZeroExit
    exit 0                                           succeeded

The texts are matched only once the run failed (or said ``is_error``), so a successful
review that quotes "Invalid API key" stays a success. The auth texts come from public reports
(docs/agent-pipelines.md lists them); an unknown wording still fails, as NonZeroExit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.clock import iso
from reconciler.model import ErrorInfo, RunStatus, StageRecord

__all__ = ["AUTH_TEXTS", "NOT_INSTALLED_LINE", "Ending", "classify"]

NOT_INSTALLED = 127  # the runner's exit code when agent-pipeline is missing from the image
NOT_INSTALLED_LINE = "agent-pipeline is not installed in this image"
REBUILD_HINT = (
    "rebuild the runner image with the package: "
    "AGENT_PIPELINE_PACKAGE=agent-pipeline@<version> make images (docs/agent-pipelines.md)"
)


@dataclass(frozen=True)
class AuthText:
    pattern: re.Pattern[str]
    message: str
    hint: str


AUTH_TEXTS = (
    AuthText(
        re.compile(r"Invalid API key", re.IGNORECASE),
        "Claude refused the API key (Invalid API key)",
        "check ANTHROPIC_API_KEY in the reconciler's secrets (make a new key in the Anthropic "
        "console), or switch the job to `oauth-token`",
    ),
    AuthText(
        re.compile(r"Not logged in", re.IGNORECASE),
        "Claude is not logged in (Not logged in)",
        "run `claude login` on the host for `host-login`, or switch the job to `api-key` or "
        "`oauth-token` and put the key or token in the reconciler's secrets",
    ),
    AuthText(
        re.compile(r"Login expired", re.IGNORECASE),
        "Claude login expired (Login expired)",
        "Claude login expired: run `claude login` on the host, or switch the job to `oauth-token`",
    ),
    AuthText(
        re.compile(r"OAuth token has expired", re.IGNORECASE),
        "Claude's OAuth token has expired (API Error: 401)",
        "make a new token with `claude setup-token` and replace CLAUDE_CODE_OAUTH_TOKEN in the "
        "reconciler's secrets (host-login: run `claude login` on the host)",
    ),
    AuthText(
        re.compile(r"Invalid authentication credentials", re.IGNORECASE),
        "Claude refused the credentials (API Error: 401, Invalid authentication credentials)",
        "the key or token is wrong or revoked: replace ANTHROPIC_API_KEY or "
        "CLAUDE_CODE_OAUTH_TOKEN in the reconciler's secrets, or run `claude login` on the host",
    ),
)
_LIMIT_RESETS = re.compile(r"You've hit your limit\s*[·\-|]?\s*resets\s+(?P<when>[^\r\n\"]+)")
_LIMIT_EPOCH = re.compile(r"Claude AI usage limit reached\|(?P<epoch>\d{9,13})")
_LIMIT_PLAIN = re.compile(r"You've hit your limit|Claude AI usage limit reached")
_NOT_FOUND = re.compile(r"Pipeline not found: (?P<name>\S+)")
LIMIT_HINT = (
    "wait for the reset, or spread the schedules of your agent jobs; an API key "
    "(`auth: api-key`) is billed per use and has no such window"
)


@dataclass(frozen=True)
class Ending:
    """What a finished agent-pipeline container left behind."""

    exit_code: int | None
    output: str  # the container's whole output
    pipeline: str  # the pipeline the job runs
    stages: Sequence[StageRecord] = ()
    state_status: str | None = None  # the state file's status, if there is one
    outcome: str | None = None  # the "Pipeline <OUTCOME>" progress line, if printed
    available: Sequence[str] = ()  # the pipelines the checkout has


def classify(ending: Ending) -> tuple[RunStatus, ErrorInfo | None]:
    """The run's status and error; see the table in the module docstring."""
    code, output = ending.exit_code, ending.output
    if code == NOT_INSTALLED and NOT_INSTALLED_LINE in output:
        return "failed", ErrorInfo(
            "NotInstalled", "agent-pipeline is not installed in the runner image", REBUILD_HINT
        )
    result = _error_result(output)
    if code == 0 and result is None and not _ended_badly(ending):
        return "succeeded", None
    error = (
        _auth(output)
        or _usage_limit(output)
        or _not_found(output, ending.available)
        or _agent_error(result)
        or _stage_failed(ending.stages)
        or _ended_as(ending)
    )
    if error is None:
        error = ErrorInfo(
            "NonZeroExit",
            f"agent-pipeline exited with code {code}",
            "read the log tail below, or the full log under the reconciler's state dir",
        )
    return "failed", error


def _ended_badly(ending: Ending) -> bool:
    """Exit 0, but the pipeline itself says it did not complete (partial, failed, aborted)."""
    return ending.outcome in ("FAILED", "PARTIAL", "ABORTED") or ending.state_status in (
        "failed",
        "partial",
        "aborted",
    )


def _auth(output: str) -> ErrorInfo | None:
    for text in AUTH_TEXTS:
        if text.pattern.search(output):
            return ErrorInfo("AuthError", text.message, text.hint)
    return None


def _usage_limit(output: str) -> ErrorInfo | None:
    when: str | None = None
    if match := _LIMIT_RESETS.search(output):
        when = match["when"].strip()
    elif match := _LIMIT_EPOCH.search(output):
        epoch = int(match["epoch"])
        seconds = epoch / 1000 if epoch > 10**11 else epoch
        when = iso(datetime.fromtimestamp(seconds, tz=UTC))
    elif not _LIMIT_PLAIN.search(output):
        return None
    reset = f"; it resets {when}" if when else ""
    return ErrorInfo("UsageLimit", f"Claude's usage limit was reached{reset}", LIMIT_HINT)


def _not_found(output: str, available: Sequence[str]) -> ErrorInfo | None:
    match = _NOT_FOUND.search(output)
    if match is None:
        return None
    there = ", ".join(sorted(available)) if available else "none"
    return ErrorInfo(
        "PipelineNotFound",
        f"the source repo has no pipeline {match['name']!r} "
        f"(.agent-pipeline/pipelines/ has: {there})",
        "set `pipeline:` to one of those, or commit .agent-pipeline/pipelines/"
        f"{match['name']}.yml to the source branch",
    )


def _error_result(output: str) -> dict[str, object] | None:
    """The last stream-json ``result`` line with ``is_error: true``, if any."""
    found = None
    for line in output.splitlines():
        line = line.strip()
        if not (line.startswith("{") and '"result"' in line and '"is_error"' in line):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get("type") == "result" and data.get("is_error"):
            found = data
    return found


def _agent_error(result: dict[str, object] | None) -> ErrorInfo | None:
    if result is None:
        return None
    status = result.get("api_error_status")
    text = str(result.get("result") or result.get("subtype") or "no message")
    prefix = f"API error {status}: " if status else ""
    return ErrorInfo(
        "AgentError",
        f"Claude reported an error: {prefix}{text}",
        "the agent's last answer was an error even if the exit code was 0; "
        "read the log tail, then run the job again",
    )


def _stage_failed(stages: Sequence[StageRecord]) -> ErrorInfo | None:
    failed = [stage for stage in stages if stage.status == "failed"]
    if not failed:
        return None
    stage = failed[0]
    detail = stage.error.message if stage.error and stage.error.message else "no message"
    hint = stage.error.hint if stage.error and stage.error.hint else ""
    return ErrorInfo(
        "StageFailed",
        f"stage {stage.name!r} failed: {detail}",
        hint
        or "read the stage's error and the log tail; fix the agent or its input, "
        "then run the job again",
    )


def _ended_as(ending: Ending) -> ErrorInfo | None:
    said = (ending.outcome or ending.state_status or "").upper()
    if said == "PARTIAL":
        return ErrorInfo(
            "PipelinePartial",
            "the pipeline finished only partly: some stages did not run",
            "see the stages below: a stage whose dependency failed was skipped",
        )
    if said == "ABORTED":
        return ErrorInfo(
            "PipelineAborted",
            "the pipeline was aborted (SIGINT)",
            "something stopped agent-pipeline from outside; run the job again",
        )
    return None
