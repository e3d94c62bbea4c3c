"""A job as a GitHub Actions workflow (``oven export github-actions JOB``).

Pure: a ``JobSpec`` and a time in, the workflow text, warnings and refusals out. GitHub runs
``schedule`` crons in UTC, at most every 5 minutes, from the default branch, and may delay or
drop runs; what a job asks for that GitHub cannot do is refused with a reason each, what it
does differently is a warning (a comment in the file and a line on stderr).

Cron in a zone other than UTC: the job's wall-clock fire times over a year ahead are mapped to
UTC with each offset the zone has in that year; when one UTC cron gives exactly those times
under an offset it is used, and when the zone has more than one offset (daylight saving) the
warning says at what local time the runs happen in the other part of the year.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from reconciler.model import JobSpec, Schedule
from reconciler.schedule.cron import wall_next
from reconciler.schedule.fires import fires_between
from reconciler.schedule.parse import cron_fields, zone_named

MIN_INTERVAL = timedelta(minutes=5)  # GitHub runs a schedule at most every 5 minutes
YEAR = timedelta(days=366)
DEFAULT_TIMEOUT_MINUTES = 360  # GitHub's own limit for a job on its hosted runners
CLAUDE_ACTION = "anthropics/claude-code-action@v1"
CHECKOUT_ACTION = "actions/checkout@v4"


@dataclass(frozen=True)
class Export:
    """The workflow file (empty when refused), its warnings and the reasons it was refused."""

    text: str
    warnings: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()


@dataclass(frozen=True)
class UtcCron:
    expr: str
    warning: str | None = None


class Refused(Exception):
    """One thing GitHub cannot do for this job."""


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
    if schedule.type == "manual":
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


def utc_cron(text: str, timezone: str, now: datetime) -> UtcCron:
    """One UTC cron for the cron ``text`` in ``timezone``, with a warning when DST moves it.

    Computes the fire times of a year from ``now`` and tries each UTC offset the zone has in
    that year; ``Refused`` when no single UTC cron gives the job's wall times under any of them.
    """
    expr = cron_fields(text)
    zone = zone_named(timezone)
    start = now.astimezone(UTC)

    schedule = Schedule("cron", cron=expr, timezone=timezone)
    _minutes_apart(fires_between(schedule, start, start + YEAR, limit=2000), text)
    if expr.split()[1:] == ["*"] * 4 and _whole_hours(zone, start):
        return UtcCron(expr)  # every hour of every day: an offset of whole hours moves nothing
    fires = fires_between(schedule, start, start + YEAR)
    if not fires:
        raise Refused(f"schedule.cron: {text!r} does not fire in the coming year")
    _minutes_apart(fires, text)
    offsets: dict[timedelta, int] = {}
    for fire in fires:
        offset = fire.astimezone(zone).utcoffset() or timedelta(0)
        offsets[offset] = offsets.get(offset, 0) + 1
    local_start = start.astimezone(zone).replace(tzinfo=None)
    walls = _walls(expr, local_start, local_start + YEAR)
    # the offset most of the year's runs happen under first
    if set(offsets) == {timedelta(0)}:
        return UtcCron(expr)  # UTC all year: the manifest's own cron
    for offset in sorted(offsets, key=lambda o: -offsets[o]):
        shifted = [w - offset for w in walls]
        candidate = _candidate(expr, shifted)
        if candidate and _walls(candidate, shifted[0], shifted[-1], inclusive=True) == shifted:
            if _same_instants(shifted, fires):
                return UtcCron(candidate)
            return UtcCron(candidate, _dst_warning(text, timezone, zone, offset, offsets))
    raise Refused(
        f"schedule.cron: {text!r} in {timezone} is no single UTC cron (its days change "
        "with the hour in UTC); split it into several jobs or use timezone: UTC"
    )


def _whole_hours(zone: ZoneInfo, start: datetime) -> bool:
    """Whether every UTC offset ``zone`` has in the year from ``start`` is whole hours."""
    days = (start + timedelta(days=d) for d in range(367))
    return all(
        (day.astimezone(zone).utcoffset() or timedelta(0)) % timedelta(hours=1) == timedelta(0)
        for day in days
    )


def _same_instants(shifted: list[datetime], fires: list[datetime]) -> bool:
    """Whether the UTC cron's times are the job's own, away from the ends of the year."""
    low, high = fires[0] + timedelta(days=2), fires[-1] - timedelta(days=2)
    utc_fires = {f.replace(tzinfo=None) for f in fires if low <= f <= high}
    ours = {s for s in shifted if low.replace(tzinfo=None) <= s <= high.replace(tzinfo=None)}
    return ours == utc_fires


def _minutes_apart(fires: list[datetime], text: str) -> None:
    gaps = [b - a for a, b in zip(fires, fires[1:], strict=False)]
    if gaps and min(gaps) < MIN_INTERVAL:
        raise Refused(
            f"schedule.cron: {text!r} fires {int(min(gaps).total_seconds() // 60)} minute(s) "
            "apart; GitHub runs a schedule at most every 5 minutes"
        )


def _walls(expr: str, low: datetime, high: datetime, inclusive: bool = False) -> list[datetime]:
    """Naive wall times matching ``expr`` from ``low`` up to ``high``."""
    found: list[datetime] = []
    wall = wall_next(expr, low, inclusive)
    while wall is not None and (wall < high or (inclusive and wall == high)):
        found.append(wall)
        wall = wall_next(expr, wall, False)
    return found


def _candidate(expr: str, times: list[datetime]) -> str | None:
    """A cron whose fields are the values ``times`` take, where ``expr`` restricts them."""
    if not times:
        return None
    _, _, dom, month, dow = expr.split()

    def field(values: set[int], keep_star: bool) -> str:
        return "*" if keep_star else ",".join(str(v) for v in sorted(values))

    minutes = {t.minute for t in times}
    hours = {t.hour for t in times}
    return " ".join(
        [
            field(minutes, False),
            field(hours, len(hours) == 24),
            field({t.day for t in times}, dom == "*"),
            field({t.month for t in times}, month == "*"),
            field({(t.weekday() + 1) % 7 for t in times}, dow == "*"),
        ]
    )


def _dst_warning(
    text: str, timezone: str, zone: ZoneInfo, used: timedelta, offsets: dict[timedelta, int]
) -> str | None:
    others = sorted(o for o in offsets if o != used)
    if not others:
        return None
    moves = "; ".join(
        f"while {timezone} is at UTC{_signed(o)} they run {_hours(o - used)} in local time"
        for o in others
    )
    return (
        f"daylight saving time moves this schedule: GitHub runs cron in UTC, so the UTC cron "
        f"gives the local times of {text!r} only while {timezone} is at UTC{_signed(used)}; "
        f"{moves}"
    )


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    amount = f"{abs(minutes) // 60} hour(s)" if minutes % 60 == 0 else f"{abs(minutes)} minutes"
    return f"{amount} {'later' if minutes > 0 else 'earlier'}"


def _signed(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


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
