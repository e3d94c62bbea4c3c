'use strict';
// STANDIN_MODE: how the stand-in's run goes. Texts are the ones in the integration reference
// (auth and usage-limit texts as Claude Code prints them; the stage error message wraps them the
// way Agent Pipeline's claude-code-headless runtime does for a non-zero exit).

const AUTH_TEXTS = {
  'auth-invalid-key': 'Invalid API key · Please run /login',
  'auth-not-logged-in': 'Not logged in · Please run /login',
  'auth-login-expired': 'Login expired · Please run /login',
  'auth-oauth-expired':
    'Failed to authenticate. API Error: 401 {"type":"error","error":{"type":"authentication_error",' +
    '"message":"OAuth token has expired. Please obtain a new token or refresh your existing token."},' +
    '"request_id":"req_standin"}',
  'auth-invalid-credentials':
    'API Error: 401 {"type":"error","error":{"type":"authentication_error",' +
    '"message":"Invalid authentication credentials"},"request_id":"req_standin"}',
};

const MODES = [
  'success',
  'stage-failed',
  'partial',
  'retry',
  'usage-limit',
  'result-is-error',
  ...Object.keys(AUTH_TEXTS),
];

function current() {
  const mode = process.env.STANDIN_MODE || 'success';
  if (!MODES.includes(mode)) {
    process.stderr.write(`standin: unknown STANDIN_MODE=${mode}; one of: ${MODES.join(', ')}\n`);
    process.exit(2);
  }
  return mode;
}

function usageLimitText() {
  if ((process.env.STANDIN_LIMIT_FORM || 'text') === 'epoch') {
    const epoch = Math.ceil(Date.now() / 3600000) * 3600 + 3600;
    return `Claude AI usage limit reached|${epoch}`;
  }
  return "You've hit your limit · resets 3pm (Europe/Berlin)";
}

function cliFailure(text) {
  return `Claude CLI exited with code 1. stderr: ${text}`;
}

// Which stage the mode hits: STANDIN_FAIL_STAGE (a name or a 1-based position), else the
// default for the mode (auth and usage limits hit the first stage, the rest the second).
function target(stages, fallback) {
  const chosen = process.env.STANDIN_FAIL_STAGE;
  if (chosen) {
    if (stages.includes(chosen)) return chosen;
    const n = Number(chosen);
    if (Number.isInteger(n) && n >= 1 && n <= stages.length) return stages[n - 1];
    process.stderr.write(`standin: STANDIN_FAIL_STAGE=${chosen} names no stage of: ${stages.join(', ')}\n`);
    process.exit(2);
  }
  return stages[Math.min(fallback, stages.length) - 1];
}

// plan(mode, stage names) -> { stageName: fate }; a stage not in the map completes.
function plan(mode, stages) {
  if (mode === 'success') return {};
  if (mode === 'stage-failed') {
    return {
      [target(stages, 2)]: {
        kind: 'failed',
        raw: 'standin: simulated agent failure',
        message: cliFailure('standin: simulated agent failure'),
        suggestion: 'Check the agent output and the stage log',
      },
    };
  }
  if (mode === 'partial') {
    return {
      [target(stages, 2)]: {
        kind: 'partial',
        raw: 'standin: simulated non-blocking failure',
        message: cliFailure('standin: simulated non-blocking failure'),
        suggestion: 'The stage has onFail: warn; the pipeline went on',
      },
    };
  }
  if (mode === 'retry') {
    return {
      [target(stages, 2)]: {
        kind: 'retry',
        raw: 'standin: simulated transient failure',
        message: cliFailure('standin: simulated transient failure'),
        suggestion: 'Retrying',
      },
    };
  }
  if (mode === 'usage-limit') {
    const text = usageLimitText();
    return {
      [target(stages, 1)]: { kind: 'failed', raw: text, message: cliFailure(text), suggestion: 'Wait for the limit to reset' },
    };
  }
  if (mode === 'result-is-error') return { [target(stages, 2)]: { kind: 'result-is-error' } };
  const text = AUTH_TEXTS[mode];
  return {
    [target(stages, 1)]: { kind: 'failed', raw: text, message: cliFailure(text), suggestion: 'Check Claude authentication' },
  };
}

// The last stream-json line of a `claude -p` run that hit an API error but exited 0.
function errorResultLine() {
  const text =
    process.env.STANDIN_RESULT_TEXT ||
    'API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit."}}';
  return JSON.stringify({
    type: 'result',
    subtype: 'success',
    is_error: true,
    duration_ms: 1234,
    duration_api_ms: 1100,
    num_turns: 1,
    result: text,
    session_id: '00000000-0000-4000-8000-000000000000',
    total_cost_usd: 0,
    usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    api_error_status: 429,
  });
}

module.exports = { current, plan, errorResultLine, AUTH_TEXTS, MODES };
