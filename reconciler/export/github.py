"""A job as a GitHub Actions workflow (``oven export github-actions JOB``).

Pure: a ``JobSpec`` and a time in, the workflow text, warnings and refusals out. GitHub runs
``schedule`` crons in UTC, at most every 5 minutes, from the default branch, and may delay or
drop runs; what a job asks for that GitHub cannot do is refused with a reason each, what it
does differently is a warning (a comment in the file and a line on stderr).
Cron schedules are converted to UTC by ``reconciler.export.utccron``.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from reconciler.export.utccron import MIN_INTERVAL, Refused, utc_cron
from reconciler.model import JobSpec

DEFAULT_TIMEOUT_MINUTES = 360  # GitHub's own limit for a job on its hosted runners
CLAUDE_ACTION = "anthropics/claude-code-action@v1"
CHECKOUT_ACTION = "actions/checkout@v4"


@dataclass(frozen=True)
class Export:
    """The workflow file (empty when refused), its warnings and the reasons it was refused."""

    text: str
    warnings: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()


def github_actions(job: JobSpec, now: datetime) -> Export:
    """The workflow for ``job``; ``now`` decides what is in the past and the year looked at."""
    refusals: list[str] = []
    warnings: list[str] = []
    on: dict[str, Any] = {}
    try:
        cron = _schedule_cron(job, now, warnings)
    except Refused as exc:
        refusals.append(str(exc))
        cron = None
    if cron is not None:
        if job.enabled:
            on["schedule"] = [{"cron": cron}]
        else:
            warnings.append("the job is disabled: the workflow has no schedule, only a manual run")
    on["workflow_dispatch"] = {}
    refusals.extend(_policy_refusals(job, warnings))
    try:
        permissions, steps, job_env = _steps(job)
    except Refused as exc:
        refusals.append(str(exc))
        permissions, steps, job_env = {}, [], {}
    if refusals:
        return Export("", tuple(warnings), tuple(refusals))
    gh_job: dict[str, Any] = {"runs-on": "ubuntu-latest", "timeout-minutes": _timeout(job)}
    if job_env:
        gh_job["env"] = job_env
    gh_job["steps"] = steps
    workflow: dict[str, Any] = {"name": job.name, "on": on, "permissions": permissions}
    if job.policy.concurrency != "allow":
        workflow["concurrency"] = {
            "group": f"oven-{job.id}",
            "cancel-in-progress": job.policy.concurrency == "replace",
        }
    workflow["jobs"] = {job.id: gh_job}
    body = yaml.dump(
        workflow, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10_000
    )
    body = body.replace("'on':", "on:", 1)
    return Export(_header(job) + _comments(warnings) + body, tuple(warnings))


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings (the agent's prompt) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


# -- schedule ------------------------------------------------------------------------------
def _schedule_cron(job: JobSpec, now: datetime, warnings: list[str]) -> str | None:
    schedule = job.schedule
    if schedule.type in ("manual", "webhook"):
        return None
    if schedule.type == "interval":
        return _interval_cron(schedule.every or timedelta(0))
    if schedule.type == "once":
        at = schedule.at
        if at is None or at <= now:
            raise Refused(f"schedule.at: {at and at.isoformat()} is in the past; nothing to run")
        at = at.astimezone(UTC)
        if at.second or at.microsecond:
            raise Refused("schedule.at: GitHub schedules whole minutes only")
        warnings.append(
            "GitHub has no one-off schedule: this cron fires again on the same date every "
            "year; delete the workflow once it has run"
        )
        return f"{at.minute} {at.hour} {at.day} {at.month} *"
    found = utc_cron(schedule.cron or "", schedule.timezone, now)
    if found.warning:
        warnings.append(found.warning)
    return found.expr


def _interval_cron(every: timedelta) -> str:
    seconds = int(every.total_seconds())
    if every < MIN_INTERVAL:
        raise Refused(
            f"schedule.every: {_span(seconds)} is shorter than GitHub's shortest schedule, "
            "5 minutes"
        )
    if seconds % 60 == 0 and 60 % (seconds // 60) == 0:
        return f"*/{seconds // 60} * * * *"
    if seconds % 3600 == 0 and 24 % (seconds // 3600) == 0:
        hours = seconds // 3600
        return "0 0 * * *" if hours == 24 else f"0 */{hours} * * *"
    raise Refused(
        f"schedule.every: {_span(seconds)} is not a divisor of an hour or a day, so no cron "
        "repeats it; use a cron schedule"
    )


def _span(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


# -- policy --------------------------------------------------------------------------------
def _policy_refusals(job: JobSpec, warnings: list[str]) -> list[str]:
    refusals: list[str] = []
    if job.policy.missed == "all" and job.schedule.type in ("cron", "interval"):
        refusals.append(
            "policy.missed: all needs every missed run made up; GitHub delays or drops "
            "scheduled runs and never makes them up (use latest or skip)"
        )
    if job.volumes:
        refusals.append("volumes: a GitHub runner has none of this machine's directories")
    if job.type == "docker" and (job.image or "").startswith("agent-oven/"):
        warnings.append(
            f"image {job.image} is built on the reconciler's host (make images); a GitHub "
            "runner pulls images from a registry: push it to one and use that name"
        )
    if job.retries.limit:
        warnings.append(
            f"retries.limit: {job.retries.limit} is not exported: GitHub does not retry a "
            "failed run (re-run it from the Actions tab)"
        )
    if job.schedule.type in ("cron", "interval"):
        warnings.append(
            "GitHub starts scheduled runs from the default branch only and may delay them "
            "or drop some at busy times"
        )
    return refusals


def _timeout(job: JobSpec) -> int:
    if job.resources.timeout is None:
        return DEFAULT_TIMEOUT_MINUTES
    return max(1, math.ceil(job.resources.timeout / 60))


# -- steps ---------------------------------------------------------------------------------
def _steps(job: JobSpec) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, str]]:
    job_env = dict(job.env)
    for name in job.secrets:
        job_env[name] = _secret(name)
    if job.type == "docker":
        return {"contents": "read"}, [_docker_step(job)], job_env
    return _pipeline_steps(job, job_env)


def _secret(name: str) -> str:
    return "${{ secrets." + name + " }}"


def _docker_step(job: JobSpec) -> dict[str, Any]:
    argv = ["docker", "run", "--rm", "--cap-drop", "ALL"]
    for cap in job.capabilities:
        argv += ["--cap-add", cap]
    argv += ["--security-opt", "no-new-privileges", "--network", job.network]
    if job.read_only_rootfs:
        argv.append("--read-only")
    if job.user:
        argv += ["--user", job.user]
    if job.resources.memory:
        argv += ["--memory", job.resources.memory]
    if job.resources.cpus:
        argv += ["--cpus", str(job.resources.cpus)]
    argv += ["--pids-limit", str(job.resources.pids or 512)]
    for name, _ in job.env:
        argv += ["-e", name]
    for name in job.secrets:
        argv += ["-e", name]
    argv.append(job.image or "")
    argv += list(job.command)
    return {"name": f"Run {job.image}", "run": shlex.join(argv)}


def _pipeline_steps(
    job: JobSpec, job_env: dict[str, str]
) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, str]]:
    source = job.source
    if job.auth == "host-login":
        raise Refused(
            "auth: host-login copies this machine's Claude login; a GitHub runner has none "
            "(use oauth-token with a CLAUDE_CODE_OAUTH_TOKEN secret, or api-key)"
        )
    inputs: dict[str, Any] = {"prompt": _prompt(job)}
    if job.auth == "api-key":
        inputs["anthropic_api_key"] = _secret("ANTHROPIC_API_KEY")
    else:
        inputs["claude_code_oauth_token"] = _secret("CLAUDE_CODE_OAUTH_TOKEN")
    inputs["github_token"] = _secret("GITHUB_TOKEN")
    if job.model:
        inputs["claude_args"] = f"--model {shlex.quote(job.model)}"
    checkout: dict[str, Any] = {"uses": CHECKOUT_ACTION}
    if source is not None:
        checkout["with"] = {"ref": source.branch}
    permissions = {
        "contents": "write",
        "pull-requests": "write",
        "id-token": "write",
    }
    job_env.pop("GITHUB_TOKEN", None)  # GitHub's own token is handed to the action instead
    steps = [checkout, {"uses": CLAUDE_ACTION, "with": inputs}]
    return permissions, steps, job_env


def _prompt(job: JobSpec) -> str:
    branch = job.source.branch if job.source else "main"
    lines = [job.description or job.name, ""]
    lines.append(
        f"Follow the Agent Pipeline .agent-pipeline/pipelines/{job.pipeline}.yml of this "
        f"repository stage by stage on this checkout of {branch}. Commit what you change to a "
        f"new branch and open a pull request against {branch} describing it."
    )
    return "\n".join(lines)


def _header(job: JobSpec) -> str:
    where = f" ({job.path})" if job.path else ""
    return (
        f"# Generated by `oven export github-actions {job.id}` from the Agent Oven job "
        f"{job.id}{where}.\n"
        "# Put it in .github/workflows/ of the repository it should run in.\n"
    )


def _comments(warnings: list[str]) -> str:
    return "".join(f"# warning: {w}\n" for w in warnings)
