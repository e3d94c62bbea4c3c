'use strict';
// The stand-in's commands. See ../README.md for what it reproduces and what it does not.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');
const yaml = require('./yaml');
const modes = require('./modes');

const VERSION = require('../package.json').version;
const PIPELINES_DIR = path.join('.agent-pipeline', 'pipelines');

// ---------------------------------------------------------------- output

class Output {
  constructor(logPath) {
    this.logPath = logPath;
  }

  line(text) {
    process.stdout.write(`${text}\n`);
    this.log(text);
  }

  error(text) {
    process.stderr.write(`${text}\n`);
    this.log(text);
  }

  log(text) {
    if (!this.logPath) return;
    fs.mkdirSync(path.dirname(this.logPath), { recursive: true });
    fs.appendFileSync(this.logPath, `[${new Date().toISOString()}] ${text}\n`);
  }
}

// ---------------------------------------------------------------- git

function git(cwd, args, { check = true, env } = {}) {
  const result = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: env ? { ...process.env, ...env } : process.env,
  });
  if (result.error) throw result.error;
  if (check && result.status !== 0) {
    throw new Error(`git ${args.join(' ')} failed: ${(result.stderr || result.stdout).trim()}`);
  }
  return { ok: result.status === 0, out: (result.stdout || '').trim(), err: (result.stderr || '').trim() };
}

// An identity for the stage commits when the repository or environment has none.
function identityArgs(cwd) {
  const args = [];
  if (!process.env.GIT_AUTHOR_NAME && !git(cwd, ['config', 'user.name'], { check: false }).out) {
    args.push('-c', 'user.name=Agent Pipeline');
  }
  if (!process.env.GIT_AUTHOR_EMAIL && !git(cwd, ['config', 'user.email'], { check: false }).out) {
    args.push('-c', 'user.email=agent-pipeline@localhost');
  }
  return args;
}

// https://github.com/o/r(.git), git@github.com:o/r(.git), ssh://git@github.com/o/r(.git)
// -> https://github.com/o/r; other URLs lose ".git"; local paths become file:// URLs.
function webUrl(remote) {
  let m = /^git@([^:]+):(.+?)(\.git)?\/?$/.exec(remote);
  if (m) return `https://${m[1]}/${m[2]}`;
  m = /^(?:ssh|git|https?):\/\/(?:[^@/]+@)?([^/]+)\/(.+?)(\.git)?\/?$/.exec(remote);
  if (m) return `https://${m[1].replace(/:\d+$/, '')}/${m[2]}`;
  if (remote.startsWith('file://')) return remote.replace(/\.git\/?$/, '');
  return `file://${path.resolve(remote).replace(/\.git\/?$/, '')}`;
}

// ---------------------------------------------------------------- pipeline file

function listPipelines(cwd) {
  const dir = path.join(cwd, PIPELINES_DIR);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => f.slice(0, -4))
    .sort();
}

function loadPipeline(cwd, name) {
  const file = path.join(cwd, PIPELINES_DIR, `${name}.yml`);
  if (!fs.existsSync(file)) return null;
  let config;
  try {
    config = yaml.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return { errors: [`${path.join(PIPELINES_DIR, `${name}.yml`)}: ${err.message}`] };
  }
  const errors = [];
  if (!config || typeof config !== 'object' || Array.isArray(config)) {
    return { errors: ['pipeline file must be a mapping'] };
  }
  if (!config.name) errors.push('name: is required');
  if (!Array.isArray(config.agents) || config.agents.length === 0) {
    errors.push('agents: at least one agent is required');
  } else {
    const names = new Set();
    config.agents.forEach((a, i) => {
      if (!a || typeof a !== 'object') return errors.push(`agents[${i}]: must be a mapping`);
      if (!a.name) errors.push(`agents[${i}].name: is required`);
      if (!a.agent) errors.push(`agents[${i}].agent: is required`);
      if (names.has(a.name)) errors.push(`agents[${i}].name: duplicate stage name ${a.name}`);
      names.add(a.name);
      a.dependsOn = a.dependsOn == null ? [] : [].concat(a.dependsOn);
    });
    config.agents.forEach((a, i) => {
      for (const dep of a.dependsOn || []) {
        if (!names.has(dep)) errors.push(`agents[${i}].dependsOn: unknown stage ${dep}`);
      }
    });
  }
  return { config, errors };
}

// Group stages into levels: a stage runs after every stage it depends on.
function groups(agents) {
  const done = new Set();
  const left = agents.slice();
  const result = [];
  while (left.length) {
    const ready = left.filter((a) => a.dependsOn.every((d) => done.has(d)));
    if (ready.length === 0) throw new Error(`dependency cycle among: ${left.map((a) => a.name).join(', ')}`);
    result.push(ready);
    for (const a of ready) {
      done.add(a.name);
      left.splice(left.indexOf(a), 1);
    }
  }
  return result;
}

// ---------------------------------------------------------------- run

function parseRunArgs(args) {
  const opts = { quiet: false, dryRun: false, baseBranch: null, name: null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--quiet' || a === '-q') opts.quiet = true;
    else if (a === '--dry-run') opts.dryRun = true;
    else if (a === '--base-branch') opts.baseBranch = args[++i] || null;
    else if (a.startsWith('--base-branch=')) opts.baseBranch = a.slice('--base-branch='.length);
    else if (a.startsWith('-')) continue; // --no-notifications, --no-pr, ...: accepted, no effect
    else if (opts.name === null) opts.name = a;
  }
  return opts;
}

function sleep(seconds) {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

function tokenUsage(index) {
  return {
    estimated_input: 1500 + 100 * index,
    actual_input: 1200 + 100 * index,
    output: 300 + 10 * index,
    cache_creation: 50 * (index + 1),
    cache_read: 400 + 20 * index,
    num_turns: 3 + index,
    thinking_tokens: 0,
  };
}

function secs(ms) {
  return Math.round(ms) / 1000;
}

async function run(cwd, args) {
  const opts = parseRunArgs(args);
  if (!opts.name) {
    process.stderr.write('error: missing required argument \'pipeline-name\'\n');
    return 1;
  }
  const loaded = loadPipeline(cwd, opts.name);
  if (!loaded) {
    process.stderr.write(`Pipeline not found: ${opts.name}\n`);
    return 1;
  }
  if (loaded.errors.length) {
    process.stderr.write(`❌ Pipeline validation failed:\n${loaded.errors.map((e) => `  - ${e}\n`).join('')}`);
    return 1;
  }
  const config = loaded.config;
  const top = git(cwd, ['rev-parse', '--show-toplevel'], { check: false });
  if (!top.ok) {
    process.stderr.write(`❌ Pipeline validation failed:\n  - not a git repository: ${cwd}\n`);
    return 1;
  }
  let levels;
  try {
    levels = groups(config.agents);
  } catch (err) {
    process.stderr.write(`❌ Pipeline validation failed:\n  - ${err.message}\n`);
    return 1;
  }

  const mode = modes.current();
  const pipelineName = String(config.name);
  const runId = crypto.randomUUID();
  const out = new Output(path.join(cwd, '.agent-pipeline', 'logs', `${pipelineName}.log`));
  const stateDir = path.join(cwd, '.agent-pipeline', 'state', 'runs');
  const statePath = path.join(stateDir, `${runId}.json`);
  const gitCfg = config.git || {};
  const settings = config.settings || {};
  const autoCommit = !opts.dryRun && (gitCfg.autoCommit ?? settings.autoCommit ?? true) !== false;
  const mergeStrategy = gitCfg.mergeStrategy || 'pull-request';
  const branchPrefix = gitCfg.branchPrefix || 'pipeline';
  const baseBranch = opts.baseBranch || gitCfg.baseBranch || git(cwd, ['rev-parse', '--abbrev-ref', 'HEAD'], { check: false }).out || 'main';
  const stageSeconds = Number(process.env.STANDIN_STAGE_SECONDS || 0);
  const runtimeModel = config.runtime && config.runtime.options && config.runtime.options.model;
  const started = Date.now();
  const initialCommit = git(cwd, ['rev-parse', 'HEAD'], { check: false }).out || null;
  const state = {
    runId,
    status: 'running',
    trigger: { type: 'manual', commitSha: initialCommit, timestamp: new Date(started).toISOString() },
    pipelineConfig: { name: pipelineName, trigger: config.trigger || 'manual', agents: config.agents.map((a) => a.name) },
    stages: [],
    artifacts: {
      totalDuration: 0,
      initialCommit,
      finalCommit: null,
      changedFiles: [],
      logPath: path.join('.agent-pipeline', 'logs', `${pipelineName}.log`),
    },
  };
  const writeState = () => {
    fs.mkdirSync(stateDir, { recursive: true });
    const tmp = `${statePath}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
    fs.renameSync(tmp, statePath);
  };

  let current = null;
  let aborted = false;
  process.on('SIGINT', () => {
    if (aborted) return;
    aborted = true;
    if (current) {
      current.status = 'failed';
      current.endTime = new Date().toISOString();
      current.duration = secs(Date.now() - Date.parse(current.startTime));
      current.error = { message: 'Aborted by user (SIGINT)', suggestion: 'Run the pipeline again' };
    }
    finish('aborted');
    out.line('Pipeline ABORTED');
    out.line(`Total duration: ${secs(Date.now() - started).toFixed(1)}s`);
    out.line(`Stages executed: ${state.stages.filter((s) => s.status !== 'pending' && s.status !== 'skipped').length}`);
    process.exit(130);
  });

  function finish(status) {
    state.status = status;
    state.artifacts.totalDuration = secs(Date.now() - started);
    state.artifacts.finalCommit = git(cwd, ['rev-parse', 'HEAD'], { check: false }).out || null;
    if (initialCommit && state.artifacts.finalCommit) {
      const diff = git(cwd, ['diff', '--name-only', initialCommit, state.artifacts.finalCommit], { check: false });
      state.artifacts.changedFiles = diff.out ? diff.out.split('\n') : [];
    }
    writeState();
  }

  out.line(`Pipeline: ${pipelineName}`);
  out.line(`Run ID: ${runId.slice(0, 8)}`);
  const echoName = process.env.STANDIN_ECHO_ENV;
  if (echoName) {
    const value = process.env[echoName] || '';
    out.line(`standin: ${echoName}=${value}`);
    process.stderr.write(`standin: ${echoName}=${value}\n`);
  }

  if (process.env.STANDIN_WRITE_HOME === '1') {
    try {
      touchClaudeHome(runId);
    } catch (err) {
      // Claude Code crashes the same way when ~/.claude or ~/.claude.json is read-only.
      out.error(`standin: cannot write the Claude Code home: ${err.message}`);
      finish('failed');
      out.line('Pipeline FAILED');
      return 1;
    }
  }

  let branch = null;
  if (autoCommit && mergeStrategy !== 'none') {
    branch = `${branchPrefix}/${pipelineName}-${runId.slice(0, 8)}`;
    git(cwd, ['checkout', '-q', '-b', branch]);
  }

  const plan = modes.plan(mode, config.agents.map((a) => a.name));
  let failed = false;
  let partial = false;
  let index = 0;
  for (const level of levels) {
    for (const agent of level) {
      const i = index++;
      const model = agent.model || runtimeModel || process.env.ANTHROPIC_MODEL || null;
      const retry = agent.retry || {};
      const stage = {
        stageName: agent.name,
        status: 'pending',
        startTime: null,
        endTime: null,
        duration: 0,
        commitSha: null,
        retryAttempt: 0,
        maxRetries: Number(retry.maxAttempts || 0),
        model,
      };
      state.stages.push(stage);
      if (failed) {
        stage.status = 'skipped';
        continue;
      }
      const fate = plan[agent.name] || { kind: 'ok' };
      const attempts = fate.kind === 'retry' ? 2 : 1;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        current = stage;
        stage.status = 'running';
        stage.retryAttempt = attempt - 1;
        stage.startTime = new Date().toISOString();
        const t0 = Date.now();
        out.line(attempt === 1 ? `Stage: ${agent.name} - STARTED` : `Stage: ${agent.name} (attempt ${attempt}) - STARTED`);
        out.line(`▶ ${agent.name}...`);
        if (stageSeconds > 0) await sleep(stageSeconds);
        const lastAttempt = attempt === attempts;
        if (fate.kind === 'ok' || fate.kind === 'result-is-error' || (fate.kind === 'retry' && lastAttempt)) {
          if (fate.kind === 'result-is-error') process.stdout.write(`${modes.errorResultLine()}\n`);
          let sha = null;
          if (autoCommit) sha = commitStage(cwd, agent.name, runId, pipelineName, model);
          const ms = Date.now() - t0;
          stage.status = 'success';
          stage.endTime = new Date().toISOString();
          stage.duration = secs(ms);
          stage.commitSha = sha;
          stage.tokenUsage = tokenUsage(i);
          out.line(`Stage: ${agent.name} - COMPLETED (${(ms / 1000).toFixed(1)}s)${sha ? ` [${sha.slice(0, 7)}]` : ''}`);
          out.line(`✅ ${agent.name} (${Math.round(ms / 1000)}s)`);
        } else {
          if (fate.raw) out.error(fate.raw);
          const ms = Date.now() - t0;
          stage.status = 'failed';
          stage.endTime = new Date().toISOString();
          stage.duration = secs(ms);
          stage.error = { message: fate.message, suggestion: fate.suggestion };
          stage.tokenUsage = tokenUsage(i);
          out.line(`Stage: ${agent.name} - FAILED: ${fate.message}`);
          out.line(`❌ ${agent.name} (${Math.round(ms / 1000)}s)`);
          if (lastAttempt) {
            // STANDIN_MODE decides the outcome; the stage's onFail is not consulted.
            if (fate.kind === 'partial') partial = true;
            else failed = true;
          }
        }
      }
      current = null;
    }
    if (!aborted) {
      state.artifacts.totalDuration = secs(Date.now() - started);
      writeState();
    }
  }

  const status = failed ? 'failed' : partial ? 'partial' : 'completed';
  if (branch && status !== 'failed') {
    const commits = state.stages.filter((s) => s.commitSha).length;
    if (commits > 0 && mergeStrategy === 'pull-request') pullRequest(cwd, branch, baseBranch, state);
  }
  finish(status);
  out.line(`Pipeline ${status.toUpperCase()}`);
  out.line(`Total duration: ${secs(Date.now() - started).toFixed(1)}s`);
  out.line(`Stages executed: ${state.stages.filter((s) => s.status === 'success' || s.status === 'failed').length}`);
  return status === 'completed' ? 0 : 1;
}

// What Claude Code does on start: a file under ~/.claude and an atomic rewrite of ~/.claude.json.
function touchClaudeHome(runId) {
  const home = process.env.HOME || require('os').homedir();
  const todos = path.join(home, '.claude', 'todos');
  fs.mkdirSync(todos, { recursive: true });
  fs.writeFileSync(path.join(todos, `${runId}.json`), '[]\n');
  const globalState = path.join(home, '.claude.json');
  let data = {};
  if (fs.existsSync(globalState)) data = JSON.parse(fs.readFileSync(globalState, 'utf8'));
  data.numStartups = (data.numStartups || 0) + 1;
  fs.writeFileSync(`${globalState}.tmp`, `${JSON.stringify(data, null, 2)}\n`);
  fs.renameSync(`${globalState}.tmp`, globalState);
}

function commitStage(cwd, stageName, runId, pipelineName, model) {
  const rel = path.join('agent-output', pipelineName, `${stageName}.md`);
  const file = path.join(cwd, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(
    file,
    `# ${stageName}\n\nrun: ${runId}\nmodel: ${model || '(default)'}\ntime: ${new Date().toISOString()}\n\n`,
  );
  git(cwd, ['add', '--', rel]);
  const message = [
    `[pipeline:${stageName}] Apply ${stageName} changes`,
    '',
    'Agent-Pipeline: true',
    `Pipeline-Run-ID: ${runId}`,
    `Pipeline-Stage: ${stageName}`,
  ].join('\n');
  git(cwd, [...identityArgs(cwd), 'commit', '-q', '-m', message]);
  return git(cwd, ['rev-parse', 'HEAD']).out;
}

// No GitHub here: push the branch to `origin` and report a URL derived from its address.
function pullRequest(cwd, branch, baseBranch, state) {
  const remote = git(cwd, ['config', '--get', 'remote.origin.url'], { check: false });
  if (!remote.ok || !remote.out) {
    state.artifacts.prError = 'No origin remote: pull request not created';
    return;
  }
  const push = git(cwd, ['push', '-q', 'origin', `HEAD:refs/heads/${branch}`], { check: false });
  if (!push.ok) {
    state.artifacts.prError = `Failed to push ${branch}: ${push.err}`;
    return;
  }
  const heads = git(cwd, ['ls-remote', '--heads', 'origin'], { check: false }).out;
  const number = heads ? heads.split('\n').length : 1;
  state.artifacts.pullRequest = { url: `${webUrl(remote.out)}/pull/${number}`, number, branch, baseBranch };
}

function list(cwd) {
  const names = listPipelines(cwd);
  if (names.length === 0) {
    console.log('No pipelines found in .agent-pipeline/pipelines/');
  } else {
    console.log('Available pipelines:');
    names.forEach((n) => console.log(`  - ${n}`));
  }
  return 0;
}

function help() {
  console.log(`agent-pipeline ${VERSION} (test stand-in, not the real Agent Pipeline)

Usage:
  agent-pipeline run <pipeline-name> [--quiet] [--dry-run] [--base-branch B] [--no-notifications]
  agent-pipeline list
  agent-pipeline --version`);
  return 0;
}

async function main(argv) {
  const [command, ...rest] = argv;
  const cwd = process.cwd();
  switch (command) {
    case 'run':
      return run(cwd, rest);
    case 'list':
      return list(cwd);
    case '--version':
    case '-V':
    case 'version':
      console.log(VERSION);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return help();
    default:
      process.stderr.write(`error: unknown command '${command}'\n`);
      return 1;
  }
}

module.exports = { main, webUrl, groups };
