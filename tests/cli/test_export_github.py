"""`oven export github-actions`: UTC cron from oven's own DST rules, refusals, a valid workflow.

The pure conversion is checked against the fire times oven computes (``fires_between``) over a
year: a zone without DST converts exactly; with DST the UTC cron gives the job's times in one
part of the year and times an hour off in the other, which the warning says. The printed
workflows pass actionlint or GitHub's workflow schema (``support.ghworkflow``).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.ghworkflow import check_workflow, lint_workflow

from reconciler.cli import Context, main
from reconciler.export.github import github_actions
from reconciler.export.utccron import Refused, UtcCron, utc_cron
from reconciler.manifests import parse_job
from reconciler.model import JobSpec, Schedule
from reconciler.schedule.fires import fires_between
from reconciler.schedule.parse import zone_named

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def job(text: str) -> JobSpec:
    spec, problems = parse_job("jobs/x.yaml", text.encode())
    assert spec is not None and not problems, problems
    return spec


DOCKER = """\
id: nightly
name: Nightly
type: docker
image: alpine:3.20
command: ["sh", "-c", "echo $GREETING"]
env: {GREETING: hi}
secrets: [API_TOKEN]
schedule: {type: cron, cron: "0 2 * * *", timezone: America/Los_Angeles}
resources: {timeout: 90, memory: 64m, cpus: 0.5}
"""

PIPELINE = """\
id: review
name: Review
type: agent-pipeline
description: Reviews the day's commits.
source: {repo: "https://github.com/myorg/myapp.git", branch: develop, secret: GITHUB_TOKEN}
pipeline: post-commit-example
auth: oauth-token
model: opus
schedule: {type: cron, cron: "0 6 * * 1", timezone: Asia/Tokyo}
resources: {timeout: 1800}
"""


def fires(expr: str, zone: str) -> list[datetime]:
    return fires_between(Schedule("cron", cron=expr, timezone=zone), NOW, NOW + timedelta(days=366))


# -- the cron conversion, against oven's own fire times ----------------------------------
@pytest.mark.parametrize(
    ("cron", "zone", "expected"),
    [
        ("0 2 * * 1", "Asia/Tokyo", "0 17 * * 0"),  # the day moves back with the hour
        ("0 9 * * *", "Asia/Kolkata", "30 3 * * *"),  # a half-hour offset
        ("0 9 1 * *", "Asia/Tokyo", "0 0 1 * *"),
        ("15 8 * * 1-5", "UTC", "15 8 * * 1-5"),  # UTC: the manifest's own cron
    ],
)
def test_a_zone_without_dst_converts_exactly(cron: str, zone: str, expected: str) -> None:
    found = utc_cron(cron, zone, NOW)
    assert found.expr == expected and found.warning is None
    assert fires(found.expr, "UTC") == fires(cron, zone)


def test_dst_keeps_the_summer_times_and_says_winter_runs_an_hour_early() -> None:
    found = utc_cron("0 2 * * *", "America/Los_Angeles", NOW)
    assert found.expr == "0 9 * * *"
    assert found.warning is not None
    assert "UTC-07:00" in found.warning and "1 hour(s) earlier" in found.warning
    zone = zone_named("America/Los_Angeles")
    ours = fires(found.expr, "UTC")
    local_hours = {t.astimezone(zone).hour for t in ours}
    assert local_hours == {1, 2}  # 02:00 under PDT, 01:00 under PST
    at_two = [t for t in fires("0 2 * * *", "America/Los_Angeles") if t.astimezone(zone).hour == 2]
    pdt = [t for t in at_two if t.astimezone(zone).dst()]
    assert pdt and set(pdt) <= set(ours)
    # the day 02:00 does not exist (2027-03-14) oven runs at 03:00 PDT, GitHub at 01:00 PST
    assert datetime(2027, 3, 14, 10, tzinfo=UTC) not in ours


def test_every_fifteen_minutes_is_not_moved_by_dst() -> None:
    found = utc_cron("*/15 * * * *", "Europe/Berlin", NOW)
    assert found == UtcCron("*/15 * * * *")


def test_working_hours_move_with_dst() -> None:
    found = utc_cron("*/30 9-17 * * 1-5", "Europe/Berlin", NOW)
    assert found.expr == "0,30 7,8,9,10,11,12,13,14,15 * * 1,2,3,4,5"
    assert found.warning and "UTC+01:00 they run 1 hour(s) earlier" in found.warning


def test_a_cron_whose_days_split_in_utc_is_refused() -> None:
    with pytest.raises(Refused, match="no single UTC cron"):
        utc_cron("0 0,23 * * 1", "Europe/Berlin", NOW)


# -- the workflow ---------------------------------------------------------------------------
def workflow(text: str) -> dict[str, Any]:
    result = github_actions(job(text), NOW)
    assert not result.refusals, result.refusals
    data: dict[str, Any] = yaml.safe_load(result.text)
    data["on"] = data.pop(True)  # `on:` is YAML 1.1's true; GitHub reads it as the key "on"
    return data


def test_a_docker_job_is_a_docker_run_step_with_least_privilege() -> None:
    data = workflow(DOCKER)
    assert data["on"] == {"schedule": [{"cron": "0 9 * * *"}], "workflow_dispatch": {}}
    assert data["permissions"] == {"contents": "read"}
    assert data["concurrency"] == {"group": "oven-nightly", "cancel-in-progress": False}
    gh_job = data["jobs"]["nightly"]
    assert gh_job["timeout-minutes"] == 2
    assert gh_job["env"] == {"GREETING": "hi", "API_TOKEN": "${{ secrets.API_TOKEN }}"}
    (step,) = gh_job["steps"]
    assert step["run"].startswith("docker run --rm --cap-drop ALL")
    assert "--memory 64m --cpus 0.5" in step["run"]
    assert "-e GREETING -e API_TOKEN alpine:3.20 sh -c 'echo $GREETING'" in step["run"]


def test_the_dst_warning_is_a_comment_in_the_file() -> None:
    result = github_actions(job(DOCKER), NOW)
    assert any("daylight saving" in w for w in result.warnings)
    assert "# warning: daylight saving time moves this schedule" in result.text


def test_an_agent_pipeline_job_uses_claude_code_action_with_the_model_in_claude_args() -> None:
    data = workflow(PIPELINE)
    assert data["on"]["schedule"] == [{"cron": "0 21 * * 0"}]
    assert data["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "id-token": "write",
    }
    checkout, action = data["jobs"]["review"]["steps"]
    assert checkout == {"uses": "actions/checkout@v4", "with": {"ref": "develop"}}
    assert action["uses"] == "anthropics/claude-code-action@v1"
    inputs = action["with"]
    assert "model" not in inputs and inputs["claude_args"] == "--model opus"
    assert inputs["claude_code_oauth_token"] == "${{ secrets.CLAUDE_CODE_OAUTH_TOKEN }}"
    assert inputs["github_token"] == "${{ secrets.GITHUB_TOKEN }}"
    assert "post-commit-example" in inputs["prompt"]
    assert data["jobs"]["review"]["timeout-minutes"] == 30


def test_api_key_auth_passes_the_api_key_secret() -> None:
    inputs = workflow(PIPELINE.replace("oauth-token", "api-key"))["jobs"]["review"]["steps"][1]
    assert inputs["with"]["anthropic_api_key"] == "${{ secrets.ANTHROPIC_API_KEY }}"
    assert "claude_code_oauth_token" not in inputs["with"]


def test_interval_and_manual_and_replace() -> None:
    every = DOCKER.replace(
        'schedule: {type: cron, cron: "0 2 * * *", timezone: America/Los_Angeles}',
        "schedule: {type: interval, every: 2h}\npolicy: {concurrency: replace}",
    )
    data = workflow(every)
    assert data["on"]["schedule"] == [{"cron": "0 */2 * * *"}]
    assert data["concurrency"]["cancel-in-progress"] is True
    manual = DOCKER.replace(
        'schedule: {type: cron, cron: "0 2 * * *", timezone: America/Los_Angeles}',
        "schedule: {type: manual}\npolicy: {concurrency: allow}",
    )
    data = workflow(manual)
    assert data["on"] == {"workflow_dispatch": {}} and "concurrency" not in data


REFUSALS = [
    ("{type: interval, every: 1m}", "shorter than GitHub's shortest schedule, 5 minutes"),
    ("{type: interval, every: 7m}", "not a divisor of an hour or a day"),
    ('{type: cron, cron: "*/2 * * * *"}', "2 minute(s) apart"),
    ('{type: once, at: "2026-01-01T00:00:00Z"}', "is in the past"),
]


@pytest.mark.parametrize(("schedule", "reason"), REFUSALS)
def test_what_github_cannot_schedule_is_refused_with_a_reason(schedule: str, reason: str) -> None:
    text = DOCKER.replace(
        '{type: cron, cron: "0 2 * * *", timezone: America/Los_Angeles}', schedule
    )
    result = github_actions(job(text), NOW)
    assert result.text == ""
    assert [r for r in result.refusals if reason in r], result.refusals


def test_missed_all_and_host_login_are_refused_each_with_its_reason() -> None:
    text = PIPELINE.replace("auth: oauth-token", "auth: host-login") + "policy: {missed: all}\n"
    result = github_actions(job(text), NOW)
    assert result.text == "" and len(result.refusals) == 2
    assert result.refusals[0].startswith("policy.missed: all")
    assert result.refusals[1].startswith("auth: host-login")


# -- the command, and GitHub's view of its output ------------------------------------------
def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Context(stdout=out, stderr=err, env={}))
    return code, out.getvalue(), err.getvalue()


def test_the_command_prints_the_workflow_and_warns_on_stderr(tmp_path: Path) -> None:
    manifest = tmp_path / "nightly.yaml"
    manifest.write_text(DOCKER)
    code, out, err = run("export", "github-actions", str(manifest), "--now", "2026-12-01")
    assert code == 0
    assert yaml.safe_load(out)["jobs"]["nightly"]["timeout-minutes"] == 2
    assert "warning: daylight saving time moves this schedule" in err


def test_the_command_refuses_with_exit_1_and_a_line_per_reason(tmp_path: Path) -> None:
    manifest = tmp_path / "fast.yaml"
    manifest.write_text(DOCKER.replace("0 2 * * *", "* * * * *") + "policy: {missed: all}\n")
    code, out, err = run("export", "github-actions", str(manifest), "--now", "2026-12-01")
    assert code == 1 and out == ""
    refused = [line for line in err.splitlines() if line.startswith("refused: ")]
    assert len(refused) == 2, err
    assert err.rstrip().endswith("error: job nightly cannot run on GitHub Actions as written")


def test_a_job_id_is_found_in_the_repo_with_its_defaults() -> None:
    code, out, _ = run(
        "export", "github-actions", "manual-report", "--repo", str(ROOT / "config-example")
    )
    assert code == 0
    assert "--memory 256m" in yaml.safe_load(out)["jobs"]["manual-report"]["steps"][0]["run"]


@pytest.mark.parametrize("text", [DOCKER, PIPELINE], ids=["docker", "agent-pipeline"])
def test_exported_workflows_pass_githubs_workflow_check(tmp_path: Path, text: str) -> None:
    path = tmp_path / "workflow.yml"
    path.write_text(github_actions(job(text), NOW).text)
    check_workflow(path)


def test_the_workflow_check_fails_a_broken_workflow(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    data = workflow(DOCKER)
    data["jobs"]["nightly"]["timeout-minutes"] = "soon"
    data["jobs"]["nightly"]["runs_on"] = data["jobs"]["nightly"].pop("runs-on")
    path.write_text(yaml.safe_dump(data))
    assert lint_workflow(path).returncode != 0
