"""classify() as a table: each case name is a rule of reconciler/pipelines/failures.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reconciler.model import ErrorInfo, StageRecord
from reconciler.pipelines import Ending, classify

OAUTH_401 = (
    'Failed to authenticate. API Error: 401 {"type":"error","error":{"type":'
    '"authentication_error","message":"OAuth token has expired. Please obtain a new token or '
    'refresh your existing token."}}'
)
RESULT_ERROR = (
    '{"type":"result","subtype":"success","is_error":true,"result":"API Error: 429 rate limited",'
    '"num_turns":1,"duration_ms":10,"total_cost_usd":0,"usage":{},"api_error_status":429}'
)
RESULT_OK = '{"type":"result","subtype":"success","is_error":false,"result":"done"}'
FAILED_STAGE = StageRecord("fix", "failed", error=ErrorInfo("StageFailed", "tests red", "run x"))


@dataclass(frozen=True)
class Case:
    name: str
    exit_code: int | None
    output: str
    status: str
    cls: str | None = None
    message: str = ""  # a part of the error message
    hint: str = ""  # a part of the hint
    stages: tuple[StageRecord, ...] = ()
    state_status: str | None = None
    outcome: str | None = None
    available: tuple[str, ...] = ()


CASES = [
    Case("exit 0 and nothing said otherwise: succeeded", 0, "Pipeline COMPLETED", "succeeded"),
    Case("exit 0 with a successful result line: succeeded", 0, RESULT_OK, "succeeded"),
    Case("a success that quotes an auth text stays a success", 0,
         "review: the docs mention 'Invalid API key'", "succeeded"),
    Case("exit 127 with the runner's line: NotInstalled with the rebuild hint", 127,
         "oven: agent-pipeline is not installed in this image; rebuild it with "
         "AGENT_PIPELINE_PACKAGE=... make images", "failed", "NotInstalled",
         hint="AGENT_PIPELINE_PACKAGE"),
    Case("exit 127 without that line is an ordinary non-zero exit", 127, "sh: x: not found",
         "failed", "NonZeroExit", message="code 127"),
    Case("Invalid API key: AuthError about the key", 1,
         "Stage: review - FAILED: Invalid API key · Please run /login", "failed", "AuthError",
         message="API key", hint="ANTHROPIC_API_KEY"),
    Case("Not logged in: AuthError saying to log in", 1, "Not logged in · Please run /login",
         "failed", "AuthError", message="not logged in", hint="claude login"),
    Case("Login expired: AuthError with the claude login hint", 1,
         "Login expired · Please run /login", "failed", "AuthError", message="expired",
         hint="Claude login expired: run `claude login` on the host, or switch the job to "
         "`oauth-token`"),
    Case("an expired OAuth token (401): AuthError saying to make a new token", 1, OAUTH_401,
         "failed", "AuthError", message="OAuth token", hint="claude setup-token"),
    Case("Invalid authentication credentials (401): AuthError", 1,
         'API Error: 401 {"error":{"message":"Invalid authentication credentials"}}', "failed",
         "AuthError", message="refused the credentials"),
    Case("an auth text with exit 0 but an error result: AuthError", 0,
         '{"type":"result","is_error":true,"result":"Invalid API key · Please run /login"}',
         "failed", "AuthError"),
    Case("the usage limit with a reset time: UsageLimit naming it", 1,
         "You've hit your limit · resets 5pm (Europe/Berlin)", "failed", "UsageLimit",
         message="resets 5pm (Europe/Berlin)"),
    Case("the usage limit with an epoch: UsageLimit with the time in UTC", 1,
         "Claude AI usage limit reached|1772420400", "failed", "UsageLimit",
         message="resets 2026-03-02T03:00:00Z"),
    Case("a usage limit in an error result with exit 0: UsageLimit", 0,
         '{"type":"result","is_error":true,"result":"Claude AI usage limit reached|1772420400"}',
         "failed", "UsageLimit"),
    Case("Pipeline not found: lists the pipelines the checkout has", 1,
         "Pipeline not found: nightly", "failed", "PipelineNotFound",
         message="has: lint, weekly", available=("weekly", "lint")),
    Case("Pipeline not found in a repo without pipelines says none", 1,
         "Pipeline not found: nightly", "failed", "PipelineNotFound", message="has: none"),
    Case("an error result line with exit 0 is a failure: AgentError", 0, RESULT_ERROR,
         "failed", "AgentError", message="API error 429: API Error: 429 rate limited"),
    Case("a failed stage: StageFailed with its message and suggestion", 1,
         "Stage: fix - FAILED: tests red", "failed", "StageFailed",
         message="stage 'fix' failed: tests red", hint="run x", stages=(FAILED_STAGE,)),
    Case("exit 0 but the state file says failed: StageFailed", 0, "", "failed", "StageFailed",
         stages=(FAILED_STAGE,), state_status="failed"),
    Case("a partial pipeline without a failed stage: PipelinePartial", 1, "Pipeline PARTIAL",
         "failed", "PipelinePartial", outcome="PARTIAL"),
    Case("exit 0 but the pipeline printed PARTIAL: PipelinePartial", 0, "", "failed",
         "PipelinePartial", outcome="PARTIAL"),
    Case("an aborted pipeline: PipelineAborted", 130, "Pipeline ABORTED", "failed",
         "PipelineAborted", outcome="ABORTED"),
    Case("any other failure: NonZeroExit with the code", 1, "something odd", "failed",
         "NonZeroExit", message="code 1"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_classify(case: Case) -> None:
    ending = Ending(
        exit_code=case.exit_code,
        output=case.output,
        pipeline="nightly",
        stages=case.stages,
        state_status=case.state_status,
        outcome=case.outcome,
        available=case.available,
    )
    status, error = classify(ending)
    assert status == case.status
    if case.cls is None:
        assert error is None
        return
    assert error is not None and error.cls == case.cls
    assert case.message in error.message
    assert case.hint in error.hint
    assert error.hint, "every failure comes with a hint"


def test_every_auth_text_has_its_own_hint() -> None:
    from reconciler.pipelines.failures import AUTH_TEXTS

    assert len({text.hint for text in AUTH_TEXTS}) == len(AUTH_TEXTS)
